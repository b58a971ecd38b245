"""The command line: exit codes, JSON shape (spec section 12), determinism, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from faultlang.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def scenario(tmp_path):
    def write(text: str, name: str = "s.fault") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


def test_run_exits_0_when_every_expect_holds(scenario, capsys):
    assert main(["run", scenario("map a anon size 8K\nwrite a[*]\nexpect minflt == 2\n")]) == 0


def test_run_exits_1_and_shows_expected_and_actual_when_an_expect_fails(scenario, capsys):
    assert main(["run", scenario("map a anon size 8K\nwrite a[*]\nexpect minflt == 3\n")]) == 1
    out = capsys.readouterr().out
    assert "expected 3" in out and "actual 2" in out and "line 3" in out


def test_run_exits_2_with_a_located_error_for_bad_input(scenario, capsys):
    assert main(["run", scenario("map a anon size 8K\nwirte a[0]\n")]) == 2
    err = capsys.readouterr().err
    assert "s.fault:2:1" in err and "^" in err and "write" in err and "Traceback" not in err


def test_missing_file_is_exit_2(capsys):
    assert main(["run", "/nonexistent/x.fault"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_unsupported_statement_is_refused_not_ignored(scenario, capsys, monkeypatch):
    # every statement is simulated today: pretend `truncate` is not, to see the refusal
    from faultlang.lang import ast
    from faultlang.runtime import support
    monkeypatch.setitem(support._BY_TYPE, ast.Truncate, "truncation (issue 99)")
    assert main(["check", scenario("file f size 8K\ntruncate f 4K\n")]) == 2
    assert "not simulated yet" in capsys.readouterr().err


def test_dax_files_are_simulated(scenario, capsys):
    assert main(["check", scenario("file f size 8K on ext4 dax\n")]) == 0


def test_step_limit_stops_a_huge_range_with_a_clear_error(scenario, capsys):
    assert main(["run", "--max-steps", "1000", scenario("map a anon size 1T\nwrite a[*]\n")]) == 2
    err = capsys.readouterr().err
    assert "1,000 page operations" in err and ":2:1" in err


@pytest.mark.parametrize("text, line", [
    ("file d size 1T on ext4 dax\n", 1),                       # every block allocated
    ("map a anon size 1T\nmap b anon size 1T\nuffd register a[*] missing\n"
     "uffd register b[*] missing\nuffd move a[*] to b[*] allow_src_holes\n", 5),
    ("map a anon size 1T\nuffd register a[*] missing\nuffd zeropage a[*]\n", 3),
])
def test_step_limit_bounds_statements_that_walk_every_page(scenario, capsys, text, line):
    assert main(["run", "--max-steps", "1000", scenario(text)]) == 2
    err = capsys.readouterr().err
    assert "1,000 page operations" in err and f":{line}:1" in err


def test_json_has_the_keys_of_spec_section_12(scenario, capsys):
    main(["run", "--json", scenario("map a anon size 8K\nwrite a[*]\nfork c\n"
                                    "as c: write a[0]\nexpect c.minflt == 1\n")])
    data = json.loads(capsys.readouterr().out)
    assert {"scenario", "ok", "steps", "processes", "vmstat", "expects"} <= set(data)
    step = data["steps"][-1]
    assert step["process"] == "c" and step["op"] == "write" and step["outcome"] == "minor"
    assert step["address"].startswith("0x7f") and step["error_code"] == "0x7"
    assert "wp_page_copy" in step["path"]
    assert data["processes"]["c"] == {"minflt": 1, "majflt": 0, "rss": 2, "swap": 0,
                                      "page_faults": 1, "alive": True}
    assert data["vmstat"]["pgfault"] == 3
    assert data["expects"] == [{"line": 5, "ok": True, "text": "expect c.minflt == 1",
                                "expected": 1, "actual": 1}]


def test_output_is_byte_identical_across_runs_and_colourless_when_piped(scenario):
    path = scenario("map a anon size 64K\nread a[*]\nwrite a[3]\nshow pagetable\nshow path last\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", PYTHONHASHSEED="1")
    cmd = [sys.executable, "-m", "faultlang", "run", path]
    first = subprocess.run(cmd, capture_output=True, env=env).stdout
    env["PYTHONHASHSEED"] = "2"
    second = subprocess.run(cmd, capture_output=True, env=env).stdout
    assert first == second and b"\x1b[" not in first
    assert max(len(line) for line in first.decode().splitlines()) <= 100
