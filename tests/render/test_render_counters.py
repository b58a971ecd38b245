"""CountersView: per-process fault counters, vmstat, and deltas against a before."""

from __future__ import annotations

import dataclasses

import pytest

from faultlang.render._samples import sample_processes
from faultlang.render.counters import CountersView, ordered_vmstat
from faultlang.snapshots import Counters, ProcessView, Snapshot

VMSTAT = (("pswpin", 3), ("pgmajfault", 1), ("pgfault", 20))


def _fork() -> tuple[ProcessView, ...]:
    parent = ProcessView("main", 100, Counters(minflt=16, majflt=1, page_faults=17,
                                               perf_minor=16, perf_major=1, rss=16,
                                               rss_anon=16), ())
    child = ProcessView("child", 101, Counters(minflt=4, page_faults=4, perf_minor=4, rss=16,
                                               rss_anon=16), (), alive=False)
    return parent, child


@pytest.mark.parametrize("width", [80, 100])
def test_counters_match_golden(render, golden, width):
    golden(f"counters_{width}", render(CountersView(_fork(), VMSTAT), width))


def test_deltas_against_an_earlier_snapshot(render, golden):
    before = Snapshot(view="counters", process="main", processes=sample_processes(12, 12)[:1],
                      vmstat=(("pgfault", 12), ("pgmajfault", 0)))
    text = render(CountersView(_fork(), VMSTAT, before=before), 100)
    golden("counters_delta_100", text)
    main = next(line for line in text.splitlines() if line.startswith("main"))
    assert "16 (+4)" in main
    assert "child (exited)" in text  # created since: its deltas count from zero
    assert "pswpin       3 (+3)" in text


def test_perf_columns_appear_only_when_they_differ(render):
    assert "perf_minor" not in render(CountersView(_fork(), ()), 100)
    gup = dataclasses.replace(_fork()[0], counters=Counters(minflt=3, perf_minor=1))
    assert "perf_minor" in render(CountersView((gup,), ()), 100)


def test_vmstat_puts_fault_counters_first():
    assert [key for key, _ in ordered_vmstat(VMSTAT)] == ["pgfault", "pgmajfault", "pswpin"]
