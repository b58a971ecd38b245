"""Mirrors mm/mlock.c: mlock(2) sets VM_LOCKED and populates the range; munlock clears it."""

from __future__ import annotations

from faultlang.kernel.include.linux.mm_types import MmStruct
from faultlang.kernel.mm.gup import mm_populate
from faultlang.kernel.include.linux.mm_types import vma_is_accessible
from faultlang.kernel.mm.mmap import MmapError, check_range_mapped, mapped_prefix_end, isolate_range, merge_vmas
from faultlang.kernel.trace import kfunc

VM_LOCKED = 0x2000


@kfunc("mm/mlock.c", fault_bits=False)
def do_mlock(mm: MmStruct, start: int, length: int, lock: bool) -> int:
    """do_mlock / munlock: set or clear VM_LOCKED; mlock then faults every page in."""
    end = start + length
    stop = mapped_prefix_end(mm, start, end)
    for vma in isolate_range(mm, start, stop) if stop > start else []:
        pages = (vma.vm_end - vma.vm_start) >> 12
        if lock and not vma.vm_flags & VM_LOCKED:
            vma.vm_flags |= VM_LOCKED
            mm.locked_vm += pages
        elif not lock and vma.vm_flags & VM_LOCKED:
            vma.vm_flags &= ~VM_LOCKED
            mm.locked_vm -= pages
    merge_vmas(mm, start, stop)
    check_range_mapped(mm, start, end)      # VMAs before a hole stay changed, then ENOMEM
    if lock and any(not vma_is_accessible(v) for v in mm.vmas if v.vm_start < end and v.vm_end > start):
        # __mm_populate fails with EFAULT on PROT_NONE; mlock reports it as ENOMEM
        raise MmapError("ENOMEM", "mlock cannot populate a PROT_NONE range")
    return mm_populate(mm, start, length) if lock else 0
