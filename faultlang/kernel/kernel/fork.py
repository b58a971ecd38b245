"""Mirrors kernel/fork.c: fork() copies the address space (dup_mmap).

MADV_DONTFORK VMAs are left out, MADV_WIPEONFORK VMAs arrive empty, and the rest
copy their page tables when vma_needs_copy() says so: the COW write-protection and
the page sharing happen in copy_page_range (mm/memory.c). The child's counters
start at zero.
"""

from __future__ import annotations

from faultlang.kernel.include.linux.mm_types import MmStruct, Vma
from faultlang.kernel.include.linux.sched import Task
from faultlang.kernel.mm.memory import copy_page_range
from faultlang.kernel.mm.rmap import anon_vma_fork
from faultlang.kernel.trace import kfunc, why

VM_DONTCOPY = 0x20000
VM_WIPEONFORK = 0x2000000
VM_UFFD_WP = 0x1000
VM_PFNMAP_MIXED = 0x400 | 0x10000000


def vma_needs_copy(dst_vma: Vma, src_vma: Vma) -> bool:
    """vma_needs_copy(): uffd-wp registered, PFN/mixed maps, or any anonymous pages."""
    if dst_vma.vm_flags & VM_UFFD_WP:
        return True
    if src_vma.vm_flags & VM_PFNMAP_MIXED:
        return True
    return src_vma.anon_vma is not None


@kfunc("kernel/fork.c", fault_bits=False)
def dup_mmap(mm: MmStruct, oldmm: MmStruct) -> list[str]:
    """dup_mmap - copy the parent's VMAs (and, where needed, page tables) into `mm`."""
    from faultlang.kernel.fs.userfaultfd import dup_userfaultfd, dup_userfaultfd_complete
    notes = []
    fcs: dict = {}                   # the list of userfaultfd_fork_ctx
    for src in oldmm.vmas:
        if src.vm_flags & VM_DONTCOPY:
            notes.append(f"{src.name}: MADV_DONTFORK, not in the child")
            continue
        dst = src.copy(mm)
        dst.anon_vma = None
        # hugetlb_dup_vma_private(): a private hugetlb mapping's reserve map stays the
        # parent's; the child's faults take whatever the pool has free.
        dst.vm_private_data = None
        dup_userfaultfd(dst, fcs)
        if src.vm_flags & VM_WIPEONFORK:
            mm.insert_vma(dst)
            notes.append(f"{src.name}: MADV_WIPEONFORK, the child's copy starts empty")
            continue
        anon_vma_fork(dst, src)
        mm.insert_vma(dst)
        if vma_needs_copy(dst, src):
            copy_page_range(dst, src)
        else:
            notes.append(f"{src.name}: no anonymous pages, page tables not copied")
    why(f"{len(mm.vmas)} VMAs copied")
    dup_userfaultfd_complete(fcs)
    return notes


@kfunc("kernel/fork.c", fault_bits=False)
def copy_process(parent: Task, comm: str) -> tuple[Task, list[str]]:
    """copy_process - a new task with a copy of the parent's mm and zeroed counters."""
    system = parent.mm.system
    mm = system.new_mm()
    mm.mmap_base = parent.mm.mmap_base
    child = system.new_task(comm, mm, parent)
    child.numa_node = parent.numa_node
    return child, dup_mmap(mm, parent.mm)
