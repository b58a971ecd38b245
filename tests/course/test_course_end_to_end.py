"""End to end, as an instructor grades a hand-in: a course repository with three
scenarios and their goldens, one of them changed by the student, graded by `pytest`
(the plugin from its pytest11 entry point, in a subprocess) and by `faultlang test
--gradescope` — and the two graders agree check by check."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

# The student moved the write out of the child: the parent's page now holds 2, so the
# golden differs and `expect value a[0] == 1` (line 6) fails. The other two scenarios
# are handed in as the instructor wrote them.
HAND_IN = ("title \"fork\"\nmap a anon size 8K\nwrite a[*] = 1\nfork child\n"
           "write a[0] = 2\nexpect value a[0] == 1\n")
CHECKS = [  # (scenario, pytest item, Gradescope test name, passes)
    ("scenarios/hw1/first-touch.fault", "golden", "golden output", True),
    ("scenarios/hw1/first-touch.fault", "line 4", "line 4: expect delta minflt == 4", True),
    ("scenarios/hw1/zero-page.fault", "golden", "golden output", True),
    ("scenarios/hw1/zero-page.fault", "line 4", "line 4: expect state b[0] == zero", True),
    ("scenarios/hw1/zero-page.fault", "line 5", "line 5: expect rss == 0", True),
    ("scenarios/hw2/fork.fault", "golden", "golden output", False),
    ("scenarios/hw2/fork.fault", "line 6", "line 6: expect value a[0] == 1", False),
]


def junit_outcomes(path: Path) -> dict[tuple[str, str], bool]:
    """(scenario, item) → passed, from pytest's JUnit XML."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        scenario = case.get("classname", "").replace(".", "/").replace("/fault", ".fault")
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[(scenario, case.get("name", ""))] = not failed
    return outcomes


def test_a_hand_in_is_graded_alike_by_pytest_and_by_gradescope(
        course: Path, faultlang: Any, run_pytest: Any) -> None:
    (course / "scenarios/hw2/fork.fault").write_text(HAND_IN)

    tested = run_pytest("scenarios", "--junitxml=junit.xml", cwd=course)
    assert tested.returncode == 1, tested.stdout + tested.stderr
    assert "1 failed" not in tested.stdout and "2 failed, 5 passed" in tested.stdout
    assert junit_outcomes(course / "junit.xml") == {(s, item): ok for s, item, _, ok in CHECKS}
    # Readable reports: the diff against the golden and the failed expect, no traceback.
    assert "-line 5: as child: write a[0] = 2" in tested.stdout
    assert "+line 5: write a[0] = 2" in tested.stdout
    assert "line 6: expect value a[0] == 1  FAILED: expected 1, got 2" in tested.stdout
    assert "Traceback" not in tested.stdout

    graded = faultlang("test", "scenarios", "--gradescope", "results.json", cwd=course)
    assert graded.returncode == 1
    results = json.loads((course / "results.json").read_text())
    assert set(results) == {"score", "max_score", "execution_time", "output", "visibility",
                            "stdout_visibility", "tests"}
    assert results["score"] == 5.0 and results["max_score"] == 7.0
    assert isinstance(results["execution_time"], float) and results["execution_time"] >= 0
    assert results["output"] == "5 of 7 checks passed in 3 scenarios\n"
    assert results["visibility"] == "visible" and results["stdout_visibility"] == "hidden"
    tests = results["tests"]
    assert [(t["name"], t["status"]) for t in tests] == [
        (f"{s}: {name}", "passed" if ok else "failed") for s, _, name, ok in CHECKS]
    assert [t["number"] for t in tests] == ["1.0", "1.1", "2.0", "2.1", "2.2", "3.0", "3.1"]
    for test, (_, _, _, ok) in zip(tests, CHECKS):
        assert set(test) == {"name", "number", "score", "max_score", "status", "output",
                             "visibility"}
        assert test["max_score"] == 1.0 and test["score"] == (1.0 if ok else 0.0)
        assert test["visibility"] == "visible" and test["output"].endswith("\n")
    assert tests[0]["output"] == "output matches the golden\n"
    assert tests[1]["output"] == ("line 4: expect delta minflt == 4\n"
                                  "expected: 4\nactual:   4\n")
    assert tests[5]["output"].startswith("--- scenarios/hw2/fork.out (golden)\n"
                                         "+++ scenarios/hw2/fork.out (actual)\n@@")
    assert "+line 5: write a[0] = 2\n" in tests[5]["output"]
    assert tests[6]["output"] == ("line 6: expect value a[0] == 1\n"
                                  "expected: 1\nactual:   2\n")
