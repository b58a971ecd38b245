"""The pytest plugin grades a course repository, and stays out of this repository's
own test runs unless asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_pytest_grades_a_course_by_golden_and_by_expect(course: Path, run_pytest: Any) -> None:
    done = run_pytest("scenarios", "-rA", cwd=course)
    assert done.returncode == 0, done.stdout
    assert "PASSED scenarios/hw1/first-touch.fault::golden" in done.stdout
    assert "PASSED scenarios/hw1/zero-page.fault::line 5" in done.stdout
    assert "7 passed" in done.stdout


def test_failures_show_the_diff_and_the_failed_expect(course: Path, run_pytest: Any) -> None:
    path = course / "scenarios/hw2/fork.fault"
    path.write_text(path.read_text().replace("a[0] == 1", "a[0] == 3"))
    done = run_pytest("scenarios", cwd=course)
    assert done.returncode == 1
    assert "line 6: expect value a[0] == 3  FAILED: expected 3, got 1" in done.stdout
    assert "@@" in done.stdout and "(golden)" in done.stdout
    assert "Traceback" not in done.stdout
    assert run_pytest("scenarios", "--faultlang-update", cwd=course).returncode == 1
    # The golden is rewritten; only the expect still fails.
    again = run_pytest("scenarios", cwd=course)
    assert "1 failed, 6 passed" in again.stdout


def test_scenarios_are_collected_only_when_asked(course: Path, run_pytest: Any) -> None:
    (course / "tests").mkdir()
    (course / "tests/test_x.py").write_text("def test_x():\n    pass\n")
    (course / "pytest.ini").write_text("[pytest]\ntestpaths = tests scenarios\n")
    assert "1 passed" in run_pytest(cwd=course).stdout
    (course / "pytest.ini").write_text("[pytest]\nfaultlang_scenarios = true\n")
    assert "8 passed" in run_pytest(cwd=course).stdout


def test_a_scenario_without_golden_is_skipped_and_update_writes_it(course: Path, run_pytest: Any) -> None:
    (course / "scenarios/hw1/first-touch.out").unlink()
    done = run_pytest("scenarios", "-rs", cwd=course)
    assert "no golden scenarios/hw1/first-touch.out" in done.stdout
    run_pytest("scenarios", "--faultlang-update", cwd=course)
    assert (course / "scenarios/hw1/first-touch.out").exists()


def test_pytest_xdist_runs_the_items_when_installed(course: Path, run_pytest: Any) -> None:
    try:
        import xdist  # noqa: F401
    except ImportError:
        import pytest
        pytest.skip("pytest-xdist is not installed")
    done = run_pytest("scenarios", "-n", "2", cwd=course)
    assert done.returncode == 0 and "7 passed" in done.stdout, done.stdout
