"""Mirrors mm/msync.c: msync(2) writes dirty pages of shared file mappings back.

Anonymous and private mappings have nothing to write back; msync succeeds and does
nothing, as in Linux. File write-back comes with file-backed mappings.
"""

from __future__ import annotations

from faultlang.kernel.include.linux.mm_types import MmStruct
from faultlang.kernel.mm.mmap import MmapError
from faultlang.kernel.trace import kfunc


@kfunc("mm/msync.c", symbol="__do_sys_msync", fault_bits=False)
def do_msync(mm: MmStruct, start: int, length: int) -> str:
    """msync(MS_SYNC): ENOMEM for unmapped parts; write back shared file pages."""
    end = start + length
    covered = start
    written = 0
    for vma in mm.vmas:
        if vma.vm_start < end and vma.vm_end > start:
            if vma.vm_start > covered:
                break
            covered = vma.vm_end
            if vma.vm_file is not None and vma.vm_flags & 0x8 and hasattr(vma.vm_file, "writeback"):
                written += vma.vm_file.writeback(max(start, vma.vm_start), min(end, vma.vm_end), vma)
    if covered < end:
        raise MmapError("ENOMEM", "part of the range is not mapped")
    return f"{written} dirty pages written back"
