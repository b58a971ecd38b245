"""`trace FILE [format lackey|plain]` (runtime/trace.py): formats, the folder rule,
out-of-mapping pages, bounded work, and replay under a textbook policy."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from faultlang.errors import ScenarioError, StepLimitExceeded
from faultlang.lang import parse_text
from faultlang.runtime.runner import Runner
from faultlang.runtime.trace import parse_trace

ROOT = Path(__file__).resolve().parents[2]


def run_in(folder: Path, text: str, max_steps: int = 5_000_000) -> Runner:
    scenario = folder / "s.fault"
    scenario.write_text(text)
    runner = Runner(source_name=str(scenario), max_steps=max_steps)
    stmts = parse_text(text).statements
    runner.script = stmts
    for k, stmt in enumerate(stmts):
        runner.script_pos = k
        runner.execute(stmt)
    return runner


def test_lackey_parse_runs_and_page_crossing():
    text = "I  04000ff0,3\nI  04000ff3,3\n L 04000ffe,4\n S 1fff000000,8\n M 1fff000000,8\n"
    runs = parse_trace(text, "lackey")
    page = 0x4000000 >> 12
    assert runs == [(page << 2 | 2, 2), (page << 2 | 0, 1), ((page + 1) << 2 | 0, 1),
                    ((0x1fff000000 >> 12) << 2 | 1, 2)]


def test_plain_format_is_detected():
    assert parse_trace("R 0x1000\nW 4096\nw 0x2000\n", None) == [(1 << 2, 1), (1 << 2 | 1, 1),
                                                                (2 << 2 | 1, 1)]


def test_plain_trace_replays_and_counts_every_access_as_a_step(tmp_path):
    (tmp_path / "t.txt").write_text("W 0x10000000\nR 0x10000008\nR 0x10001000\nR 0x10000000\n")
    runner = run_in(tmp_path, "map a anon size 64K at 0x10000000\ntrace t.txt\n")
    machine = runner.machine
    assert machine.step == 4
    assert [s.outcome for s in machine.steps] == ["minor", "minor"]
    assert "4 accesses replayed" in runner.statements[-1].notes[0]


def test_xz_is_read_directly(tmp_path):
    with lzma.open(tmp_path / "t.lackey.xz", "wt") as f:
        f.write(" S 10000000,8\n L 10002000,8\n")
    runner = run_in(tmp_path, "map a anon size 64K at 0x10000000\ntrace t.lackey.xz format lackey\n")
    assert runner.machine.processes["main"].min_flt == 2


@pytest.mark.parametrize("path", ["/etc/passwd", "../x.txt", "sub/../../x.txt"])
def test_paths_outside_the_folder_are_refused(tmp_path, path):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "x.txt").write_text("R 0x1000\n")
    with pytest.raises(ScenarioError) as err:
        run_in(inner, f'map a anon size 64K\ntrace "{path}"\n')
    assert "absolute" in str(err.value) or "outside" in str(err.value)


def test_symlink_escape_is_refused(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "x.txt").write_text("R 0x1000\n")
    (inner / "link.txt").symlink_to(tmp_path / "x.txt")
    with pytest.raises(ScenarioError, match="outside"):
        run_in(inner, "trace link.txt\n")


def test_unmapped_pages_are_reported_once(tmp_path):
    (tmp_path / "t.txt").write_text("R 0x5000\nR 0x5008\nW 0x5010\nR 0x10000000\nR 0x5000\n")
    runner = run_in(tmp_path, "map a anon size 64K at 0x10000000\ntrace t.txt\n")
    outcomes = [s.outcome for s in runner.machine.steps]
    assert outcomes.count("SIGSEGV") == 1
    notes = runner.statements[-1].notes
    assert any("0x5000" in n and "outside every mapping" in n for n in notes)
    assert runner.machine.step == 5


def test_trace_is_charged_against_the_step_limit(tmp_path):
    (tmp_path / "t.txt").write_text("R 0x10000000\n" * 50)
    with pytest.raises(StepLimitExceeded):
        run_in(tmp_path, "map a anon size 64K at 0x10000000\ntrace t.txt\n", max_steps=10)


def test_replay_under_pressure_with_each_policy(tmp_path):
    lines = [f"W {0x10000000 + (i % 40) * 4096:#x}" for i in range(400)]
    (tmp_path / "t.txt").write_text("\n".join(lines) + "\n")
    counts = {}
    for policy in ("linux", "fifo", "lru", "clock", "opt"):
        runner = run_in(tmp_path, f"set ram 64K\nset swap 1M\nset swap_device zram\n"
                                  f"set policy {policy}\nmap a anon size 256K at 0x10000000\n"
                                  "trace t.txt\nread a[0..40]\n")
        task = runner.machine.processes["main"]
        counts[policy] = task.min_flt + task.maj_flt
        assert task.alive
        # the values written by the trace are the step numbers of the last write
        values = [s.value for s in runner.machine.steps if s.op == "read" and s.value is not None]
        assert values[-1] == 400
    # a cyclic scan of 40 pages in 16 frames: FIFO and LRU miss every time, OPT does not
    assert counts["fifo"] == counts["lru"] == 400 + 40
    assert counts["opt"] < counts["lru"]


def test_the_ls_scenario_runs():
    from faultlang.lang import parse_path
    from faultlang.runtime.runner import run_scenario
    report = run_scenario(parse_path(ROOT / "scenarios" / "trace" / "ls-l.fault"))
    assert all(e.ok for e in report.expects)
