"""Mirrors mm/userfaultfd.c (Linux 6.18): the page-table work behind the uffd ioctls.

mfill_atomic_copy / _zeropage / _continue fill none PTEs of one registered VMA
(mfill_atomic_install_pte: -EEXIST when something is mapped already);
mwriteprotect_range / uffd_wp_range set or clear the uffd-wp bit (and PTE markers on
none entries where markers are used).

Simplified: single-threaded, so no retries on a racing fault (-EAGAIN from mmap
changes); no hugetlb ranges, no THP (a huge PMD in the way is -EEXIST), no
MFILL_ATOMIC_WP, no UFFDIO_MOVE / POISON.
"""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    VM_SHARED, VM_WRITE, AnonVma, Vma, vma_is_anonymous,
)
from faultlang.kernel.mm.memory import (
    MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, pmd_table_of, walk_pte_slots,
)
from faultlang.kernel.mm.page_alloc import alloc_pages
from faultlang.kernel.mm.rmap import folio_add_new_anon_rmap, folio_get
from faultlang.kernel.trace import kfunc, why

USERFAULTFD_C = "mm/userfaultfd.c"


def _err(errno: str, reason: str):
    from faultlang.kernel.fs.userfaultfd import UffdError
    return UffdError(errno, reason)


def uffd_mfill_lock(ctx, start: int, end: int) -> Vma:
    """uffd_mfill_lock(): the registered VMA that holds all of [start, end), with an
    anon_vma ready (find_vma_and_prepare_anon); -ENOENT otherwise."""
    from faultlang.kernel.fs.userfaultfd import vma_is_shmem
    vma = ctx.mm.vma_lookup(start)
    if vma is None or end > vma.vm_end or vma.uffd is None:
        raise _err("ENOENT", "the range is not inside one registered VMA")
    if vma.uffd.ctx is not ctx:
        raise _err("ENOENT", "the VMA belongs to another userfaultfd")
    if not vma_is_anonymous(vma) and not vma_is_shmem(vma):
        raise _err("EINVAL", "neither anonymous nor shmem memory")
    if vma_is_anonymous(vma) and vma.anon_vma is None:
        vma.anon_vma = AnonVma()
    return vma


def _pte_slot(vma: Vma, addr: int) -> tuple[Optional[list], int]:
    """mm_alloc_pmd + pte_alloc for the fill: the PTE table of addr (None: huge PMD)."""
    pmd = pmd_table_of(vma.vm_mm, addr, True)
    j = (addr >> 21) & 511
    if pmd[j] is None:
        pmd[j] = [0] * 512
    if type(pmd[j]) is int:
        return None, 0
    return pmd[j], (addr >> 12) & 511


def _pte_none_mostly(pte: int) -> bool:
    """pte_none_mostly(): none, or only a uffd-wp marker."""
    return not pte or pt.is_pte_marker(pte) and bool(pt.pte_marker_kind(pte) & pt.PTE_MARKER_UFFD_WP)


def mfill_atomic_install_pte(vma: Vma, addr: int, pfn: int, in_cache: bool) -> None:
    """mfill_atomic_install_pte(): a dirty PTE, writable when the VMA is (a page-cache
    page in a private mapping stays read-only so that a write still copies it)."""
    table, i = _pte_slot(vma, addr)
    writable = bool(vma.vm_flags & VM_WRITE) and not (in_cache and not vma.vm_flags & VM_SHARED)
    entry = (pfn << 12) | vma.vm_page_prot | pt._PAGE_DIRTY
    entry = entry | pt._PAGE_RW if writable else entry & ~pt._PAGE_RW
    table[i] = entry


def _mfill(ctx, start: int, end: int, one) -> tuple[int, Optional[Exception]]:
    """mfill_atomic(): validate once, then one page at a time; returns (pages, error)."""
    from faultlang.kernel.fs.userfaultfd import UffdError
    try:
        vma = uffd_mfill_lock(ctx, start, end)
    except UffdError as err:
        return 0, err
    done = 0
    for addr in range(start, end, 4096):
        table, i = _pte_slot(vma, addr)
        if table is None or not _pte_none_mostly(table[i]):
            return done, _err("EEXIST", f"{addr:#x} is already mapped")
        try:
            one(vma, addr)
        except UffdError as err:
            return done, err
        done += 1
    return done, None


@kfunc(USERFAULTFD_C, fault_bits=False)
def mfill_atomic_copy(ctx, start: int, end: int, value: int) -> tuple[int, Optional[Exception]]:
    """mfill_atomic_copy - UFFDIO_COPY: a new page per PTE, filled from the source
    (here: holding `value`); anonymous → new exclusive anon folio, shmem → a new
    page-cache folio (shmem_mfill_atomic_pte)."""
    system = ctx.mm.system

    def one(vma: Vma, addr: int) -> None:
        if not vma_is_anonymous(vma):
            return _shmem_mfill(vma, addr, value)
        folio = alloc_pages(system.phys, 0, 0, False)
        if folio is None:
            raise _err("ENOMEM", "no free frame")
        system.phys.mem[folio.pfn] = value
        folio_add_new_anon_rmap(folio, vma, addr)
        folio.lru = True
        vma.vm_mm.rss_stat[MM_ANONPAGES] += 1
        mfill_atomic_install_pte(vma, addr, folio.pfn, False)

    why(f"{start:#x}-{end:#x} = {value}")
    return _mfill(ctx, start, end, one)


def _shmem_mfill(vma: Vma, addr: int, value: Optional[int]) -> None:
    """shmem_mfill_atomic_pte(): a hole in the file gets a new folio (copied, or zeroed
    for ZEROPAGE); a page already in the page cache is -EEXIST."""
    from faultlang.kernel.mm.filemap import filemap_alloc_folio, filemap_get_folio
    mapping = vma.vm_file
    index = ((addr - vma.vm_start) >> 12) + vma.vm_pgoff
    if index >= mapping.nr_pages:
        raise _err("EFAULT", "beyond the end of the file")
    if filemap_get_folio(mapping, index) is not None:
        raise _err("EEXIST", f"index {index} is already in the page cache")
    folio = filemap_alloc_folio(mapping, index, 0)
    if folio is None:
        raise _err("ENOMEM", "no free frame")
    mapping.system.phys.mem[folio.pfn] = value or 0
    _map_cache_page(vma, addr, folio)


def _map_cache_page(vma: Vma, addr: int, folio) -> None:
    folio_get(folio)
    folio.mapcount += 1
    vma.vm_mm.rss_stat[MM_SHMEMPAGES if getattr(folio.mapping, "shmem", False)
                       else MM_FILEPAGES] += 1
    mfill_atomic_install_pte(vma, addr, folio.pfn + ((addr - vma.vm_start) >> 12)
                             + vma.vm_pgoff - folio.index, True)


@kfunc(USERFAULTFD_C, fault_bits=False)
def mfill_atomic_zeropage(ctx, start: int, end: int) -> tuple[int, Optional[Exception]]:
    """mfill_atomic_zeropage - UFFDIO_ZEROPAGE: anonymous PTEs map the shared zero
    page read-only (a later write copies it); shmem gets a zeroed page-cache page."""
    mm = ctx.mm

    def one(vma: Vma, addr: int) -> None:
        if not vma_is_anonymous(vma):
            return _shmem_mfill(vma, addr, None)
        table, i = _pte_slot(vma, addr)
        table[i] = (mm.system.zero_pfn << 12) | pt._PAGE_SPECIAL | (vma.vm_page_prot & ~pt._PAGE_RW)

    return _mfill(ctx, start, end, one)


@kfunc(USERFAULTFD_C, fault_bits=False)
def mfill_atomic_continue(ctx, start: int, end: int) -> tuple[int, Optional[Exception]]:
    """mfill_atomic_continue - UFFDIO_CONTINUE: map the page already in the shmem page
    cache (SGP_NOALLOC: a hole is -EFAULT); only for shmem VMAs (-EINVAL)."""

    def one(vma: Vma, addr: int) -> None:
        from faultlang.kernel.mm.filemap import filemap_get_folio
        index = ((addr - vma.vm_start) >> 12) + vma.vm_pgoff
        folio = filemap_get_folio(vma.vm_file, index)
        if folio is None:
            raise _err("EFAULT", f"no page cache page at index {index}")
        _map_cache_page(vma, addr, folio)

    from faultlang.kernel.fs.userfaultfd import vma_is_shmem
    vma = ctx.mm.vma_lookup(start)
    if vma is not None and vma.uffd is not None and not vma_is_shmem(vma):
        return 0, _err("EINVAL", "UFFDIO_CONTINUE needs a shmem VMA")
    return _mfill(ctx, start, end, one)


@kfunc(USERFAULTFD_C, fault_bits=False)
def mwriteprotect_range(ctx, start: int, end: int, enable: bool) -> int:
    """mwriteprotect_range - UFFDIO_WRITEPROTECT: every VMA of the range must be
    registered for WP (-ENOENT); then uffd_wp_range on each. Returns entries changed."""
    vmas = [v for v in ctx.mm.vmas if v.vm_start < end and v.vm_end > start]
    if not vmas:
        raise _err("ENOENT", "no VMA in the range")
    for vma in vmas:
        if vma.uffd is None or not vma.uffd.wp:
            raise _err("ENOENT", f"{vma.name or 'VMA'} is not registered for wp")
    return sum(uffd_wp_range(v, max(start, v.vm_start), min(end, v.vm_end), enable)
               for v in vmas)


def userfaultfd_wp_use_markers(vma: Vma) -> bool:
    """userfaultfd_wp_use_markers(): file-backed uffd-wp always, anonymous only with
    UFFD_FEATURE_WP_UNPOPULATED."""
    if vma.uffd is None or not vma.uffd.wp:
        return False
    return not vma_is_anonymous(vma) or vma.uffd.wp_unpopulated


@kfunc(USERFAULTFD_C, fault_bits=False)
def uffd_wp_range(vma: Vma, start: int, end: int, enable: bool) -> int:
    """uffd_wp_range - change_protection with MM_CP_UFFD_WP[_RESOLVE]: protect present
    PTEs (read-only + uffd-wp) and, with markers, none ones; resolving clears the bit and
    makes the PTE writable again where a write fault would (exclusive anon, or shared)."""
    mm = vma.vm_mm
    changed = 0
    if enable and userfaultfd_wp_use_markers(vma):
        for addr in range(start, end, 4096):
            table, i = _pte_slot(vma, addr)
            if table is not None and not table[i]:
                table[i] = pt.make_pte_marker(pt.PTE_MARKER_UFFD_WP)
                changed += 1
    for table, i, addr in list(walk_pte_slots(mm, start, end)):
        pte = table[i]
        if not pte:
            continue
        if pt.is_pte_marker(pte):
            if not enable and pt.pte_marker_kind(pte) & pt.PTE_MARKER_UFFD_WP:
                table[i] = 0
                changed += 1
            continue
        if not pte & pt._PAGE_PRESENT:
            continue
        if enable:
            new = (pte | pt._PAGE_UFFD_WP) & ~pt._PAGE_RW
        else:
            new = pte & ~pt._PAGE_UFFD_WP
            if _can_change_pte_writable(vma, new):
                new |= pt._PAGE_RW
        if new != pte:
            table[i] = new
            changed += 1
    return changed


def _can_change_pte_writable(vma: Vma, pte: int) -> bool:
    """can_change_pte_writable(): private → an exclusive anonymous page; shared → the
    VMA's own protection already allows writes (no write-notify) or the PTE is dirty."""
    if not vma.vm_flags & VM_WRITE or pte & pt._PAGE_SPECIAL:
        return False
    if not vma.vm_flags & VM_SHARED:
        folio = vma.vm_mm.system.phys.page_folio((pte & pt.PFN_MASK) >> 12)
        return folio is not None and folio.anon and \
            ((pte & pt.PFN_MASK) >> 12) - folio.pfn in folio.exclusive
    return bool(vma.vm_page_prot & pt._PAGE_RW or pte & pt._PAGE_DIRTY)
