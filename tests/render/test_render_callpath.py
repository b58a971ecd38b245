"""CallPathView: the call tree rebuilt from frame depths, retries included."""

from __future__ import annotations

import pytest

from faultlang.render._samples import sample_retry_step, sample_steps
from faultlang.render.callpath import CallPathView, describe_error_code
from faultlang.snapshots import CallFrame, StepRecord


@pytest.mark.parametrize("width", [80, 100])
def test_retried_file_fault_matches_golden(render, golden, width):
    golden(f"callpath_retry_{width}", render(CallPathView(sample_retry_step()), width))


def test_a_retry_is_a_second_handle_mm_fault_under_the_same_entry(render):
    lines = render(CallPathView(sample_retry_step()), 100).splitlines()
    attempts = [line for line in lines if "handle_mm_fault  mm/memory.c" in line
                and "__handle" not in line]
    assert len(attempts) == 2
    # Same depth: the tree guides before both names are equally long.
    assert len({line.index("handle_mm_fault") for line in attempts}) == 1
    assert sum("exc_page_fault" in line for line in lines) == 1
    assert "→ VM_FAULT_MAJOR|VM_FAULT_RETRY" in attempts[0]
    assert attempts[1].endswith("→ VM_FAULT_MAJOR")


def test_an_empty_return_is_shown_as_zero_and_none_is_not_shown(render):
    step = StepRecord(n=1, line=1, process="main", op="write", address=0x1000,
                      outcome="minor", frames=(CallFrame(0, "exc_page_fault", "f.c"),
                                               CallFrame(1, "do_anonymous_page", "m.c", "", "")))
    text = render(CallPathView(step), 80)
    assert "do_anonymous_page  m.c  → 0" in text
    assert "exc_page_fault  f.c\n" in text


def test_title_names_step_target_address_and_outcome(render):
    first = render(CallPathView(sample_retry_step()), 100).splitlines()[0]
    assert first == "step 3: read data[3] @ 0x7f0000003000  major"
    segv = render(CallPathView(sample_steps()[-1]), 100).splitlines()[0]
    assert segv == "step 517: read 0x1000  SIGSEGV SEGV_MAPERR"


def test_a_step_without_a_fault_says_so(render):
    step = StepRecord(n=9, line=3, process="child", op="read", address=0x2000, outcome="none")
    assert render(CallPathView(step), 80) == (
        "step 9: read 0x2000  none  (process child)\n"
        "no kernel functions entered (the page was already mapped)\n")


def test_long_labels_move_the_why_to_its_own_line(render):
    lines = render(CallPathView(sample_retry_step()), 80).splitlines()
    assert all(len(line) <= 80 for line in lines)
    at = next(i for i, line in enumerate(lines) if "filemap_fault  mm/filemap.c" in line)
    assert lines[at + 1].strip().endswith("→ VM_FAULT_MAJOR|VM_FAULT_RETRY")
    assert "page-cache miss: read from disk" in lines[at + 2]


@pytest.mark.parametrize("code, text", [
    (0x4, "0x4: not-present read user"),
    (0x6, "0x6: not-present write user"),
    (0x7, "0x7: protection write user"),
    (0x15, "0x15: protection instruction-fetch user"),
    (0x2, "0x2: not-present write kernel"),
])
def test_error_codes_are_spelled_out(code, text):
    assert describe_error_code(code) == text
