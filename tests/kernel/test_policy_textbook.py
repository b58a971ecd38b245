"""The textbook reclaim policies of `set policy fifo|lru|clock|opt` (kernel/mm/textbook.py):
the classic reference string 1,2,3,4,1,2,5,1,2,3,4,5 with 3 and 4 frames."""

from __future__ import annotations

import pytest

from faultlang.kernel.settings import Settings
from faultlang.lang import parse_text
from faultlang.runtime.invariants import check_invariants
from faultlang.runtime.runner import Runner, run_scenario

REF = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5]
EXPECTED = {"fifo": (9, 10), "lru": (10, 8), "opt": (7, 6), "clock": (9, 10)}


def faults_with_frames(policy: str, frames: int) -> int:
    """The Machine API gives exactly N frames (`set ram` stops at 64K)."""
    runner = Runner()
    runner.settings = Settings(ram=frames * 4096, swap=1 << 20, swap_device="zram",
                               zero_page="off", policy=policy)
    scenario = parse_text("map a anon size 64K\n" + "".join(f"read a[{p}]\n" for p in REF))
    runner.script = scenario.statements
    for k, stmt in enumerate(scenario.statements):
        runner.script_pos = k
        runner.execute(stmt)
    task = runner.machine.processes["main"]
    assert check_invariants(runner.machine.system) == []
    return task.min_flt + task.maj_flt


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_reference_string_fault_counts(policy):
    assert (faults_with_frames(policy, 3), faults_with_frames(policy, 4)) == EXPECTED[policy]


def test_belady_anomaly_only_for_fifo():
    assert faults_with_frames("fifo", 4) > faults_with_frames("fifo", 3)
    assert faults_with_frames("lru", 4) <= faults_with_frames("lru", 3)


def test_locked_pages_leave_exactly_n_frames_in_a_scenario():
    text = ("set ram 64K\nset swap 1M\nset swap_device zram\nset zero_page off\n"
            "set policy opt\nmap pinned anon size 52K locked\nmap a anon size 64K\n"
            + "".join(f"read a[{p}]\n" for p in REF))
    report = run_scenario(parse_text(text))
    main = report.processes[0].counters
    assert (main.minflt - 13, main.majflt) == (5, 2)


def test_values_survive_textbook_reclaim(sim):
    sim("set ram 64K\nset swap 1M\nset swap_device zram\nset policy lru\n"
        "map a anon size 128K\nwrite a[*]")
    rec = sim("read a[*]")
    assert [s.value for s in sim.steps(rec)] == list(range(1, 33))
    assert check_invariants(sim.machine.system) == []


def test_policy_victim_is_named_in_the_path(sim):
    rec = sim("set ram 64K\nset swap 1M\nset swap_device zram\nset policy fifo\n"
              "map a anon size 128K\nwrite a[*]")
    paths = [s for s in sim.steps(rec) if any(f.symbol == "try_to_free_pages" for f in s.frames)]
    assert paths
    whys = " ".join(f.why or "" for f in paths[0].frames)
    assert "fifo" in whys and "evicted" in whys


def test_oom_when_textbook_policy_finds_nothing(sim):
    rec = sim("set ram 64K\nset policy clock\nmap a anon size 128K\nwrite a[*]")
    assert "oom" in [s.outcome for s in sim.steps(rec)]


def test_show_lru_lists_the_queue(sim):
    sim("set ram 64K\nset swap 1M\nset swap_device zram\nset policy fifo\n"
        "map a anon size 128K\nwrite a[*]")
    snap = sim("show lru").snapshot
    assert snap.view == "lru" and snap.text.startswith("fifo: oldest load first: 16 frames")
    assert "a[16]" in snap.text.splitlines()[1]


def test_show_lru_linux_lists_active_and_inactive(sim):
    sim("map a anon size 64K\nwrite a[*]")
    text = sim("show lru").snapshot.text
    assert text.startswith("linux: 16 inactive, 0 active")
