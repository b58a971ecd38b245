"""Mirrors mm/hugetlb.c (Linux 6.18): the hugetlb pool, reservations and hugetlb faults.

`set hugepages N` fills the pool at boot (hugetlb_init: order-9 blocks from the buddy
allocator). A MAP_HUGETLB mapping reserves pool pages at mmap time (ENOMEM when the pool
is too small) unless MAP_NORESERVE; hugetlb_fault → hugetlb_no_page maps one 2 MiB
page per fault (private: read-only, then hugetlb_wp on a write; shared: through the
mapping's hugetlb page cache, so every process sees the same page), never MAJOR.

Simplified: one hstate (2 MiB); no surplus pages (nr_overcommit_hugepages 0), no PMD
sharing, no subpool; the anonymous hugetlbfs file of a mapping gives its pages back
when its last VMA is unmapped. A parent whose COW copy cannot be allocated gets
SIGBUS instead of stealing the page back from the child (unmap_ref_private). Hugetlb
pages are not counted in RSS, as in Linux (they show in HugetlbPages).
"""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_UNSHARE, FAULT_FLAG_WRITE, VM_FAULT_SIGBUS, VM_SHARED, VM_WRITE, Folio,
    MmStruct, Vma, VmFault,
)
from faultlang.kernel.include.linux.pgtable import HPAGE_PMD_NR, PMD_MASK, PMD_SIZE
from faultlang.kernel.trace import kfunc, why

HUGETLB_C = "mm/hugetlb.c"
VM_NORESERVE = 0x200000
VM_HUGETLB = 0x400000
HUGETLB_ORDER = 9


class HState:
    """struct hstate — the 2 MiB pool: nr_huge_pages, the free list and reservations."""

    def __init__(self) -> None:
        self.free: list[Folio] = []       # hugepage_freelists
        self.heads: set[int] = set()      # head PFN of every pool page
        self.nr_huge_pages = 0
        self.resv_huge_pages = 0
        self.surplus_huge_pages = 0

    @property
    def free_huge_pages(self) -> int:
        return len(self.free)

    def owns(self, folio: Folio) -> bool:
        return folio.pfn in self.heads


class HugetlbFile:
    """The anonymous hugetlbfs inode behind one MAP_HUGETLB mapping: its page cache
    (shared mappings), the huge-page indices still reserved, and the reserving mm."""

    def __init__(self, name: str, owner: MmStruct, shared: bool):
        self.name = name
        self.cache: dict[int, Folio] = {}
        self.reserved: set[int] = set()
        self.owner = owner
        self.shared = shared


class HugetlbVmOps:
    """hugetlb_vm_ops: mmap reserves pool pages; peek reads a cached page unmapped."""

    name = "hugetlb_vm_ops"

    def mmap_prepare(self, vma: Vma) -> None:
        hugetlb_reserve_pages(vma)

    def peek(self, vma: Vma, address: int) -> int:
        folio = vma.vm_file.cache.get(vma_hugecache_offset(vma, address))
        if folio is None:
            return 0
        return vma.vm_mm.system.phys.mem[folio.pfn + ((address >> 12) & 511)]


hugetlb_vm_ops = HugetlbVmOps()


def hugetlb_init(system) -> Optional[HState]:
    """hugetlb_init(): take nr_hugepages order-9 blocks from the buddy allocator (fewer
    when RAM runs out, as the kernel does)."""
    wanted = system.settings.hugepages
    if not wanted:
        return None
    from faultlang.kernel.mm.page_alloc import alloc_pages
    h = HState()
    for _ in range(wanted):
        folio = alloc_pages(system.phys, HUGETLB_ORDER)
        if folio is None:
            break
        folio.refcount = 0
        h.heads.add(folio.pfn)
        h.free.append(folio)
        h.nr_huge_pages += 1
    h.free.reverse()                      # lowest PFN is handed out first
    return h


def vma_hugecache_offset(vma: Vma, address: int) -> int:
    return ((address - vma.vm_start) >> 21) + (vma.vm_pgoff >> 9)


@kfunc(HUGETLB_C, fault_bits=False)
def hugetlb_reserve_pages(vma: Vma) -> None:
    """hugetlb_reserve_pages - reserve the mapping's pool pages at mmap time; not enough
    free unreserved pages → ENOMEM. MAP_NORESERVE reserves nothing."""
    from faultlang.kernel.mm.mmap import MmapError
    h = vma.vm_mm.system.hstate
    if vma.vm_flags & VM_NORESERVE:
        why("MAP_NORESERVE: nothing reserved")
        return
    file = vma.vm_file
    first = vma_hugecache_offset(vma, vma.vm_start)
    wanted = {i for i in range(first, first + ((vma.vm_end - vma.vm_start) >> 21))
              if i not in file.cache and i not in file.reserved}
    free = 0 if h is None else h.free_huge_pages - h.resv_huge_pages
    if h is None or len(wanted) > free:
        raise MmapError("ENOMEM", f"{len(wanted)} huge pages to reserve, "
                        f"{max(free, 0)} free and unreserved in the pool")
    h.resv_huge_pages += len(wanted)
    file.reserved |= wanted
    why(f"{len(wanted)} huge pages reserved")


def alloc_hugetlb_folio(vma: Vma, idx: int) -> Optional[Folio]:
    """alloc_hugetlb_folio(): a pool page: the VMA's reservation if it has one for idx,
    else a free unreserved page, else None (no overcommit)."""
    h = vma.vm_mm.system.hstate
    if h is None:
        return None
    file = vma.vm_file
    if idx in file.reserved and (file.shared or vma.vm_mm is file.owner) \
            and not vma.vm_flags & VM_NORESERVE:
        why("consume the mapping's reservation")
        file.reserved.discard(idx)
        h.resv_huge_pages -= 1
    elif h.free_huge_pages - h.resv_huge_pages <= 0:
        why("no free unreserved huge page in the pool")
        return None
    folio = h.free.pop()
    folio.refcount = 1
    return folio


def free_huge_folio(system, folio: Folio) -> None:
    """free_huge_folio(): the last reference is gone; back on the pool's free list."""
    folio.anon = False
    folio.mapping = None
    folio.exclusive.clear()
    folio.mapcount = 0
    folio.refcount = 0
    folio.dirty = False
    system.hstate.free.append(folio)


def hugetlb_put(system, folio: Folio, nr: int) -> None:
    folio.refcount -= nr
    if folio.refcount == 0:
        free_huge_folio(system, folio)


@kfunc(HUGETLB_C)
def hugetlb_fault(mm: MmStruct, vma: Vma, address: int, flags: int) -> int:
    """hugetlb_fault - every fault in a hugetlb VMA: a none huge PTE → hugetlb_no_page;
    a write to a read-only one in a private VMA → hugetlb_wp; else set young/dirty."""
    from faultlang.kernel.mm.memory import pmd_table_of
    haddr = address & PMD_MASK
    vmf = VmFault(vma, address, flags)
    vmf.pmd_table = pmd_table_of(mm, haddr, True)
    vmf.pmd_index = (haddr >> 21) & 511
    entry = vmf.pmd_table[vmf.pmd_index]
    if entry is None:
        why("huge PTE none")
        return hugetlb_no_page(vmf)
    write = flags & FAULT_FLAG_WRITE
    if flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE) and not entry & pt._PAGE_RW:
        if not vma.vm_flags & VM_SHARED:
            if entry & pt._PAGE_UFFD_WP and vma.uffd is not None and vma.uffd.wp \
                    and not vma.uffd.wp_async:
                from faultlang.kernel.fs.userfaultfd import handle_userfault
                return handle_userfault(vmf, "wp")
            why("write to a read-only huge PTE of a private mapping")
            return hugetlb_wp(vmf)
        if write:
            entry |= pt._PAGE_RW
    new = entry | pt._PAGE_ACCESSED | (pt._PAGE_DIRTY if write else 0)
    why("set young/dirty" if new != entry else "nothing to change: a spurious fault")
    vmf.pmd_table[vmf.pmd_index] = new
    return 0


@kfunc(HUGETLB_C)
def hugetlb_no_page(vmf: VmFault) -> int:
    """hugetlb_no_page - find the huge page in the mapping's page cache or allocate a
    zeroed one from the pool (none left → SIGBUS); map it writable only if shared;
    a private write fault goes on to hugetlb_wp at once."""
    vma = vmf.vma
    mm = vma.vm_mm
    system = mm.system
    file = vma.vm_file
    idx = vma_hugecache_offset(vma, vmf.address)
    shared = bool(vma.vm_flags & VM_SHARED)
    folio = file.cache.get(idx) if shared else None
    if folio is not None:
        why("found in the hugetlb page cache")
    else:
        if vma.uffd is not None and vma.uffd.missing:
            from faultlang.kernel.fs.userfaultfd import handle_userfault
            return handle_userfault(vmf, "missing")
        if not shared:
            from faultlang.kernel.mm.memory import vmf_anon_prepare
            vmf_anon_prepare(vmf)
        folio = alloc_hugetlb_folio(vma, idx)
        if folio is None:
            why("allocation failed: SIGBUS")
            return VM_FAULT_SIGBUS
        mem = system.phys.mem
        for p in range(folio.pfn, folio.pfn + HPAGE_PMD_NR):     # folio_zero_user
            mem[p] = 0
        if shared:
            why("new page added to the hugetlb page cache")
            folio.mapping = file
            file.cache[idx] = folio
        else:
            why("new anonymous huge page")
    haddr = vmf.address & PMD_MASK
    entry = (folio.pfn << 12) | pt._PAGE_PSE | vma.vm_page_prot | pt._PAGE_ACCESSED
    if shared:
        folio.mapcount += HPAGE_PMD_NR
        folio.refcount += HPAGE_PMD_NR
        if vmf.flags & FAULT_FLAG_WRITE:
            entry |= pt._PAGE_DIRTY
    else:
        from faultlang.kernel.mm.rmap import folio_add_new_anon_rmap
        folio_add_new_anon_rmap(folio, vma, haddr)
    vmf.pmd_table[vmf.pmd_index] = entry
    if vmf.flags & FAULT_FLAG_WRITE and not shared:
        return hugetlb_wp(vmf)
    return 0


@kfunc(HUGETLB_C)
def hugetlb_wp(vmf: VmFault) -> int:
    """hugetlb_wp - a write to a read-only private huge page: reuse it when this mapping
    is its only user (PageAnonExclusive), else copy the 2 MiB into a new pool page."""
    vma = vmf.vma
    system = vma.vm_mm.system
    entry = vmf.pmd_table[vmf.pmd_index]
    old = system.phys.page_folio((entry & pt.PFN_MASK) >> 12)
    if old.anon and (0 in old.exclusive or old.refcount == old.mapcount == HPAGE_PMD_NR):
        why("anonymous huge page exclusive to this mapping: reuse it")
        old.exclusive = set(range(HPAGE_PMD_NR))
        old.mapping = vma.anon_vma
        if not vmf.flags & FAULT_FLAG_UNSHARE:
            vmf.pmd_table[vmf.pmd_index] = entry | pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (
                pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
        return 0
    why(f"huge page shared ({old.mapcount // HPAGE_PMD_NR} mappings): copy it")
    from faultlang.kernel.mm.memory import vmf_anon_prepare
    vmf_anon_prepare(vmf)
    new = alloc_hugetlb_folio(vma, vma_hugecache_offset(vma, vmf.address))
    if new is None:
        why("no huge page for the copy: SIGBUS")
        return VM_FAULT_SIGBUS
    mem = system.phys.mem
    mem[new.pfn:new.pfn + HPAGE_PMD_NR] = mem[old.pfn:old.pfn + HPAGE_PMD_NR]
    from faultlang.kernel.mm.rmap import folio_add_new_anon_rmap
    folio_add_new_anon_rmap(new, vma, vmf.address & PMD_MASK)
    vmf.pmd_table[vmf.pmd_index] = (new.pfn << 12) | (entry & ~pt.PFN_MASK) | \
        pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
    old.mapcount -= HPAGE_PMD_NR
    hugetlb_put(system, old, HPAGE_PMD_NR)
    return 0


@kfunc(HUGETLB_C, symbol="__unmap_hugepage_range", fault_bits=False)
def unmap_hugepage_range(vma: Vma, start: int, end: int, final: bool = True) -> int:
    """__unmap_hugepage_range - clear the huge PTEs of [start, end); pages whose last
    reference goes return to the pool. `final` (munmap, exit) also gives back the
    VMA's unused reservations and, with the file's last VMA, its page cache."""
    from faultlang.kernel.mm.huge_memory import walk_huge_pmds
    mm = vma.vm_mm
    system = mm.system
    count = 0
    for pmd, i, haddr in list(walk_huge_pmds(mm, start, end)):
        if haddr < start or haddr + PMD_SIZE > end:
            continue
        entry = pmd[i]
        pmd[i] = None
        folio = system.phys.page_folio((entry & pt.PFN_MASK) >> 12)
        if folio is not None:
            if entry & pt._PAGE_DIRTY and not folio.anon:
                folio.dirty = True
            folio.mapcount -= HPAGE_PMD_NR
            hugetlb_put(system, folio, HPAGE_PMD_NR)
        count += HPAGE_PMD_NR
    if final and system.hstate is not None:
        hugetlb_vm_op_close(vma, start, end)
    return count


def hugetlb_vm_op_close(vma: Vma, start: int, end: int) -> None:
    """hugetlb_vm_op_close() and the inode's eviction: a private VMA gives back the
    reservations of [start, end); the last VMA of the file frees its page cache and
    whatever reservations remain."""
    system = vma.vm_mm.system
    h = system.hstate
    file = vma.vm_file
    if not file.shared and vma.vm_mm is file.owner:
        lo, hi = vma_hugecache_offset(vma, start), vma_hugecache_offset(vma, end)
        gone = {i for i in file.reserved if lo <= i < hi}
        file.reserved -= gone
        h.resv_huge_pages -= len(gone)
    others = any(v.vm_file is file and v is not vma
                 for task in system.tasks.values() for v in task.mm.vmas)
    if others or start > vma.vm_start or end < vma.vm_end:
        return
    h.resv_huge_pages -= len(file.reserved)
    file.reserved.clear()
    for folio in file.cache.values():
        hugetlb_put(system, folio, 1)
    file.cache.clear()


@kfunc(HUGETLB_C, fault_bits=False)
def copy_hugetlb_page_range(dst_vma: Vma, src_vma: Vma) -> int:
    """copy_hugetlb_page_range - fork: share each huge page with the child; a private
    (COW) mapping is write-protected in both, and its pages lose PageAnonExclusive."""
    from faultlang.kernel.mm.huge_memory import walk_huge_pmds
    from faultlang.kernel.mm.memory import pmd_table_of
    from faultlang.kernel.include.linux.mm_types import is_cow_mapping
    system = src_vma.vm_mm.system
    cow = is_cow_mapping(src_vma.vm_flags)
    copied = 0
    for pmd, i, haddr in list(walk_huge_pmds(src_vma.vm_mm, src_vma.vm_start, src_vma.vm_end)):
        entry = pmd[i]
        folio = system.phys.page_folio((entry & pt.PFN_MASK) >> 12)
        if folio is not None:
            if folio.anon:
                folio.exclusive.clear()
            folio.mapcount += HPAGE_PMD_NR
            folio.refcount += HPAGE_PMD_NR
        if cow:
            entry &= ~pt._PAGE_RW
            pmd[i] = entry
        dst = pmd_table_of(dst_vma.vm_mm, haddr, True)
        dst[i] = entry & ~pt._PAGE_ACCESSED
        copied += 1
    return copied


def madvise_dontneed_hugetlb(vma: Vma, start: int, end: int) -> int:
    """madvise_dontneed_free_valid_vma() for hugetlb: the start must be huge-page
    aligned (EINVAL) and the end is rounded down, so no partial huge page is lost."""
    from faultlang.kernel.mm.mmap import MmapError
    if start & ~PMD_MASK:
        raise MmapError("EINVAL", "MADV_DONTNEED on hugetlb needs a 2 MiB aligned start")
    end &= PMD_MASK
    if end <= start:
        why("range rounded down to no whole huge page")
        return 0
    return unmap_hugepage_range(vma, start, end, False)


def hugetlb_counters(system) -> tuple[int, int, int, int]:
    """HugePages_Total, _Free, _Rsvd, _Surp (/proc/meminfo)."""
    h = system.hstate
    if h is None:
        return 0, 0, 0, 0
    return h.nr_huge_pages, h.free_huge_pages, h.resv_huge_pages, h.surplus_huge_pages
