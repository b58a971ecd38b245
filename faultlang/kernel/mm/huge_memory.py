"""Mirrors mm/huge_memory.c (Linux 6.18): transparent huge pages at the PMD level.

When a THP may be used (__thp_vma_allowable_orders, thp_vma_suitable_order), the
anonymous PMD fault (do_huge_pmd_anonymous_page: the huge zero page for a read, a
2 MiB folio for a write), faults on an existing huge PMD (do_huge_pmd_wp_page,
huge_pmd_set_accessed), fork (copy_huge_pmd), zap (zap_huge_pmd), mprotect
(change_huge_pmd) and splitting a PMD into 512 PTEs (__split_huge_pmd).

Simplified: no khugepaged (a MADV_HUGEPAGE on populated memory never collapses it),
no deferred split queue and no folio splitting (only PMDs are split, the folio stays
large and is then PTE-mapped), no memcg charge failures, no PUD THP. A PMD mapping
holds 512 references and 512 mapcounts, so refcount == mapcount for anon folios
whether they are PMD- or PTE-mapped (faultlang's convention, see invariants.py).
"""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_UNSHARE, FAULT_FLAG_WRITE, VM_FAULT_FALLBACK, VM_WRITE, Folio, MmStruct, Vma,
    VmFault, vma_is_anonymous, PageAnonExclusive,
)
from faultlang.kernel.include.linux.pgtable import HPAGE_PMD_NR, PMD_SIZE
from faultlang.kernel.trace import kfunc, why

HUGE_MEMORY_C = "mm/huge_memory.c"
VM_HUGEPAGE = 0x20000000
VM_NOHUGEPAGE = 0x40000000
VM_PFNMAP_MIXED = 0x400 | 0x10000000
VM_HUGETLB = 0x400000
PMD_ORDER = 9
MM_FILEPAGES, MM_ANONPAGES = 0, 1
# The huge zero folio: 512 zeroed frames in the kernel image (8-10 MiB), below the first
# RAM frame, 2 MiB aligned, so it never belongs to the buddy allocator.
HUGE_ZERO_PFN = 0x0800
# PMD bits a split copies into each PTE (PSE means PAT in a 4 KiB PTE, so it goes).
_SPLIT_KEEP = ~(pt._PAGE_PSE | pt.PFN_MASK)
_PROT_BITS = pt._PAGE_PRESENT | pt._PAGE_PROTNONE | pt._PAGE_RW | pt._PAGE_USER | pt._PAGE_NX


def is_huge_zero_pmd(entry: int) -> bool:
    return (entry & pt.PFN_MASK) >> 12 == HUGE_ZERO_PFN


def thp_vma_suitable_order(vma: Vma, address: int, order: int) -> bool:
    """The naturally aligned 2^order block around `address` lies wholly inside the VMA."""
    size = 4096 << order
    start = address & ~(size - 1)
    if start < vma.vm_start or start + size > vma.vm_end:
        return False
    if not vma_is_anonymous(vma):
        return ((vma.vm_start >> 12) - vma.vm_pgoff) % (1 << order) == 0
    return True


def thp_mode_allows(vma: Vma, mode: str) -> bool:
    """The sysfs `enabled` policy: always → any VMA; madvise → VM_HUGEPAGE only."""
    if vma.vm_flags & VM_NOHUGEPAGE or vma.vm_flags & VM_PFNMAP_MIXED:
        return False
    return mode == "always" or (mode == "madvise" and bool(vma.vm_flags & VM_HUGEPAGE))


def thp_vma_allowable_pmd(vma: Vma, address: int) -> bool:
    """thp_vma_allowable_order(vma, vm_flags, TVA_PAGEFAULT, PMD_ORDER) for anonymous VMAs,
    and for DAX files, whose page faults may always try a PMD (the sysfs `enabled`
    setting does not apply; the geometry is dax_iomap_pmd_fault's business)."""
    if not vma_is_anonymous(vma):
        return getattr(vma.vm_file, "dax", None) is not None and not vma.vm_flags & VM_NOHUGEPAGE
    if vma.uffd is not None and vma.uffd.any_mode:
        return False
    system = vma.vm_mm.system
    return thp_mode_allows(vma, system.settings.thp) and \
        thp_vma_suitable_order(vma, address, PMD_ORDER) and PMD_SIZE > 0


def mthp_order(setting: str) -> int:
    """`set mthp 64K` → order 4; "off" → -1. Only orders below PMD_ORDER are mTHP."""
    if setting == "off":
        return -1
    units = {"K": 1 << 10, "M": 1 << 20}
    size = int(setting[:-1]) * units[setting[-1]] if setting[-1] in units else int(setting)
    order = (size >> 12).bit_length() - 1
    return order if 0 < order < PMD_ORDER else -1


def anon_mthp_orders(vmf: VmFault) -> list[int]:
    """The enabled anonymous mTHP orders to try, highest first (empty when mTHP is off).

    thp_vma_allowable_orders → thp_vma_suitable_orders → the highest order whose
    naturally aligned block is all pte_none. The per-size control is `always`, so
    VM_HUGEPAGE is not needed; VM_NOHUGEPAGE and uffd-armed VMAs get order 0.
    """
    vma = vmf.vma
    order = mthp_order(vma.vm_mm.system.settings.mthp)
    if order < 0 or vma.vm_flags & (VM_NOHUGEPAGE | VM_PFNMAP_MIXED):
        return []
    if vma.uffd is not None and vma.uffd.any_mode:
        return []
    if not thp_vma_suitable_order(vma, vmf.address, order):
        return []
    nr = 1 << order
    table = vmf.pte_table
    if table is not None:
        first = vmf.pte_index & ~(nr - 1)
        if any(table[first:first + nr]):
            return []
    return [order]


# --- the PMD fault ------------------------------------------------------------------


@kfunc(HUGE_MEMORY_C, fault_bits=True)
def create_huge_pmd(vmf: VmFault) -> int:
    """create_huge_pmd - a none PMD in a VMA that may have a THP: anonymous VMAs get
    do_huge_pmd_anonymous_page, file VMAs their ->huge_fault (DAX); the others fall
    back to PTEs."""
    if vma_is_anonymous(vmf.vma):
        return do_huge_pmd_anonymous_page(vmf)
    huge_fault = getattr(vmf.vma.vm_ops, "huge_fault", None)
    if huge_fault is not None:
        return huge_fault(vmf, PMD_ORDER)
    why("no ->huge_fault: fall back to PTEs")
    return VM_FAULT_FALLBACK


@kfunc(HUGE_MEMORY_C)
def do_huge_pmd_anonymous_page(vmf: VmFault) -> int:
    """do_huge_pmd_anonymous_page - first touch of a 2 MiB block that may be a THP.

    A read maps the huge zero page read-only (nothing allocated); a write allocates a
    PMD folio and maps all 512 pages with one fault. Allocation failure counts
    thp_fault_fallback and returns VM_FAULT_FALLBACK (4 KiB pages instead).
    """
    from faultlang.kernel.mm.memory import vmf_anon_prepare
    vma = vmf.vma
    haddr = vmf.address & pt.PMD_MASK
    if not thp_vma_suitable_order(vma, haddr, PMD_ORDER):
        why("the 2 MiB block does not fit in the VMA")
        return VM_FAULT_FALLBACK
    ret = vmf_anon_prepare(vmf)
    if ret:
        return ret
    system = vma.vm_mm.system
    if not vmf.flags & FAULT_FLAG_WRITE and system.settings.zero_page == "on":
        why("read fault: map the huge zero page")
        if vma.uffd is not None and vma.uffd.missing:
            from faultlang.kernel.fs.userfaultfd import handle_userfault
            return handle_userfault(vmf, "missing")
        set_huge_zero_folio(vmf, haddr)
        return 0
    folio = vma_alloc_anon_folio_pmd(vma, haddr)
    if folio is None:
        return VM_FAULT_FALLBACK
    if vma.uffd is not None and vma.uffd.missing:
        from faultlang.kernel.mm.rmap import folio_put
        folio_put(system.phys, folio)
        from faultlang.kernel.fs.userfaultfd import handle_userfault
        return handle_userfault(vmf, "missing")
    why("write fault: map a new 2 MiB folio")
    map_anon_folio_pmd(vmf, folio, haddr)
    return 0


def set_huge_zero_folio(vmf: VmFault, haddr: int) -> None:
    """set_huge_zero_folio(): the huge zero PMD, read-only and special."""
    vma = vmf.vma
    vmf.pmd_table[vmf.pmd_index] = (HUGE_ZERO_PFN << 12) | pt._PAGE_PSE | pt._PAGE_SPECIAL | \
        (vma.vm_page_prot & ~pt._PAGE_RW)


def vma_alloc_anon_folio_pmd(vma: Vma, haddr: int) -> Optional[Folio]:
    """vma_alloc_anon_folio_pmd(): an order-9 zeroed folio, or None (thp_fault_fallback)."""
    from faultlang.kernel.mm.page_alloc import alloc_pages
    mm = vma.vm_mm
    node = mm.owner.numa_node if mm.owner is not None else 0
    folio = alloc_pages(mm.system.phys, PMD_ORDER, node)
    if folio is None:
        why("no free 2 MiB block: THP_FAULT_FALLBACK")
        mm.system.vmstat.thp_fault_fallback += 1
    return folio


def map_anon_folio_pmd(vmf: VmFault, folio: Folio, haddr: int) -> None:
    """map_anon_folio_pmd(): rmap, one writable dirty PMD, RSS += 512, THP_FAULT_ALLOC."""
    from faultlang.kernel.mm.rmap import folio_add_new_anon_rmap
    vma = vmf.vma
    mm = vma.vm_mm
    entry = (folio.pfn << 12) | vma.vm_page_prot | pt._PAGE_PSE | pt._PAGE_ACCESSED | pt._PAGE_DIRTY
    if vma.vm_flags & VM_WRITE:
        entry |= pt._PAGE_RW
    folio_add_new_anon_rmap(folio, vma, haddr)
    folio.lru = True
    vmf.pmd_table[vmf.pmd_index] = entry
    mm.rss_stat[MM_ANONPAGES] += HPAGE_PMD_NR
    mm.system.vmstat.thp_fault_alloc += 1


def handle_huge_pmd(vmf: VmFault, entry: int) -> int:
    """The huge-PMD branch of __handle_mm_fault (inline there): a write to a read-only huge PMD goes to
    wp_huge_pmd; anything else only sets young/dirty (huge_pmd_set_accessed)."""
    if not entry & (pt._PAGE_PRESENT | pt._PAGE_PROTNONE):
        why("non-present huge PMD (migration): wait and retry")
        return 0
    if vmf.flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE) and not entry & pt._PAGE_RW:
        why("write to a read-only huge PMD")
        return wp_huge_pmd(vmf, entry)
    return huge_pmd_set_accessed(vmf, entry)


@kfunc(HUGE_MEMORY_C)
def huge_pmd_set_accessed(vmf: VmFault, entry: int) -> int:
    """huge_pmd_set_accessed - mark the huge PMD young (and dirty for a write)."""
    new = entry | pt._PAGE_ACCESSED | (pt._PAGE_DIRTY if vmf.flags & FAULT_FLAG_WRITE else 0)
    if new != entry:
        why("set young/dirty on the huge PMD")
        vmf.pmd_table[vmf.pmd_index] = new
    else:
        why("nothing to change: a spurious fault")
    return 0


@kfunc("mm/memory.c")
def wp_huge_pmd(vmf: VmFault, entry: int) -> int:
    """wp_huge_pmd - anonymous: uffd-wp first, then do_huge_pmd_wp_page; otherwise
    split the PMD and let the PTE level handle the write."""
    vma = vmf.vma
    if vma_is_anonymous(vma):
        if entry & pt._PAGE_UFFD_WP and vma.uffd is not None and vma.uffd.wp:
            if not vma.uffd.wp_async:
                why("huge PMD is uffd-wp protected")
                from faultlang.kernel.fs.userfaultfd import handle_userfault
                return handle_userfault(vmf, "wp")
            _split_huge_pmd(vma, vmf.pmd_table, vmf.pmd_index, vmf.address & pt.PMD_MASK)
            return VM_FAULT_FALLBACK
        return do_huge_pmd_wp_page(vmf, entry)
    huge_fault = getattr(vma.vm_ops, "huge_fault", None)
    if vma.vm_flags & 0x88 and huge_fault is not None:     # VM_SHARED|VM_MAYSHARE
        ret = huge_fault(vmf, PMD_ORDER)
        if not ret & VM_FAULT_FALLBACK:
            return ret
    why("COW or write-notify is handled at the PTE level: split")
    _split_huge_pmd(vma, vmf.pmd_table, vmf.pmd_index, vmf.address & pt.PMD_MASK)
    return VM_FAULT_FALLBACK


@kfunc(HUGE_MEMORY_C)
def do_huge_pmd_wp_page(vmf: VmFault, entry: int) -> int:
    """do_huge_pmd_wp_page - write to a read-only huge PMD.

    The huge zero PMD gets a fresh THP (6.18: do_huge_zero_wp_pmd; 6.12 splits and
    COWs one 4 KiB page). A THP that is exclusive, or whose only references are this
    PMD's, is reused in place. A THP still shared (after fork) is split into PTEs and
    VM_FAULT_FALLBACK lets do_wp_page copy just the 4 KiB page written.
    """
    vma = vmf.vma
    mm = vma.vm_mm
    haddr = vmf.address & pt.PMD_MASK
    if is_huge_zero_pmd(entry):
        if mm.system.settings.kernel != "6.12":
            ret = do_huge_zero_wp_pmd(vmf, haddr)
            if not ret & VM_FAULT_FALLBACK:
                return ret
        else:
            why("huge zero PMD (6.12): split, COW one 4 KiB page")
        _split_huge_pmd(vma, vmf.pmd_table, vmf.pmd_index, haddr)
        return VM_FAULT_FALLBACK
    folio = mm.system.phys.page_folio((entry & pt.PFN_MASK) >> 12)
    if folio is not None and folio.anon:
        if PageAnonExclusive(folio):
            why("PageAnonExclusive: reuse the THP")
            return huge_pmd_reuse(vmf, entry)
        if folio.swapcache:
            from faultlang.kernel.mm.swapfile import folio_free_swap
            folio_free_swap(mm.system, folio)
        if folio.refcount == folio.nr_pages and folio.mapcount == folio.nr_pages:
            why("only this PMD maps the THP: reuse it")
            from faultlang.kernel.mm.rmap import folio_move_anon_rmap
            folio_move_anon_rmap(folio, vma)
            folio.exclusive = (1 << folio.nr_pages) - 1     # every page PageAnonExclusive
            return huge_pmd_reuse(vmf, entry)
        why(f"THP shared ({folio.mapcount} mappings): split, COW per 4 KiB")
    _split_huge_pmd(vma, vmf.pmd_table, vmf.pmd_index, haddr)
    return VM_FAULT_FALLBACK


def huge_pmd_reuse(vmf: VmFault, entry: int) -> int:
    """The `reuse:` label: young, dirty and (if VM_WRITE) writable in place."""
    if vmf.flags & FAULT_FLAG_UNSHARE:
        return 0
    vmf.pmd_table[vmf.pmd_index] = entry | pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (
        pt._PAGE_RW if vmf.vma.vm_flags & VM_WRITE else 0)
    return 0


@kfunc(HUGE_MEMORY_C)
def do_huge_zero_wp_pmd(vmf: VmFault, haddr: int) -> int:
    """do_huge_zero_wp_pmd - replace the huge zero PMD by a new zeroed THP (6.18)."""
    folio = vma_alloc_anon_folio_pmd(vmf.vma, haddr)
    if folio is None:
        return VM_FAULT_FALLBACK
    why("write to the huge zero page: allocate a THP")
    vmf.pmd_table[vmf.pmd_index] = None
    map_anon_folio_pmd(vmf, folio, haddr)
    return 0


# --- splitting, zapping, copying, mprotect ------------------------------------------


@kfunc(HUGE_MEMORY_C, symbol="__split_huge_pmd", fault_bits=False)
def _split_huge_pmd(vma: Vma, pmd: list, index: int, haddr: int) -> None:
    """__split_huge_pmd - replace a huge PMD by a PTE table mapping the same 512 pages
    with the same bits (the huge zero page becomes 512 zero-page PTEs). THP_SPLIT_PMD."""
    entry = pmd[index]
    if type(entry) is not int:
        return
    system = vma.vm_mm.system
    system.vmstat.thp_split_pmd += 1
    if not vma_is_anonymous(vma):
        why("file PMD: just zap it, the PTE level refaults")
        zap_huge_pmd(vma, pmd, index)
        return
    bits = entry & _SPLIT_KEEP
    if is_huge_zero_pmd(entry):
        why("huge zero PMD → 512 zero-page PTEs")
        pmd[index] = [(system.zero_pfn << 12) | bits] * 512
        return
    base = entry & pt.PFN_MASK
    pmd[index] = [(base + (k << 12)) | bits for k in range(512)]


def split_huge_pmd_address(vma: Vma, address: int) -> None:
    """split_huge_pmd_address(): a VMA boundary moved to `address`; a huge PMD that
    straddles it becomes 512 PTEs (hugetlb VMAs only split on huge-page boundaries)."""
    if not address & 0x1FFFFF or vma.vm_flags & VM_HUGETLB:
        return
    from faultlang.kernel.mm.memory import pmd_table_of
    pmd = pmd_table_of(vma.vm_mm, address, False)
    if pmd is not None and type(pmd[(address >> 21) & 511]) is int:
        _split_huge_pmd(vma, pmd, (address >> 21) & 511, address & pt.PMD_MASK)


def walk_huge_pmds(mm: MmStruct, start: int, end: int):
    """Yield (pmd table, index, haddr) for every huge PMD overlapping [start, end)."""
    from faultlang.kernel.mm.memory import pmd_table_of
    addr = start & pt.PMD_MASK
    while addr < end:
        pmd = pmd_table_of(mm, addr, False)
        if pmd is None:
            addr = (addr | ((1 << 30) - 1)) + 1
            continue
        i = (addr >> 21) & 511
        if type(pmd[i]) is int:
            yield pmd, i, addr
        addr += PMD_SIZE


def zap_huge_pmds(vma: Vma, start: int, end: int) -> int:
    """The huge-PMD part of zap_pmd_range: a PMD wholly inside [start, end) is zapped
    (zap_huge_pmd); one partly inside is split first, and the PTE walk does the rest."""
    count = 0
    for pmd, i, haddr in list(walk_huge_pmds(vma.vm_mm, start, end)):
        if haddr >= start and haddr + PMD_SIZE <= end:
            count += zap_huge_pmd(vma, pmd, i)
        else:
            _split_huge_pmd(vma, pmd, i, haddr)
    return count


@kfunc(HUGE_MEMORY_C, fault_bits=False)
def zap_huge_pmd(vma: Vma, pmd: list, index: int) -> int:
    """zap_huge_pmd - clear a huge PMD; a THP loses 512 mappings and references."""
    from faultlang.kernel.mm.rmap import folio_remove_rmap_ptes
    from faultlang.kernel.mm.page_alloc import free_folio
    entry = pmd[index]
    pmd[index] = None
    if is_huge_zero_pmd(entry) or entry & (pt._PAGE_SPECIAL | pt._PAGE_DEVMAP):
        return HPAGE_PMD_NR
    mm = vma.vm_mm
    folio = mm.system.phys.page_folio((entry & pt.PFN_MASK) >> 12)
    if folio is None:
        return HPAGE_PMD_NR
    mm.rss_stat[MM_ANONPAGES if folio.anon else MM_FILEPAGES] -= HPAGE_PMD_NR
    folio_remove_rmap_ptes(folio, HPAGE_PMD_NR)
    folio.refcount -= HPAGE_PMD_NR
    if folio.refcount == 0:
        free_folio(mm.system.phys, folio)
    return HPAGE_PMD_NR


@kfunc(HUGE_MEMORY_C, fault_bits=False)
def copy_huge_pmd(dst_vma: Vma, src_vma: Vma, addr: int) -> int:
    """copy_huge_pmd - fork: the child gets the same huge PMD, write-protected in both
    (the huge zero PMD is simply shared); the THP gains 512 mappings and references
    and loses PageAnonExclusive. Returns the number of entries copied (1)."""
    from faultlang.kernel.mm.memory import pmd_table_of
    if not vma_is_anonymous(dst_vma):
        return 0                              # a file PMD (DAX): the child refaults
    haddr = addr & pt.PMD_MASK
    src_pmd = pmd_table_of(src_vma.vm_mm, haddr, False)
    i = (haddr >> 21) & 511
    entry = src_pmd[i]
    dst_pmd = pmd_table_of(dst_vma.vm_mm, haddr, True)
    if is_huge_zero_pmd(entry):
        dst_pmd[i] = entry & ~pt._PAGE_ACCESSED
        return 1
    folio = src_vma.vm_mm.system.phys.page_folio((entry & pt.PFN_MASK) >> 12)
    if folio is not None:
        folio.exclusive = 0
        folio.mapcount += HPAGE_PMD_NR
        folio.refcount += HPAGE_PMD_NR
        dst_vma.vm_mm.rss_stat[MM_ANONPAGES] += HPAGE_PMD_NR
    entry &= ~pt._PAGE_RW
    src_pmd[i] = entry
    if not (dst_vma.uffd is not None and dst_vma.uffd.wp):
        entry &= ~pt._PAGE_UFFD_WP
    dst_pmd[i] = entry & ~pt._PAGE_ACCESSED
    return 1


@kfunc(HUGE_MEMORY_C, fault_bits=False)
def change_huge_pmd(vma: Vma, start: int, end: int) -> int:
    """change_huge_pmd - mprotect of huge PMDs (THP and hugetlb alike): new protection
    bits; writable at once only for an exclusive anonymous folio (or a dirty shared
    one), as can_change_pte_writable says for PTEs."""
    mm = vma.vm_mm
    newprot = vma.vm_page_prot
    changed = 0
    for pmd, i, _ in list(walk_huge_pmds(mm, start, end)):
        entry = pmd[i]
        if not entry & (pt._PAGE_PRESENT | pt._PAGE_PROTNONE):
            continue
        new = (entry & ~_PROT_BITS) | (newprot & _PROT_BITS)
        if entry & pt._PAGE_SPECIAL:
            new &= ~pt._PAGE_RW
        elif vma.vm_flags & VM_WRITE and new & pt._PAGE_PRESENT:
            folio = mm.system.phys.page_folio((entry & pt.PFN_MASK) >> 12)
            if vma.vm_flags & 0x8:          # VM_SHARED
                if entry & pt._PAGE_DIRTY:
                    new |= pt._PAGE_RW
            elif folio is not None and folio.anon and PageAnonExclusive(folio):
                new |= pt._PAGE_RW
        if new != entry:
            pmd[i] = new
            changed += 1
    return changed


# --- inserting PMDs for a ->huge_fault handler (DAX) ----------------------------------


@kfunc(HUGE_MEMORY_C)
def vmf_insert_folio_pmd(vmf: VmFault, folio: Folio, write: bool) -> int:
    """vmf_insert_folio_pmd - map a PMD-order folio a ->huge_fault handler chose (DAX)
    with one PMD: 512 references and mapcounts, RSS += 512. With `write`, an existing
    PMD of the same folio is made young, dirty and writable. VM_FAULT_NOPAGE."""
    vma = vmf.vma
    mm = vma.vm_mm
    old = vmf.pmd_table[vmf.pmd_index]
    if old is not None:
        if write and type(old) is int and (old & pt.PFN_MASK) >> 12 == folio.pfn:
            why("the same folio: make the PMD young, dirty and writable")
            vmf.pmd_table[vmf.pmd_index] = old | pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (
                pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
        return 0x100                          # -EEXIST → VM_FAULT_NOPAGE
    entry = (folio.pfn << 12) | vma.vm_page_prot | pt._PAGE_PSE
    if write:
        entry |= pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
    folio.refcount += HPAGE_PMD_NR
    folio.mapcount += HPAGE_PMD_NR           # folio_add_file_rmap_pmd
    mm.rss_stat[MM_FILEPAGES] += HPAGE_PMD_NR
    vmf.pmd_table[vmf.pmd_index] = entry
    return 0x100


@kfunc(HUGE_MEMORY_C)
def vmf_insert_pfn_pmd(vmf: VmFault, pfn: int, write: bool) -> int:
    """vmf_insert_pfn_pmd - (6.12) map 2 MiB of a device's pfns with one devmap PMD:
    no struct page is touched, no RSS. With `write` the PMD is young, dirty and
    writable, and an existing PMD of the same pfn is upgraded. VM_FAULT_NOPAGE."""
    vma = vmf.vma
    old = vmf.pmd_table[vmf.pmd_index]
    if old is not None:
        if write and type(old) is int and (old & pt.PFN_MASK) >> 12 == pfn:
            why("the same pfn: make the PMD young, dirty and writable")
            vmf.pmd_table[vmf.pmd_index] = old | pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (
                pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
        return 0x100
    entry = (pfn << 12) | vma.vm_page_prot | pt._PAGE_PSE | pt._PAGE_DEVMAP
    if write:
        entry |= pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
    vmf.pmd_table[vmf.pmd_index] = entry
    return 0x100
