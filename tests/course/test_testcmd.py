"""`faultlang test`: goldens, diffs, --update, stale and missing goldens, JSON,
Gradescope, --filter, --list, -j, and the exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path

from typing import Any


def test_a_course_whose_goldens_match_passes(course: Path, faultlang: Any) -> None:
    done = faultlang("test", "scenarios", cwd=course)
    assert done.returncode == 0, done.stdout
    assert "3 scenarios: 3 passed" in done.stdout
    assert (course / "scenarios/hw1/first-touch.out").read_text().count(
        "scenario  scenarios/hw1/first-touch.fault") == 1


def test_a_changed_output_shows_a_unified_diff_and_exits_1(course: Path, faultlang: Any) -> None:
    golden = course / "scenarios/hw1/first-touch.out"
    golden.write_text(golden.read_text().replace("4× minor", "3× minor"))
    done = faultlang("test", "scenarios", cwd=course)
    assert done.returncode == 1
    assert "FAIL  scenarios/hw1/first-touch.fault" in done.stdout
    assert "-  steps 1–4" in done.stdout and "+  steps 1–4" in done.stdout
    assert faultlang("test", "scenarios", "--update", cwd=course).returncode == 0
    assert faultlang("test", "scenarios", cwd=course).returncode == 0


def test_a_failed_expect_exits_1_and_names_the_line(course: Path, faultlang: Any) -> None:
    path = course / "scenarios/hw1/first-touch.fault"
    path.write_text(path.read_text().replace("== 4", "== 5"))
    done = faultlang("test", "scenarios", "--update", cwd=course)
    assert done.returncode == 1
    assert "line 4: expect delta minflt == 5  expected" in done.stdout


def test_a_scenario_error_exits_2(course: Path, faultlang: Any) -> None:
    (course / "scenarios/bad.fault").write_text("wirte a[0]\n")
    done = faultlang("test", "scenarios", cwd=course)
    assert done.returncode == 2
    assert "ERROR scenarios/bad.fault" in done.stdout and "wirte" in done.stdout


def test_missing_and_stale_goldens_are_listed_by_name(course: Path, faultlang: Any) -> None:
    (course / "scenarios/hw2/new.fault").write_text("map a anon size 4K\nread a[0]\n")
    (course / "scenarios/hw2/old.out").write_text("gone\n")
    done = faultlang("test", "scenarios", cwd=course)
    assert done.returncode == 0
    assert "missing golden: scenarios/hw2/new.fault" in done.stdout
    assert "stale golden: scenarios/hw2/old.out" in done.stdout


def test_no_scenarios_or_no_path_is_a_usage_error(tmp_path: Path, faultlang: Any) -> None:
    assert faultlang("test", str(tmp_path), cwd=tmp_path).returncode == 2
    assert faultlang("test", "nowhere", cwd=tmp_path).returncode == 2


def test_filter_list_and_parallel_jobs(course: Path, faultlang: Any) -> None:
    listed = faultlang("test", "scenarios", "--list", "--filter", "hw1", cwd=course)
    assert listed.stdout.split() == ["scenarios/hw1/first-touch.fault",
                                     "scenarios/hw1/zero-page.fault"]
    globbed = faultlang("test", "scenarios", "--list", "-k", "*fork*", cwd=course)
    assert globbed.stdout.split() == ["scenarios/hw2/fork.fault"]
    done = faultlang("test", "scenarios", "-j", "2", "--json", cwd=course)
    data = json.loads(done.stdout)
    assert done.returncode == 0 and data["ok"] and data["summary"]["pass"] == 3
    assert [s["name"] for s in data["scenarios"]] == [
        "scenarios/hw1/first-touch.fault", "scenarios/hw1/zero-page.fault",
        "scenarios/hw2/fork.fault"]


def test_gradescope_results_have_a_test_per_golden_and_per_expect(course: Path, faultlang: Any) -> None:
    path = course / "scenarios/hw1/zero-page.fault"
    path.write_text(path.read_text().replace("rss == 0", "rss == 2"))
    done = faultlang("test", "scenarios", "--gradescope", "results.json", cwd=course)
    assert done.returncode == 1
    results = json.loads((course / "results.json").read_text())
    names = [t["name"] for t in results["tests"]]
    assert len(names) == 3 + 4          # 3 goldens + 4 expects
    assert "scenarios/hw1/zero-page.fault: line 5: expect rss == 2" in names
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    # The golden records "ok" for that expect, so the output differs too.
    assert [t["name"] for t in failed] == ["scenarios/hw1/zero-page.fault: golden output",
                                           "scenarios/hw1/zero-page.fault: line 5: expect rss == 2"]
    assert results["score"] == 5.0 and results["max_score"] == 7.0
    assert all(set(t) >= {"score", "max_score", "output"} for t in results["tests"])


def test_a_yaml_twin_is_checked_without_a_golden_of_its_own(course: Path, faultlang: Any) -> None:
    (course / "scenarios/hw1/first-touch.yaml").write_text(
        'title: "first touch"\nsteps:\n  - map: {name: a, kind: anon, size: 16K}\n'
        "  - write: a[*]\n  - expect: {delta: true, minflt: 4}\n")
    done = faultlang("test", "scenarios", cwd=course)
    assert done.returncode == 0, done.stdout
    assert "missing golden" not in done.stdout
