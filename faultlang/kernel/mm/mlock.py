"""Mirrors mm/mlock.c: mlock(2) sets VM_LOCKED and populates the range; munlock clears it."""

from __future__ import annotations

from faultlang.kernel.include.linux.mm_types import MmStruct
from faultlang.kernel.mm.gup import mm_populate
from faultlang.kernel.mm.mmap import check_range_mapped, isolate_range, merge_vmas
from faultlang.kernel.trace import kfunc

VM_LOCKED = 0x2000


@kfunc("mm/mlock.c", fault_bits=False)
def do_mlock(mm: MmStruct, start: int, length: int, lock: bool) -> int:
    """do_mlock / munlock: set or clear VM_LOCKED; mlock then faults every page in."""
    end = start + length
    check_range_mapped(mm, start, end)
    for vma in isolate_range(mm, start, end):
        pages = (vma.vm_end - vma.vm_start) >> 12
        if lock and not vma.vm_flags & VM_LOCKED:
            vma.vm_flags |= VM_LOCKED
            mm.locked_vm += pages
        elif not lock and vma.vm_flags & VM_LOCKED:
            vma.vm_flags &= ~VM_LOCKED
            mm.locked_vm -= pages
    merge_vmas(mm, start, end)
    return mm_populate(mm, start, length) if lock else 0
