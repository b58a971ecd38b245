"""The raw call record of a fault (kernel/trace.py) and how the runtime decodes and
shares it (runtime/callpath.py: path_of, call_frames)."""

from __future__ import annotations

import copy
import gc

from faultlang.kernel.include.linux.mm_types import VmFaultReason, fault_names
from faultlang.kernel.trace import Entry
from faultlang.lang import ast
from faultlang.lang.parse import parse_text
from faultlang.runtime.callpath import call_frames, decider, path_of
from faultlang.runtime.machine import Machine
from faultlang.runtime.runner import run_scenario
from faultlang.snapshots import CallFrame


def test_a_record_decodes_to_nested_frames_with_whys_and_returns() -> None:
    outer, inner = Entry("handle_mm_fault", "mm/memory.c"), Entry("do_fault", "mm/memory.c")
    raw = ["outside any function: dropped", outer, "first", inner, "read fault", "again",
           4, "after the call", 0]
    assert call_frames(raw) == (
        CallFrame(0, "handle_mm_fault", "mm/memory.c", "first; after the call", "0"),
        CallFrame(1, "do_fault", "mm/memory.c", "read fault; again", "VM_FAULT_MAJOR"))
    helper = Entry("lock_vma_under_rcu", "mm/mmap_lock.c")
    assert call_frames([helper, None]) == (CallFrame(0, "lock_vma_under_rcu",
                                                     "mm/mmap_lock.c", "", None),)


def test_equal_records_share_one_decoded_path() -> None:
    machine = Machine()
    machine.map(ast.Map(name="buf", kind="anon", size=8 * 4096))
    first = ast.PageIndex(mapping="buf", index=0)       # the PTE table, the anon_vma
    machine.access("write", first, None, first)
    target = ast.PageRange(mapping="buf", start=1, stop=8)
    steps = machine.access("write", target, None, target)
    assert len({id(s.frames) for s in steps}) == 1
    assert steps[0].handler == "do_anonymous_page"


def test_entries_copy_as_themselves() -> None:
    e = Entry("do_fault", "mm/memory.c")
    assert copy.deepcopy([e])[0] is e
    assert path_of([e, 0])[0] == path_of([e, 0])[0]


def test_fault_names_are_the_flag_names() -> None:
    assert fault_names(0) == "0"
    for ret in (VmFaultReason.MAJOR | VmFaultReason.RETRY, VmFaultReason.NOPAGE,
                VmFaultReason.OOM | VmFaultReason.SIGBUS):
        want = "|".join("VM_FAULT_" + m.name for m in VmFaultReason if ret & m.value)
        assert fault_names(int(ret)) == want == fault_names(int(ret))


def test_a_run_leaves_its_objects_out_of_the_collector() -> None:
    enabled = gc.isenabled()
    try:
        report = run_scenario(parse_text("map buf anon size 64K\nwrite buf[*]\n"))
        assert gc.get_freeze_count() > 0 and gc.isenabled() == enabled
        assert report.steps[-1].outcome == "minor"
    finally:
        gc.unfreeze()


def test_a_call_path_is_decoded_when_read_and_reads_like_its_frames() -> None:
    fault = Entry("handle_mm_fault", "mm/memory.c")
    alloc = Entry("__alloc_pages", "mm/page_alloc.c")
    reclaim = Entry("try_to_free_pages", "mm/vmscan.c")
    anon = Entry("do_anonymous_page", "mm/memory.c")
    raw = [fault, anon, "write fault", alloc, reclaim, None, None, 0, 0]
    path, handler = path_of(raw)
    assert path._raw is not None                       # nothing read it yet
    frames = call_frames(raw)
    assert path == frames and list(path) == list(frames) and len(path) == 4
    assert path[1].why == "write fault" and path + () == frames
    # reclaim inside the allocation never decides; the same rule on decoded frames
    assert handler == "do_anonymous_page" == decider(frames, None)
    assert decider(path_of([fault, 0])[0], None) == "handle_mm_fault"
