"""Mirrors mm/hugetlb.c (Linux 6.18): the hugetlb pool, reservations and hugetlb faults.

`set hugepages N` fills the pool at boot (hugetlb_init: order-9 blocks from the buddy
allocator). A hugetlb mmap (MAP_HUGETLB, or a file on hugetlbfs: fs/hugetlbfs.py)
reserves pool pages at mmap time (ENOMEM when the pool is too small) unless
MAP_NORESERVE: a shared mapping in its inode's reserve map, a private one in a reserve
map of its own (vm_private_data, which a fork child does not inherit).
hugetlb_fault → hugetlb_no_page maps one 2 MiB page per fault, found in the file's page
cache or allocated from the pool (private: read-only, then hugetlb_wp on a write;
shared: added to the page cache, so every process sees the same page), never MAJOR.

Simplified: one hstate (2 MiB); no surplus pages (nr_overcommit_hugepages 0), no PMD
sharing, no subpool; the anonymous hugetlbfs file of a MAP_HUGETLB mapping gives its
pages back when its last VMA is unmapped (a named file keeps them until truncated). A
parent whose COW copy cannot be allocated gets SIGBUS instead of stealing the page back
from the child (unmap_ref_private). Hugetlb pages are not counted in RSS, as in Linux
(they show in HugetlbPages).
"""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_UNSHARE, FAULT_FLAG_WRITE, VM_FAULT_SIGBUS, VM_SHARED, VM_WRITE, Folio,
    MmStruct, Vma, VmFault, PageAnonExclusive,
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
    """A hugetlbfs inode with its address_space: the page cache of huge folios (by
    huge-page index; folio.index counts base pages, as since 6.7), the inode's reserve
    map (the indices reserved by shared mappings and not yet instantiated) and i_size.

    `anonymous`: the unlinked file behind one MAP_HUGETLB mapping (hugetlb_file_setup),
    evicted with its last VMA. A named file (`file F on hugetlbfs`) lives on: its pages
    exist only in the pool and stay in its page cache until it is truncated."""

    fs = "hugetlbfs"
    shmem = False
    memfd = False

    def __init__(self, system, name: str, size: int, anonymous: bool = False):
        self.system = system
        self.name = name
        self.i_size = size
        self.anonymous = anonymous
        self.cache: dict[int, Folio] = {}
        self.reserved: set[int] = set()

    def __repr__(self) -> str:
        return f"HugetlbFile({self.name}, {self.i_size} bytes, {len(self.cache)} huge pages)"

    @property
    def nr_pages(self) -> int:
        return (self.i_size + 4095) >> 12

    @property
    def nr_huge_pages(self) -> int:
        """i_size in huge pages: the first huge-page index beyond EOF."""
        return self.i_size >> 21

    @property
    def i_pages(self) -> dict[int, Folio]:
        """Base-page index → folio, as the xarray's multi-index entries hold them."""
        return {f.index + k: f for f in self.folios() for k in range(HPAGE_PMD_NR)}

    def folios(self) -> list[Folio]:
        return [self.cache[i] for i in sorted(self.cache)]


class ResvMap:
    """struct resv_map of a MAP_PRIVATE hugetlb mapping (vm_private_data, with
    HPAGE_RESV_OWNER): the huge-page indices whose reservation is still unused. The
    VMAs split from one mmap share it (hugetlb_vm_op_open)."""

    def __init__(self, reserved: set[int]):
        self.reserved = reserved


class HugetlbVmOps:
    """hugetlb_vm_ops: mmap reserves pool pages; peek reads a cached page unmapped."""

    name = "hugetlb_vm_ops"

    def __deepcopy__(self, memo) -> "HugetlbVmOps":
        return self                      # shared by every hugetlb VMA, compared by identity

    def __repr__(self) -> str:
        return self.name

    def mmap_prepare(self, vma: Vma) -> None:
        """file->f_op->mmap_prepare of every hugetlb mapping: hugetlbfs_file_mmap_prepare."""
        from faultlang.kernel.fs.hugetlbfs import hugetlbfs_file_mmap_prepare
        hugetlbfs_file_mmap_prepare(vma)

    def peek(self, vma: Vma, address: int) -> Optional[int]:
        file = vma.vm_file
        idx = vma_hugecache_offset(vma, address)
        folio = file.cache.get(idx)
        if folio is None:
            return None if idx >= file.nr_huge_pages else 0
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
def hugetlb_reserve_pages(file: HugetlbFile, first: int, last: int, vma: Vma) -> None:
    """hugetlb_reserve_pages - reserve huge pages [first, last) of the file at mmap time;
    not enough free unreserved pages → ENOMEM. A shared mapping reserves what the
    inode's reserve map and page cache do not hold yet (region_chg); a private one all
    of its pages, in a reserve map of its own (even over cached pages: each may need
    a COW copy). MAP_NORESERVE reserves nothing."""
    from faultlang.kernel.mm.mmap import MmapError
    h = vma.vm_mm.system.hstate
    if vma.vm_flags & VM_NORESERVE:
        why("MAP_NORESERVE: nothing reserved")
        return
    shared = bool(vma.vm_flags & VM_SHARED)
    wanted = {i for i in range(first, last)
              if not shared or (i not in file.cache and i not in file.reserved)}
    free = 0 if h is None else h.free_huge_pages - h.resv_huge_pages
    if h is None or len(wanted) > free:
        raise MmapError("ENOMEM", f"{len(wanted)} huge pages to reserve, "
                        f"{max(free, 0)} free and unreserved in the pool")
    h.resv_huge_pages += len(wanted)
    if shared:
        file.reserved |= wanted
    else:
        vma.vm_private_data = ResvMap(wanted)      # set_vma_resv_map, HPAGE_RESV_OWNER
    why(f"{len(wanted)} huge pages reserved")


def alloc_hugetlb_folio(vma: Vma, idx: int) -> Optional[Folio]:
    """alloc_hugetlb_folio(): a pool page: a reservation for idx if there is one (the
    inode's for a shared mapping, the VMA's own for a private one), else a free
    unreserved page, else None (no overcommit)."""
    resv = vma.vm_file if vma.vm_flags & VM_SHARED else vma.vm_private_data
    return dequeue_hugetlb_folio(vma.vm_mm.system.hstate, resv, idx)


def dequeue_hugetlb_folio(h: Optional[HState], resv, idx: int) -> Optional[Folio]:
    """Take a page off the pool's free list for index idx: its reservation in `resv`
    (an inode or a ResvMap, or None) if there is one, else a free unreserved page."""
    if h is None:
        return None
    if resv is not None and idx in resv.reserved:
        why("consume the mapping's reservation")
        resv.reserved.discard(idx)
        h.resv_huge_pages -= 1
    elif h.free_huge_pages - h.resv_huge_pages <= 0:
        why("no free unreserved huge page in the pool")
        return None
    folio = h.free.pop()
    folio.refcount = 1
    return folio


def hugetlb_add_to_page_cache(folio: Folio, file: HugetlbFile, idx: int) -> None:
    """hugetlb_add_to_page_cache(): the page cache holds the folio's first reference.
    It is marked dirty so that no generic path (drop_caches) ever drops it: its
    contents exist nowhere else."""
    folio.mapping = file
    folio.index = idx << HUGETLB_ORDER
    folio.dirty = True
    file.cache[idx] = folio


def free_huge_folio(system, folio: Folio) -> None:
    """free_huge_folio(): the last reference is gone; back on the pool's free list."""
    folio.anon = False
    folio.mapping = None
    folio.exclusive = 0
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
        # userfault-wp first, shared or private, before any CoW
        if write and entry & pt._PAGE_UFFD_WP and vma.uffd is not None and vma.uffd.wp:
            if not vma.uffd.wp_async:
                why("huge PTE is uffd-wp protected")
                from faultlang.kernel.fs.userfaultfd import handle_userfault
                return handle_userfault(vmf, "wp")
            entry &= ~pt._PAGE_UFFD_WP
            vmf.pmd_table[vmf.pmd_index] = entry
        if not vma.vm_flags & VM_SHARED:
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
    anon_rmap = False
    folio = file.cache.get(idx)                  # filemap_lock_hugetlb_folio
    if folio is not None and vma.uffd is not None and vma.uffd.minor:
        why(f"huge page {idx} is in the page cache, VMA registered uffd-minor")
        from faultlang.kernel.fs.userfaultfd import handle_userfault
        return handle_userfault(vmf, "minor")       # hugetlb_handle_userfault
    if folio is not None:
        why("found in the hugetlb page cache" + ("" if shared else
                                                 ": mapped read-only in a private mapping"))
    else:
        if idx >= file.nr_huge_pages:
            why(f"huge page {idx} is beyond EOF ({file.nr_huge_pages} huge pages): SIGBUS")
            return VM_FAULT_SIGBUS
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
            hugetlb_add_to_page_cache(folio, file, idx)
        else:
            why("new anonymous huge page")
            anon_rmap = True
    haddr = vmf.address & PMD_MASK
    entry = (folio.pfn << 12) | pt._PAGE_PSE | vma.vm_page_prot | pt._PAGE_ACCESSED
    if anon_rmap:
        from faultlang.kernel.mm.rmap import folio_add_new_anon_rmap
        folio_add_new_anon_rmap(folio, vma, haddr)
    else:                                        # hugetlb_add_file_rmap
        folio.mapcount += HPAGE_PMD_NR
        folio.refcount += HPAGE_PMD_NR
        if shared and vmf.flags & FAULT_FLAG_WRITE:
            entry |= pt._PAGE_DIRTY
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
    if old.anon and (PageAnonExclusive(old) or old.refcount == old.mapcount == HPAGE_PMD_NR):
        why("anonymous huge page exclusive to this mapping: reuse it")
        old.exclusive = (1 << HPAGE_PMD_NR) - 1     # every page PageAnonExclusive
        old.mapping = vma.anon_vma
        if not vmf.flags & FAULT_FLAG_UNSHARE:
            vmf.pmd_table[vmf.pmd_index] = entry | pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (
                pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
        return 0
    why(f"huge page shared ({old.mapcount // HPAGE_PMD_NR} mappings): copy it" if old.anon
        else "huge page of the file's page cache: copy it for this private mapping")
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
    """hugetlb_vm_op_close() and, for a MAP_HUGETLB file, the inode's eviction: a
    private VMA gives back its unused reservations in [start, end); the last VMA of an
    anonymous file frees its page cache and whatever reservations remain."""
    system = vma.vm_mm.system
    h = system.hstate
    file = vma.vm_file
    resv = vma.vm_private_data
    if resv is not None and not vma.vm_flags & VM_SHARED:
        lo, hi = vma_hugecache_offset(vma, start), vma_hugecache_offset(vma, end)
        gone = {i for i in resv.reserved if lo <= i < hi}
        resv.reserved -= gone
        h.resv_huge_pages -= len(gone)
    if not file.anonymous:
        return                           # a named file keeps its pages and reservations
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
                folio.exclusive = 0
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


@kfunc(HUGETLB_C, fault_bits=False)
def hugetlb_mfill_atomic_pte(vma: Vma, pmd: list, index: int, addr: int, is_continue: bool,
                             value: int, wp: bool) -> Optional[tuple[str, str]]:
    """hugetlb_mfill_atomic_pte - UFFDIO_COPY / CONTINUE of one huge page. CONTINUE maps
    the page-cache page (none: -EFAULT); COPY fills a new pool page (none left: -ENOMEM)
    and, in a shared mapping, adds it to the page cache (already there: -EEXIST).
    Writable unless MFILL_ATOMIC_WP or a CONTINUE in a private mapping. Returns the
    (errno, reason) of a failure, or None."""
    file = vma.vm_file
    idx = vma_hugecache_offset(vma, addr)
    shared = bool(vma.vm_flags & VM_SHARED)
    if is_continue:
        folio = file.cache.get(idx)
        if folio is None:
            return "EFAULT", f"huge page {idx} is not in the page cache"
        folio.mapcount += HPAGE_PMD_NR           # hugetlb_add_file_rmap
        folio.refcount += HPAGE_PMD_NR
    else:
        if shared and idx in file.cache:
            return "EEXIST", f"huge page {idx} is already in the page cache"
        folio = alloc_hugetlb_folio(vma, idx)
        if folio is None:
            return "ENOMEM", "no free huge page in the pool"
        mem = vma.vm_mm.system.phys.mem
        mem[folio.pfn:folio.pfn + HPAGE_PMD_NR] = [value] * HPAGE_PMD_NR
        if shared:
            hugetlb_add_to_page_cache(folio, file, idx)
            folio.mapcount += HPAGE_PMD_NR
            folio.refcount += HPAGE_PMD_NR
        else:
            from faultlang.kernel.mm.rmap import folio_add_new_anon_rmap
            folio_add_new_anon_rmap(folio, vma, addr)
    entry = (folio.pfn << 12) | pt._PAGE_PSE | vma.vm_page_prot | pt._PAGE_ACCESSED \
        | pt._PAGE_DIRTY
    if not wp and not (is_continue and not shared) and vma.vm_flags & VM_WRITE:
        entry |= pt._PAGE_RW
    else:
        entry &= ~pt._PAGE_RW
    if wp:
        entry |= pt._PAGE_UFFD_WP
    pmd[index] = entry
    why(f"huge page {idx} " + ("mapped from the page cache" if is_continue else f"= {value}"))
    return None
