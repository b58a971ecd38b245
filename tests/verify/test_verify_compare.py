"""compare: the simulated side, the verdict rules, and expects worked out from records."""

from __future__ import annotations

from typing import Optional

import pytest

from faultlang.errors import ScenarioError
from faultlang.lang import ast, parse_text
from faultlang.verify.cgen import generate
from faultlang.verify.compare import compare, outcome_summary, simulate
from faultlang.verify.measure import (
    COUNTERS, KIND_BASELINE, KIND_OBSERVE, KIND_STATEMENT, Record, Run,
)
from faultlang.verify.result import AGREE, DIFFER, NA, NOISY, SKIPPED, judge

FORK = """\
map a anon size 16K
write a[*]
fork child
as child: write a[0..2]
expect child.minflt == 2
expect delta minflt == 0
expect state a[3] == cow
expect outcome last == minor
"""


def rec(stmt: int, wid: int = 0, kind: int = KIND_STATEMENT, outcomes: Optional[dict] = None,
        addr: int = 0, **counters: int) -> Record:
    values = {name: counters.get(name, 0) for name in COUNTERS}
    return Record(kind=kind, stmt=stmt, wid=wid, pid=1, counters=values, addr=addr,
                  outcomes=outcomes or {}, last="minor" if outcomes else None,
                  state=counters.get("state") if kind == KIND_OBSERVE else None)


def fork_run(child_minflt: int = 2, pgfault: int = 2, state: str = "cow") -> Run:
    return Run((
        rec(-1, kind=KIND_BASELINE),
        rec(0, addr=0x7f0000000000),
        rec(1, outcomes={"minor": 4}, minflt=4, page_faults=4, perf_minor=4, pgfault=4),
        rec(2),
        rec(3, wid=1, outcomes={"minor": child_minflt}, minflt=child_minflt,
            page_faults=child_minflt, perf_minor=child_minflt, pgfault=pgfault),
        Record(kind=KIND_OBSERVE, stmt=6, wid=0, pid=1, state=state),
    ), uid=0)


def verify(text: str, runs: list[Run]):
    scenario = parse_text(text, "t.fault")
    sim = simulate(scenario)
    return compare(sim, generate(scenario, sim.layout), runs, (), "6.18.44", "t.fault")


@pytest.mark.parametrize("sim, real, one_sided, background, expected", [
    (4, (4, 4), False, False, AGREE),
    (4, (5, 5), False, False, DIFFER),
    (4, (4, 5), False, False, NOISY),
    (4, (None, 4), False, False, NA),
    (4, (5, 5), True, False, DIFFER),     # a quiet machine: more is a difference
    (4, (5, 5), True, True, NOISY),       # other processes faulted meanwhile
    (4, (3, 9), True, True, DIFFER),      # fewer than simulated is never noise
])
def test_judge(sim, real, one_sided, background, expected):
    assert judge(sim, real, one_sided, background) == expected


def test_simulate_keeps_the_deltas_of_the_process_that_ran_each_statement():
    sim = simulate(parse_text(FORK))
    write, fork, child_write = sim.statements[1], sim.statements[2], sim.statements[3]
    assert write.counters["minflt"] == 4 and write.outcomes == {"minor": 4}
    assert fork.process == "main" and fork.counters["minflt"] == 0
    assert child_write.process == "child" and child_write.counters["minflt"] == 2
    assert sim.statements[0].address == 0x7f0000000000
    assert sim.layout.first_steps[3] == 5


def test_unsupported_statements_and_those_that_depend_on_them_are_skipped(monkeypatch):
    # Which statements the engine lacks changes as it grows: pretend it lacks mapping `a`.
    import faultlang.runtime.runner as runner
    monkeypatch.setattr(runner, "unsupported", lambda stmt: "a later issue" if isinstance(
        stmt, ast.Map) and stmt.name == "a" else None)
    sim = simulate(parse_text("map a anon size 2M\nwrite a[0]\nmap b anon size 4K"))
    assert sim.statements[0].skipped.startswith("this statement is not simulated yet")
    assert sim.statements[1].skipped.startswith("it depends on a skipped statement")
    assert not sim.statements[2].skipped


def test_other_scenario_errors_stop_as_in_run():
    with pytest.raises(ScenarioError):
        simulate(parse_text("write a[0]"))


def test_identical_runs_agree_everywhere():
    v = verify(FORK, [fork_run(), fork_run()])
    assert [s.status for s in v.statements] == [AGREE, AGREE, AGREE, AGREE, AGREE, AGREE,
                                                AGREE, AGREE]
    assert v.ok and v.exit_code == 0
    assert v.statements[4].cell("expect").real == (2, 2)        # child.minflt, from records
    assert v.statements[7].cell("expect").real == ("minor", "minor")


def test_a_count_the_kernel_does_not_make_is_a_difference():
    v = verify(FORK, [fork_run(child_minflt=3, pgfault=3)] * 2)
    child = v.statements[3]
    assert child.status == DIFFER and child.cell("minflt").status == DIFFER
    assert v.statements[4].status == DIFFER                     # the expect, worked out
    assert not v.ok and v.exit_code == 1
    assert dict(v.totals)["child"][0].status == DIFFER


def test_runs_that_disagree_are_noisy_not_a_difference():
    v = verify(FORK, [fork_run(child_minflt=2), fork_run(child_minflt=3, pgfault=3)])
    assert v.statements[3].status == NOISY
    assert v.ok


def test_extra_machine_wide_faults_on_a_busy_machine_are_noise():
    runs = [fork_run(pgfault=5), fork_run(pgfault=5)]
    busy = [Run((rec(-1, kind=KIND_BASELINE, pgfault=3),) + r.records[1:]) for r in runs]
    assert verify(FORK, runs).statements[3].status == DIFFER
    v = verify(FORK, busy)
    assert v.statements[3].status == NOISY
    assert any("machine-wide, are noisy here" in n for n in v.notes)


def test_states_are_compared_and_path_expects_are_not():
    v = verify(FORK + "expect path last contains wp_page_copy\n",
               [fork_run(state="resident")])
    assert v.statements[6].cell("state").status == DIFFER
    assert v.statements[8].status == NA
    assert "user space" in v.statements[8].reason


def test_without_root_zero_cow_and_resident_cannot_be_told_apart():
    v = verify(FORK, [fork_run(state="present")])
    assert v.statements[6].status == NA and "root" in v.statements[6].reason


def test_skipped_statements_are_reported_with_their_reason():
    v = verify("map a anon size 4K\nmap d device size 4K", [Run((rec(0, addr=0x7f0000000000),))])
    assert v.statements[1].status == SKIPPED
    assert "device" in v.statements[1].reason
    assert v.statements[0].status == AGREE


def test_machine_wide_counts_are_noisy_when_the_processs_own_count_moved():
    # A cold file read racing with the disk: 12 or 13 faults, not the simulated 16.
    runs = [Run((rec(0, addr=0x7f0000000000), rec(1, outcomes={"minor": n}, minflt=n,
                                                  page_faults=n, perf_minor=n, pgfault=n)))
            for n in (2, 3)]
    v = verify("map a anon size 16K\nwrite a[*]", runs)
    assert v.statements[1].cell("minflt").status == NOISY
    assert v.statements[1].cell("pgfault").status == NOISY
    assert v.statements[1].status == NOISY


def test_outcome_summary_orders_outcomes_like_the_runtime():
    assert outcome_summary({"SIGSEGV SEGV_MAPERR": 1, "minor": 3}) == \
        "3× minor, 1× SIGSEGV SEGV_MAPERR"
    assert outcome_summary({}) == "no access"
