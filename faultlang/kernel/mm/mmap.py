"""Mirrors mm/mmap.c and mm/vma.c: creating, splitting, merging and removing VMAs.

do_mmap places a mapping (top-down, or MAP_FIXED at `at`, replacing what was there);
do_vmi_munmap splits the VMAs at the edges, zaps their pages and removes them;
expand_stack_locked grows a VM_GROWSDOWN stack when a fault lands just below it.

Simplified: VMAs merge only when they are pieces of the same scenario mapping (so a
mapping keeps its name); Linux may also merge two adjacent mappings made separately.
That never changes a fault count except for fault-around across the two (documented).
"""

from __future__ import annotations

from typing import Any, Optional

from faultlang.kernel.include.linux.mm_types import (
    VM_EXEC, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_READ, VM_SHARED,
    VM_WRITE, MmStruct, Vma,
)
from faultlang.kernel.mm.memory import free_pgtables, vm_get_page_prot, zap_page_range_single
from faultlang.kernel.system import RLIMIT_STACK, STACK_GUARD_GAP
from faultlang.kernel.trace import kfunc, why

MMAP_C = "mm/mmap.c"
VM_GROWSDOWN = 0x100
VM_LOCKED = 0x2000
MMAP_TOP = 0x7F0000000000       # faultlang's first mapping starts here; later ones go below


class MmapError(Exception):
    """A system call failed: errno name and one sentence on why (shown as a note)."""

    def __init__(self, errno: str, reason: str):
        super().__init__(f"{errno}: {reason}")
        self.errno = errno
        self.reason = reason


def prot_to_vm_flags(prot: str) -> int:
    flags = 0
    if "r" in prot:
        flags |= VM_READ
    if "w" in prot:
        flags |= VM_WRITE
    if "x" in prot:
        flags |= VM_EXEC
    return flags


def get_unmapped_area(mm: MmStruct, length: int, align: int = 4096) -> Optional[int]:
    """Top-down search: the highest free gap whose start is at or below MMAP_TOP.

    The first mapping of a fresh mm therefore starts at 0x7f0000000000 and each later
    one goes just below the lowest, as Linux's top-down allocator does below mmap_base.
    """
    ceiling = mm.system.task_size
    gaps = []
    prev_end = 0x10000                   # vm.mmap_min_addr
    for vma in mm.vmas:
        gaps.append((prev_end, vma.vm_start))
        prev_end = max(prev_end, vma.vm_end)
    gaps.append((prev_end, ceiling))
    for low, high in reversed(gaps):
        start = min(MMAP_TOP, high - length)
        start -= start % align
        if start >= low and start + length <= high:
            return start
    return None


@kfunc(MMAP_C, fault_bits=False)
def do_mmap(mm: MmStruct, addr: Optional[int], length: int, prot: str, shared: bool,
            *, name: str, kind: str, vm_ops: Any = None, vm_file: Any = None,
            pgoff: int = 0, extra_flags: int = 0, align: int = 4096) -> Vma:
    """do_mmap - create a VMA. With `addr` (MAP_FIXED) whatever was there is unmapped."""
    flags = prot_to_vm_flags(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | extra_flags
    if shared:
        flags |= VM_SHARED | VM_MAYSHARE
    if addr is None:
        addr = get_unmapped_area(mm, length, align)
        if addr is None:
            raise MmapError("ENOMEM", "no free range of the address space is large enough")
    else:
        if addr + length > mm.system.task_size:
            raise MmapError("ENOMEM", "the range goes past the top of the user address space")
        do_vmi_munmap(mm, addr, length)
    vma = Vma(mm, addr, addr + length, flags, name=name, kind=kind, pgoff=pgoff,
              vm_file=vm_file, vm_ops=vm_ops)
    vma.vm_page_prot = vm_get_page_prot(flags)
    if vm_ops is not None and hasattr(vm_ops, "mmap_prepare"):
        vm_ops.mmap_prepare(vma)
    mm.insert_vma(vma)
    why(f"{name}: {addr:#x}-{addr + length:#x}")
    return vma


def mapped_prefix_end(mm: MmStruct, start: int, end: int) -> int:
    """Where the mapped part of [start, end) that begins at `start` stops (== end when
    the whole range is mapped). mprotect and mlock change the VMAs up to there and only
    then fail with ENOMEM, as the kernel's VMA walk does."""
    covered = start
    for vma in mm.vmas:
        if vma.vm_start < end and vma.vm_end > start:
            if vma.vm_start > covered:
                break
            covered = vma.vm_end
    return min(covered, end)


def check_range_mapped(mm: MmStruct, start: int, end: int) -> None:
    """ENOMEM when part of [start, end) is not mapped."""
    if mapped_prefix_end(mm, start, end) < end:
        raise MmapError("ENOMEM", "part of the range is not mapped")


def split_vma(vma: Vma, addr: int) -> Vma:
    """__split_vma(): cut `vma` at `addr`; returns the upper part (now its own VMA)."""
    if vma.vm_flags & 0x400000 and addr & 0x1FFFFF:
        # hugetlb_vm_op_split(): a hugetlb VMA splits only on huge-page boundaries
        raise MmapError("EINVAL", "a hugetlb mapping can only be split at a 2 MiB boundary")
    mm = vma.vm_mm
    upper = vma.copy(mm)
    upper.vm_start = addr
    upper.vm_pgoff = vma.vm_pgoff + ((addr - vma.vm_start) >> 12)
    vma.vm_end = addr
    mm.insert_vma(upper)
    from faultlang.kernel.mm.huge_memory import split_huge_pmd_address
    split_huge_pmd_address(vma, addr)
    return upper


def vmas_in_range(mm: MmStruct, start: int, end: int) -> list[Vma]:
    return [v for v in mm.vmas if v.vm_start < end and v.vm_end > start]


def isolate_range(mm: MmStruct, start: int, end: int) -> list[Vma]:
    """Split VMAs so that [start, end) is covered by whole VMAs; return those VMAs."""
    for vma in vmas_in_range(mm, start, end):
        if vma.vm_start < start:
            split_vma(vma, start)
    for vma in vmas_in_range(mm, start, end):
        if vma.vm_end > end:
            split_vma(vma, end)
    return vmas_in_range(mm, start, end)


@kfunc("mm/vma.c", fault_bits=False)
def do_vmi_munmap(mm: MmStruct, start: int, length: int) -> int:
    """do_vmi_munmap - unmap [start, start+length): split, zap, remove, free page tables.
    Returns the number of pages that were mapped (PTEs zapped)."""
    from faultlang.kernel.fs.userfaultfd import userfaultfd_unmap_complete, userfaultfd_unmap_prep
    end = start + length
    zapped = 0
    unmaps: list = []
    for vma in isolate_range(mm, start, end):
        userfaultfd_unmap_prep(vma, start, end, unmaps)     # vms_gather_munmap_vmas
        zapped += zap_page_range_single(vma, vma.vm_start, vma.vm_end, drop_markers=True)
        if vma.vm_flags & VM_LOCKED:
            mm.locked_vm -= (vma.vm_end - vma.vm_start) >> 12
        mm.remove_vma(vma)
    free_pgtables(mm, start, end)
    userfaultfd_unmap_complete(unmaps)
    return zapped


def can_merge(a: Vma, b: Vma) -> bool:
    """is_mergeable_vma() for neighbours a and b (a just below b): same flags, file,
    contiguous offsets, compatible anon_vma, same uffd context, same scenario mapping."""
    return (a.vm_end == b.vm_start and a.vm_flags == b.vm_flags and a.vm_ops is b.vm_ops
            and a.vm_file is b.vm_file and a.name == b.name and a.uffd is b.uffd
            and a.vm_pgoff + ((a.vm_end - a.vm_start) >> 12) == b.vm_pgoff
            and (a.anon_vma is None or b.anon_vma is None or a.anon_vma is b.anon_vma))


def merge_vmas(mm: MmStruct, start: int, end: int) -> None:
    """vma_merge_existing_range(): rejoin neighbours that have become identical."""
    i = 0
    vmas = mm.vmas
    while i < len(vmas) - 1:
        a, b = vmas[i], vmas[i + 1]
        if a.vm_end >= start and b.vm_start <= end and can_merge(a, b):
            a.vm_end = b.vm_end
            a.anon_vma = a.anon_vma or b.anon_vma
            mm.remove_vma(b)
            continue
        i += 1


@kfunc(MMAP_C, fault_bits=False)
def expand_stack_locked(vma: Vma, address: int) -> bool:
    """expand_stack_locked - grow a VM_GROWSDOWN VMA down to `address`.

    Fails (the fault becomes SIGSEGV SEGV_MAPERR) when the stack would exceed
    RLIMIT_STACK or come within stack_guard_gap of the mapping below it.
    """
    mm = vma.vm_mm
    new_start = address & ~0xFFF
    if vma.vm_end - new_start > RLIMIT_STACK:
        why("stack would exceed RLIMIT_STACK (8 MiB)")
        return False
    i = mm.vmas.index(vma)
    if i > 0:
        prev = mm.vmas[i - 1]
        if prev.vm_end + STACK_GUARD_GAP > new_start and not prev.vm_flags & VM_GROWSDOWN:
            why(f"within stack_guard_gap (256 pages) of {prev.name or 'the VMA below'}")
            return False
    grow = (vma.vm_start - new_start) >> 12
    vma.vm_start = new_start
    vma.vm_pgoff -= grow
    mm.reindex()
    why(f"stack grown by {grow} page{'s' if grow != 1 else ''} to {new_start:#x}")
    return True


def vma_set_prot(vma: Vma, prot: str) -> None:
    vma.vm_flags = (vma.vm_flags & ~(VM_READ | VM_WRITE | VM_EXEC)) | prot_to_vm_flags(prot)
    vma.vm_page_prot = vm_get_page_prot(vma.vm_flags)
    if vma.vm_ops is not None and hasattr(vma.vm_ops, "update_page_prot"):
        vma.vm_ops.update_page_prot(vma)


__all__ = ["do_mmap", "do_vmi_munmap", "expand_stack_locked", "get_unmapped_area",
           "isolate_range", "merge_vmas", "MmapError", "VM_SHARED", "VM_MAYSHARE"]
