"""measure: parsing what the generated program prints."""

from __future__ import annotations

import pytest

from faultlang.verify.measure import KIND_BASELINE, KIND_OBSERVE, KIND_STATEMENT, parse_output

SAMPLE = """\
FV version=1 nprocs=1 nstmts=3 uid=0
R kind=3 stmt=-1 wid=0 pid=7 perf=1 last=-1 state=0 err=0 addr=0 minflt=0 majflt=0 page_faults=0 perf_minor=0 perf_major=0 pgfault=0 pgmajfault=0 cum_minflt=0 cum_majflt=0 out=0,0,0,0,0,0,0,0,0,0,0
R kind=5 stmt=-1 wid=0 pid=7 perf=1 last=-1 state=0 err=0 addr=0 minflt=0 majflt=0 page_faults=0 perf_minor=0 perf_major=0 pgfault=2 pgmajfault=0 cum_minflt=90 cum_majflt=0 out=0,0,0,0,0,0,0,0,0,0,0
R kind=1 stmt=0 wid=0 pid=7 perf=1 last=-1 state=0 err=0 addr=0x7f0000000000 minflt=0 majflt=0 page_faults=0 perf_minor=0 perf_major=0 pgfault=0 pgmajfault=0 cum_minflt=90 cum_majflt=0 out=0,0,0,0,0,0,0,0,0,0,0
R kind=1 stmt=1 wid=0 pid=7 perf=1 last=3 state=0 err=0 addr=0x1000 minflt=4 majflt=0 page_faults=5 perf_minor=4 perf_major=0 pgfault=4 pgmajfault=0 cum_minflt=94 cum_majflt=0 out=0,4,0,1,0,0,0,0,0,0,0
R kind=2 stmt=2 wid=0 pid=7 perf=1 last=-1 state=1 err=0 addr=0 value=0 minflt=0 majflt=0 page_faults=0 perf_minor=0 perf_major=0 pgfault=0 pgmajfault=0 cum_minflt=0 cum_majflt=0 out=0,0,0,0,0,0,0,0,0,0,0
R kind=4 stmt=-1 wid=0 pid=7 perf=1 last=-1 state=0 err=0 addr=0 minflt=0 majflt=0 page_faults=0 perf_minor=0 perf_major=0 pgfault=0 pgmajfault=0 cum_minflt=0 cum_majflt=0 out=0,0,0,0,0,0,0,0,0,0,0
END
"""


def test_records_are_parsed_with_names_for_outcomes_and_states():
    run = parse_output(SAMPLE)
    assert run.uid == 0
    access = run.statement(1)
    assert access.kind == KIND_STATEMENT
    assert access.counters["minflt"] == 4 and access.counters["page_faults"] == 5
    assert access.outcomes == {"minor": 4, "SIGSEGV SEGV_MAPERR": 1}
    assert access.last == "SIGSEGV SEGV_MAPERR" and access.addr == 0x1000
    observed = run.statement(2)
    assert observed.kind == KIND_OBSERVE and observed.state == "zero" and observed.value == 0
    assert run.statement(0).addr == 0x7f0000000000 and run.statement(0).last is None


def test_the_baseline_windows_are_kept_apart():
    run = parse_output(SAMPLE)
    assert [r.kind for r in run.baselines] == [KIND_BASELINE]
    assert run.baselines[0].counters["pgfault"] == 2


def test_perf_counters_are_none_when_perf_was_not_available():
    run = parse_output(SAMPLE.replace("perf=1", "perf=0"))
    assert run.statement(1).counters["page_faults"] is None
    assert run.statement(1).counters["minflt"] == 4
    assert not run.perf


def test_a_run_that_stopped_early_is_an_error():
    with pytest.raises(ValueError, match="END"):
        parse_output(SAMPLE.replace("END\n", ""))
