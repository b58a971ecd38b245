"""Gradescope's results.json from `faultlang test` outcomes.

Format: https://gradescope-autograders.readthedocs.io/en/latest/specs/ — a top-level
score and a list of tests, each with name, score, max_score, status and output. One
test per scenario golden (or per scenario run, when it has no golden) and one per
`expect`, each worth one point, so partial credit follows the checks a student passed.
"""

from __future__ import annotations

from typing import Any, Sequence

from faultlang.course.testcmd import Outcome

MAX_OUTPUT = 8000     # Gradescope shows outputs inline: keep a huge diff readable


def _test(name: str, passed: bool, output: str, number: str) -> dict[str, Any]:
    if len(output) > MAX_OUTPUT:
        output = output[:MAX_OUTPUT] + "\n… (output truncated)\n"
    return {"name": name, "number": number, "score": 1.0 if passed else 0.0,
            "max_score": 1.0, "status": "passed" if passed else "failed",
            "output": output, "visibility": "visible"}


def results(outcomes: Sequence[Outcome], execution_time: float = 0.0) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    for i, out in enumerate(outcomes, 1):
        if out.error is not None:
            tests.append(_test(f"{out.name}: runs", False, out.error, f"{i}"))
            continue
        if out.golden_status in ("match", "mismatch", "updated"):
            passed = out.golden_status != "mismatch"
            detail = out.diff or "output matches the golden\n"
            tests.append(_test(f"{out.name}: golden output", passed, detail, f"{i}.0"))
        else:
            tests.append(_test(f"{out.name}: runs", True,
                               f"no golden ({out.golden_status})\n", f"{i}.0"))
        for j, exp in enumerate(out.expects, 1):
            detail = (f"line {exp['line']}: {exp['text']}\n"
                      f"expected: {exp['expected']}\nactual:   {exp['actual']}\n")
            tests.append(_test(f"{out.name}: line {exp['line']}: {exp['text']}",
                               bool(exp["ok"]), detail, f"{i}.{j}"))
    score = sum(t["score"] for t in tests)
    passed = sum(t["status"] == "passed" for t in tests)
    return {"score": score, "max_score": float(len(tests)),
            "execution_time": round(execution_time, 3),
            "output": f"{passed} of {len(tests)} checks passed "
                      f"in {len(outcomes)} scenarios\n",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
