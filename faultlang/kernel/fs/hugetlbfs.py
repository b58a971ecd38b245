"""Mirrors fs/hugetlbfs/inode.c (Linux 6.18): files on hugetlbfs.

A hugetlbfs file has no backing store: its contents exist only in hugetlb pool pages,
kept in its page cache (HugetlbFile, mm/hugetlb.py) until the file shrinks. Every
mapping of it is a hugetlb VMA: hugetlb_get_unmapped_area wants a length (and a fixed
address) that are whole huge pages, hugetlbfs_file_mmap_prepare a huge-page aligned
offset (EINVAL otherwise) and reserves the pool pages (ENOMEM); a writable mapping
past EOF grows the file to cover it. fallocate(2) fills the page cache from the pool;
truncate (hugetlbfs_setattr, huge-page sizes only) unmaps and frees what lies beyond
the new size, so a later fault there is SIGBUS.

Simplified: no subpool (mount size limits), no seals, no hole punching; fallocate
always covers whole huge pages of the file.
"""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.include.linux.mm_types import VM_WRITE, Vma
from faultlang.kernel.include.linux.pgtable import HPAGE_PMD_NR, PMD_SIZE
from faultlang.kernel.mm.hugetlb import (
    HugetlbFile, dequeue_hugetlb_folio, hugetlb_add_to_page_cache, hugetlb_put,
    hugetlb_reserve_pages, unmap_hugepage_range,
)
from faultlang.kernel.trace import kfunc, why

INODE_C = "fs/hugetlbfs/inode.c"
HPAGE_MASK = ~(PMD_SIZE - 1)


class HugetlbfsError(Exception):
    """A system call on a hugetlbfs file failed: errno name and why."""

    def __init__(self, errno: str, reason: str):
        super().__init__(f"{errno}: {reason}")
        self.errno = errno
        self.reason = reason


@kfunc(INODE_C, fault_bits=False)
def hugetlb_get_unmapped_area(file: HugetlbFile, addr: Optional[int], length: int) -> None:
    """hugetlb_get_unmapped_area - a hugetlbfs mapping is whole huge pages, and a fixed
    address (MAP_FIXED) must be huge-page aligned: EINVAL otherwise."""
    from faultlang.kernel.mm.mmap import MmapError
    if length & ~HPAGE_MASK:
        raise MmapError("EINVAL", f"a mapping of {file.name} must be a whole number of "
                        "2 MiB huge pages")
    if addr is not None and addr & ~HPAGE_MASK:
        raise MmapError("EINVAL", f"{addr:#x} is not 2 MiB aligned")


@kfunc(INODE_C, fault_bits=False)
def hugetlbfs_file_mmap_prepare(vma: Vma) -> None:
    """hugetlbfs_file_mmap_prepare - the file offset must be huge-page aligned (EINVAL);
    reserve the pool pages the mapping covers (ENOMEM); a writable mapping that reaches
    past EOF extends i_size to its end."""
    from faultlang.kernel.mm.mmap import MmapError
    file: HugetlbFile = vma.vm_file
    if vma.vm_pgoff & (HPAGE_PMD_NR - 1):
        raise MmapError("EINVAL", "the file offset is not a multiple of the 2 MiB huge page")
    end = (vma.vm_pgoff << 12) + vma.vm_end - vma.vm_start
    hugetlb_reserve_pages(file, vma.vm_pgoff >> 9, end >> 21, vma)
    if vma.vm_flags & VM_WRITE and file.i_size < end:
        why(f"writable mapping past EOF: i_size grows to {end}")
        file.i_size = end


@kfunc(INODE_C, fault_bits=False)
def hugetlbfs_fallocate(file: HugetlbFile, start: int, end: int) -> int:
    """hugetlbfs_fallocate - allocate the huge pages of bytes [start, end) into the
    page cache (a reservation if the inode holds one, else a free unreserved pool
    page; none left → ENOSPC, keeping what was allocated). Returns pages added."""
    h = file.system.hstate
    added = 0
    for idx in range(start >> 21, (end + PMD_SIZE - 1) >> 21):
        if idx in file.cache:
            continue
        folio = dequeue_hugetlb_folio(h, file, idx)
        if folio is None:
            raise HugetlbfsError("ENOSPC", f"no free huge page for page {idx} of {file.name} "
                                 f"({added} allocated)")
        mem = file.system.phys.mem
        mem[folio.pfn:folio.pfn + HPAGE_PMD_NR] = [0] * HPAGE_PMD_NR     # clear_huge_page
        hugetlb_add_to_page_cache(folio, file, idx)
        added += 1
    why(f"{added} huge pages allocated into the page cache")
    return added


@kfunc(INODE_C, fault_bits=False)
def hugetlbfs_setattr(file: HugetlbFile, size: int) -> int:
    """hugetlbfs_setattr - a new size must be a whole number of huge pages (EINVAL);
    then hugetlb_vmtruncate. Returns the pages unmapped."""
    if size & ~HPAGE_MASK:
        raise HugetlbfsError("EINVAL", f"{size} bytes is not a multiple of the 2 MiB "
                             "huge page")
    return hugetlb_vmtruncate(file, size)


@kfunc(INODE_C, fault_bits=False)
def hugetlb_vmtruncate(file: HugetlbFile, size: int) -> int:
    """hugetlb_vmtruncate - set i_size, unmap everything at or beyond it from every
    VMA of the file, shared or private (hugetlb_vmdelete_list), then drop those pages
    from the page cache (remove_inode_hugepages). Returns the pages unmapped (512 per
    huge PTE, as munmap counts them)."""
    from faultlang.kernel.mm.filemap import file_vmas
    file.i_size = size
    first = size >> 12                   # pgoff of the new EOF
    zapped = 0
    for vma in list(file_vmas(file)):
        last = vma.vm_pgoff + ((vma.vm_end - vma.vm_start) >> 12)
        if last <= first:
            continue
        start = vma.vm_start + (max(0, first - vma.vm_pgoff) << 12)
        zapped += unmap_hugepage_range(vma, start, vma.vm_end, False)
    remove_inode_hugepages(file, size)
    return zapped


def remove_inode_hugepages(file: HugetlbFile, lstart: int) -> int:
    """remove_inode_hugepages() of a truncation: every cached page from lstart on
    leaves the page cache and, unmapped now, goes back to the pool; then
    hugetlb_unreserve_pages gives back the reservations no page consumed."""
    system = file.system
    first = lstart >> 21
    freed = 0
    for idx in [i for i in sorted(file.cache) if i >= first]:
        folio = file.cache.pop(idx)            # hugetlb_delete_from_page_cache
        folio.mapping = None
        hugetlb_put(system, folio, 1)
        freed += 1
    gone = {i for i in file.reserved if i >= first}
    file.reserved -= gone
    if gone:
        system.hstate.resv_huge_pages -= len(gone)
    why(f"{freed} huge pages freed to the pool, {len(gone)} reservations given back")
    return freed


def is_file_hugepages(file) -> bool:
    return isinstance(file, HugetlbFile)


__all__ = ["HugetlbfsError", "hugetlb_get_unmapped_area", "hugetlbfs_fallocate",
           "hugetlbfs_file_mmap_prepare", "hugetlbfs_setattr", "is_file_hugepages"]
