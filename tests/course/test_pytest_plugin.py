"""The pytest plugin grades a course repository, and stays out of this repository's
own test runs unless asked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pytest",  # the plugin comes from its pytest11 entry point
                           "-p", "no:cacheprovider", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_pytest_grades_a_course_by_golden_and_by_expect(course: Path) -> None:
    done = pytest_run("scenarios", "-rA", cwd=course)
    assert done.returncode == 0, done.stdout
    assert "PASSED scenarios/hw1/first-touch.fault::golden" in done.stdout
    assert "PASSED scenarios/hw1/zero-page.fault::line 5" in done.stdout
    assert "7 passed" in done.stdout


def test_failures_show_the_diff_and_the_failed_expect(course: Path) -> None:
    path = course / "scenarios/hw2/fork.fault"
    path.write_text(path.read_text().replace("a[0] == 1", "a[0] == 3"))
    done = pytest_run("scenarios", cwd=course)
    assert done.returncode == 1
    assert "line 6: expect value a[0] == 3  FAILED: expected 3, got 1" in done.stdout
    assert "@@" in done.stdout and "(golden)" in done.stdout
    assert "Traceback" not in done.stdout
    assert pytest_run("scenarios", "--faultlang-update", cwd=course).returncode == 1
    # The golden is rewritten; only the expect still fails.
    again = pytest_run("scenarios", cwd=course)
    assert "1 failed, 6 passed" in again.stdout


def test_scenarios_are_collected_only_when_asked(course: Path) -> None:
    (course / "tests").mkdir()
    (course / "tests/test_x.py").write_text("def test_x():\n    pass\n")
    (course / "pytest.ini").write_text("[pytest]\ntestpaths = tests scenarios\n")
    assert "1 passed" in pytest_run(cwd=course).stdout
    (course / "pytest.ini").write_text("[pytest]\nfaultlang_scenarios = true\n")
    assert "8 passed" in pytest_run(cwd=course).stdout


def test_a_scenario_without_golden_is_skipped_and_update_writes_it(course: Path) -> None:
    (course / "scenarios/hw1/first-touch.out").unlink()
    done = pytest_run("scenarios", "-rs", cwd=course)
    assert "no golden scenarios/hw1/first-touch.out" in done.stdout
    pytest_run("scenarios", "--faultlang-update", cwd=course)
    assert (course / "scenarios/hw1/first-touch.out").exists()


def test_faultlang_test_and_pytest_agree_on_the_course(course: Path, faultlang: Any) -> None:
    done = faultlang("test", "scenarios", "--gradescope", "results.json", cwd=course)
    assert done.returncode == 0
    assert pytest_run("scenarios", cwd=course).returncode == 0


def test_pytest_xdist_runs_the_items_when_installed(course: Path) -> None:
    try:
        import xdist  # noqa: F401
    except ImportError:
        import pytest
        pytest.skip("pytest-xdist is not installed")
    done = pytest_run("scenarios", "-n", "2", cwd=course)
    assert done.returncode == 0 and "7 passed" in done.stdout, done.stdout
