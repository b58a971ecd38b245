"""LogView: one line per access, runs of identical accesses folded in compact mode."""

from __future__ import annotations

import dataclasses
import re

import pytest

from faultlang.render._fmt import range_label, values_text
from faultlang.render._samples import BASE, sample_steps
from faultlang.render.log import LogView, group_steps
from faultlang.snapshots import StepRecord


def _step(n: int, **changes) -> StepRecord:
    base = StepRecord(n=n, line=4, process="main", op="read", address=BASE + n * 4096,
                      outcome="minor", handler="filemap_map_pages", target=f"f[{n}]")
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("width", [80, 100])
def test_sample_log_matches_golden(render, golden, width):
    golden(f"log_compact_{width}", render(LogView(sample_steps()), width))


def test_a_512_page_write_is_one_compact_line(render):
    text = render(LogView(sample_steps()[:512]), 100)
    assert text == ("steps 1–512  write  0x7f0000000000  buf[0..512]  512× minor  "
                    "do_anonymous_page\n")


def test_non_compact_prints_every_step(render):
    text = render(LogView(sample_steps()[:512], compact=False, show_header=True), 100)
    lines = text.splitlines()
    assert len(lines) == 513
    assert lines[0].split() == ["step", "op", "address", "target", "outcome", "handler"]
    assert lines[512].split() == ["512", "write", "0x7f00001ff000", "buf[511]", "minor",
                                  "do_anonymous_page"]


def test_groups_break_on_outcome_handler_process_and_gaps():
    steps = [_step(1), _step(2), _step(3, outcome="major"), _step(4, outcome="major"),
             _step(5, outcome="major", handler="filemap_fault"), _step(7, outcome="major",
                                                                      handler="filemap_fault"),
             _step(8, process="child", outcome="major", handler="filemap_fault")]
    assert [[s.n for s in g] for g in group_steps(steps)] == [[1, 2], [3, 4], [5], [7], [8]]


def test_signals_show_their_si_code_and_around_pages_are_counted(render):
    steps = [_step(1, outcome="major", handler="filemap_fault", around=15, value=0),
             _step(2, outcome="SIGBUS", si_code="BUS_ADRERR", handler="filemap_fault",
                   target="f[99]")]
    lines = render(LogView(steps), 100).splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["step 1", "read", "0x7f0000001000", "f[1]", "major",
                                             "filemap_fault", "+15 around", "value 0"]
    assert "SIGBUS BUS_ADRERR" in lines[1]


def test_process_column_appears_when_a_second_process_runs(render):
    assert "child" in render(LogView([_step(1), _step(2, process="child")]), 100)
    assert " main " not in render(LogView([_step(1)]), 100)


def test_range_labels_read_like_the_scenario_language():
    assert range_label([f"h[{i}]" for i in range(0, 16, 2)]) == "h[0..16 step 2]"
    assert range_label([f"h[{i}]" for i in reversed(range(4))]) == "h[0..4] reverse"
    assert range_label(["a[1]", "b[2]"]) == "a[1] … b[2]"
    assert range_label(["", ""]) == ""
    assert values_text([1, 2, 3]) == "1–3"
    assert values_text([0, 0]) == "0"
    assert values_text([5, 1, 9, 2]) == "5, 1, 9, … (4 distinct)"


def test_empty_log(render):
    assert render(LogView([]), 80) == "no accesses\n"
