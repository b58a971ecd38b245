"""RunReportView: the whole `faultlang run` text, statement by statement."""

from __future__ import annotations

import dataclasses

import pytest

from faultlang.render import RunReportView, render_report
from faultlang.render._samples import (
    sample_memory,
    sample_pagetable,
    sample_report,
    sample_settings,
    sample_steps,
    sample_vmas,
)
from faultlang.render.report import snapshot_view, statement_steps
from faultlang.snapshots import Snapshot, StatementRecord


@pytest.mark.parametrize("width", [80, 100])
def test_sample_report_matches_golden(render, golden, width):
    golden(f"report_{width}", render(RunReportView(sample_report()), width))


def test_verbose_report_matches_golden(render, golden):
    # Four pages: verbose lists every step.
    golden("report_verbose_100", render(RunReportView(sample_report(4), verbose=True), 100))


def test_statements_appear_in_order_with_their_steps(render):
    lines = render(RunReportView(sample_report()), 100).splitlines()
    lines = lines[:lines.index("final counters")]
    heads = [line for line in lines if line.startswith("line ")]
    assert [h.split(":")[0] for h in heads] == [f"line {n}" for n in range(3, 11)]
    write = lines.index("line 4: write buf[*]")
    assert lines[write + 1].startswith("  steps 1–512  write")


def test_expect_lines_say_ok_or_fail_with_both_values(render):
    text = render(RunReportView(sample_report()), 100)
    assert "line 9: expect minflt == 512  ok\n" in text
    assert "line 10: expect pgfault == 512  FAIL  expected 512, actual 513\n" in text
    assert text.endswith("1 of 2 expects failed\n")


def test_an_error_is_printed_last(render):
    report = dataclasses.replace(sample_report(), error="out of memory in the simulator")
    assert render(RunReportView(report), 100).endswith(
        "1 of 2 expects failed\nerror: out of memory in the simulator\n")


def test_statement_steps_are_the_half_open_range():
    steps = sample_steps()
    statement = StatementRecord(0, 5, "read buf[0..4]", "main", "access", 513, 517)
    assert [s.n for s in statement_steps(steps, statement)] == [513, 514, 515, 516]
    empty = StatementRecord(0, 3, "map", "main", "map", 1, 1)
    assert statement_steps(steps, empty) == ()


@pytest.mark.parametrize("snapshot, expected", [
    (Snapshot(view="path", process="main"), "no fault yet\n"),
    (Snapshot(view="pagetable", process="main"), "main has no page table yet\n"),
    (Snapshot(view="swap", process="main", text="swap: 1 of 4096 slots used"),
     "swap: 1 of 4096 slots used\n"),
    (Snapshot(view="lru", process="main"), "nothing to show for lru\n"),
])
def test_snapshot_views_without_data(render, snapshot, expected):
    assert render(snapshot_view(snapshot), 80) == expected


@pytest.mark.parametrize("snapshot, marker", [
    (Snapshot(view="pagetable", process="main", pagetable=sample_pagetable()), "P4D (folded)"),
    (Snapshot(view="vmas", process="main", vmas=sample_vmas()), "mappings of main"),
    (Snapshot(view="memory", process="main", memory=sample_memory()), "physical memory"),
    (Snapshot(view="settings", process="main", settings=sample_settings()), "numa_nodes"),
    (Snapshot(view="log", process="main", log=tuple(sample_steps()[:3])), "buf[2]"),
    (Snapshot(view="path", process="main", step=sample_steps()[0]), "do_anonymous_page"),
])
def test_every_show_view_dispatches(render, snapshot, marker):
    assert marker in render(snapshot_view(snapshot), 100)


def test_render_report_prints_on_the_given_console():
    import io

    from faultlang.render import make_console

    out = io.StringIO()
    render_report(sample_report(), make_console(file=out))
    assert out.getvalue().startswith("faultlang · modelled on Linux 6.18\n")
