"""Mirrors mm/userfaultfd.c (Linux 6.18): the page-table work behind the uffd ioctls.

mfill_atomic_copy / _zeropage / _continue / _poison fill none PTEs of one registered
VMA (mfill_atomic_install_pte: -EEXIST when something is mapped already; COPY and
CONTINUE may overwrite a uffd-wp marker, ZEROPAGE and POISON may not), hugetlb VMAs
one whole huge page at a time (mfill_atomic_hugetlb); MFILL_ATOMIC_WP installs the
page write-protected. move_pages (UFFDIO_MOVE) moves exclusive anonymous pages between
private anonymous VMAs. mwriteprotect_range / uffd_wp_range set or clear the uffd-wp
bit (and PTE markers on none entries where markers are used).

Simplified: single-threaded, so no retries on a racing fault (-EAGAIN from mmap
changes); no THP (a huge PMD in the way of a fill is -EEXIST); UFFDIO_MOVE splits a
huge PMD at the source but not a large folio (split_folio is not modelled: -EBUSY);
no hugetlb PTE markers (write-protecting a none hugetlb entry leaves it none, and
UFFDIO_POISON on hugetlb is not simulated).
"""

from __future__ import annotations

from typing import Optional

from faultlang.errors import SimulatorBug
from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    VM_SHARED, VM_WRITE, AnonVma, Vma, vma_is_anonymous, PageAnonExclusive,
)
from faultlang.kernel.mm.memory import (
    MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, pmd_table_of, walk_pte_slots,
)
from faultlang.kernel.mm.hugetlb import VM_HUGETLB
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
    if not vma_is_anonymous(vma) and not vma_is_shmem(vma) and not vma.vm_flags & VM_HUGETLB:
        raise _err("EINVAL", "neither anonymous, shmem nor hugetlb memory")
    if not vma.vm_flags & VM_SHARED and vma.anon_vma is None:
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


def mfill_atomic_install_pte(vma: Vma, addr: int, pfn: int, in_cache: bool,
                             wp: bool = False) -> None:
    """mfill_atomic_install_pte(): a dirty PTE, writable when the VMA is (a page-cache
    page in a private mapping stays read-only so that a write still copies it);
    MFILL_ATOMIC_WP adds uffd-wp (pte_mkuffd_wp, which also write-protects)."""
    table, i = _pte_slot(vma, addr)
    writable = bool(vma.vm_flags & VM_WRITE) and not (in_cache and not vma.vm_flags & VM_SHARED)
    entry = (pfn << 12) | vma.vm_page_prot | pt._PAGE_DIRTY
    entry = entry | pt._PAGE_RW if writable else entry & ~pt._PAGE_RW
    if wp:
        entry = (entry | pt._PAGE_UFFD_WP) & ~pt._PAGE_RW
    table[i] = entry


def _mfill(ctx, start: int, end: int, one, mode: str = "copy", wp: bool = False,
           value: Optional[int] = None) -> tuple[int, Optional[Exception]]:
    """mfill_atomic(): validate once, then one page at a time; returns (pages, error).
    ZEROPAGE and POISON want a none PTE (pte_none); COPY and CONTINUE also take one
    holding only a uffd-wp marker (pte_none_mostly)."""
    from faultlang.kernel.fs.userfaultfd import UffdError, vma_is_shmem
    try:
        vma = uffd_mfill_lock(ctx, start, end)
    except UffdError as err:
        return 0, err
    if wp and not vma.uffd.wp:
        return 0, _err("EINVAL", "MODE_WP on a VMA not registered for wp")
    if vma.vm_flags & VM_HUGETLB:
        return mfill_atomic_hugetlb(vma, start, end, mode, value, wp)
    if mode == "continue" and not vma_is_shmem(vma):
        return 0, _err("EINVAL", "UFFDIO_CONTINUE needs a shmem or hugetlb VMA")
    done = 0
    strict = mode in ("zeropage", "poison")
    for addr in range(start, end, 4096):
        table, i = _pte_slot(vma, addr)
        if table is None or (table[i] if strict else not _pte_none_mostly(table[i])):
            return done, _err("EEXIST", f"{addr:#x} is already mapped" if table is None
                              or not pt.is_pte_marker(table[i]) else f"{addr:#x} holds a PTE marker")
        try:
            one(vma, addr)
        except UffdError as err:
            return done, err
        done += 1
    return done, None


@kfunc(USERFAULTFD_C, fault_bits=False)
def mfill_atomic_copy(ctx, start: int, end: int, value: int,
                      wp: bool = False) -> tuple[int, Optional[Exception]]:
    """mfill_atomic_copy - UFFDIO_COPY: a new page per PTE, filled from the source
    (here: holding `value`); anonymous → new exclusive anon folio, shmem → a new
    page-cache folio (shmem_mfill_atomic_pte)."""
    system = ctx.mm.system

    def one(vma: Vma, addr: int) -> None:
        if not vma_is_anonymous(vma):
            return _shmem_mfill(vma, addr, value, wp)
        folio = alloc_pages(system.phys, 0, 0, False)
        if folio is None:
            raise _err("ENOMEM", "no free frame")
        system.phys.mem[folio.pfn] = value
        folio_add_new_anon_rmap(folio, vma, addr)
        folio.lru = True
        vma.vm_mm.rss_stat[MM_ANONPAGES] += 1
        mfill_atomic_install_pte(vma, addr, folio.pfn, False, wp)

    why(f"{start:#x}-{end:#x} = {value}" + (" (MFILL_ATOMIC_WP)" if wp else ""))
    return _mfill(ctx, start, end, one, "copy", wp, value)


def _shmem_mfill(vma: Vma, addr: int, value: Optional[int], wp: bool = False) -> None:
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
    _map_cache_page(vma, addr, folio, wp)


def _map_cache_page(vma: Vma, addr: int, folio, wp: bool = False) -> None:
    folio_get(folio)
    folio.mapcount += 1
    vma.vm_mm.rss_stat[MM_SHMEMPAGES if getattr(folio.mapping, "shmem", False)
                       else MM_FILEPAGES] += 1
    mfill_atomic_install_pte(vma, addr, folio.pfn + ((addr - vma.vm_start) >> 12)
                             + vma.vm_pgoff - folio.index, True, wp)


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

    return _mfill(ctx, start, end, one, "zeropage")


@kfunc(USERFAULTFD_C, fault_bits=False)
def mfill_atomic_continue(ctx, start: int, end: int,
                          wp: bool = False) -> tuple[int, Optional[Exception]]:
    """mfill_atomic_continue - UFFDIO_CONTINUE: map the page already in the shmem page
    cache (SGP_NOALLOC: a hole is -EFAULT); only for shmem and hugetlb VMAs (-EINVAL)."""

    def one(vma: Vma, addr: int) -> None:
        from faultlang.kernel.mm.filemap import filemap_get_folio
        index = ((addr - vma.vm_start) >> 12) + vma.vm_pgoff
        folio = filemap_get_folio(vma.vm_file, index)
        if folio is None:
            raise _err("EFAULT", f"no page cache page at index {index}")
        _map_cache_page(vma, addr, folio, wp)

    return _mfill(ctx, start, end, one, "continue", wp)


@kfunc(USERFAULTFD_C, fault_bits=False)
def mfill_atomic_poison(ctx, start: int, end: int) -> tuple[int, Optional[Exception]]:
    """mfill_atomic_poison - UFFDIO_POISON: a PTE_MARKER_POISONED in each none PTE
    (mfill_atomic_pte_poison); a later access finds it in handle_pte_marker, which
    returns VM_FAULT_HWPOISON, as for a memory error (do_sigbus picks the si_code)."""

    def one(vma: Vma, addr: int) -> None:
        table, i = _pte_slot(vma, addr)
        table[i] = pt.make_pte_marker(pt.PTE_MARKER_POISONED)

    return _mfill(ctx, start, end, one, "poison")


def mfill_atomic_hugetlb(vma: Vma, start: int, end: int, mode: str, value: Optional[int],
                         wp: bool) -> tuple[int, Optional[Exception]]:
    """mfill_atomic_hugetlb(): whole huge pages only (-EINVAL for an unaligned range);
    no ZEROPAGE (there is no zero huge page for every size: -EINVAL); -EEXIST when the
    huge PTE is not none (CONTINUE excepted: it maps what the page cache has)."""
    from faultlang.kernel.mm.hugetlb import hugetlb_mfill_atomic_pte
    from faultlang.kernel.include.linux.pgtable import PMD_SIZE
    if mode == "zeropage":
        return 0, _err("EINVAL", "UFFDIO_ZEROPAGE is not supported on hugetlb")
    if mode == "poison":
        raise SimulatorBug("runtime/uffd.py refuses UFFDIO_POISON on hugetlb before the ioctl")
    if start & (PMD_SIZE - 1) or (end - start) & (PMD_SIZE - 1):
        return 0, _err("EINVAL", "hugetlb ranges must be 2 MiB aligned")
    done = 0
    for addr in range(start, end, PMD_SIZE):
        pmd = pmd_table_of(vma.vm_mm, addr, True)
        j = (addr >> 21) & 511
        if mode != "continue" and pmd[j] is not None:
            return done, _err("EEXIST", f"huge page at {addr:#x} is already mapped")
        err = hugetlb_mfill_atomic_pte(vma, pmd, j, addr, mode == "continue", value or 0, wp)
        if err is not None:
            return done, _err(*err)
        done += PMD_SIZE >> 12
    return done, None


# --- UFFDIO_MOVE ---------------------------------------------------------------------

VM_ACCESS_FLAGS = 0x7                      # VM_READ | VM_WRITE | VM_EXEC
VM_LOCKED, VM_PFNMAP, VM_IO, VM_MIXEDMAP = 0x2000, 0x400, 0x4000, 0x10000000


def validate_move_areas(ctx, src_vma: Vma, dst_vma: Vma) -> None:
    """validate_move_areas(): same access flags and page protection, both mlocked or
    neither, writable, no special mappings, the destination registered with this
    userfaultfd, both anonymous; -EINVAL otherwise."""
    if (src_vma.vm_flags & VM_ACCESS_FLAGS) != (dst_vma.vm_flags & VM_ACCESS_FLAGS) \
            or src_vma.vm_page_prot != dst_vma.vm_page_prot:
        raise _err("EINVAL", "the two VMAs differ in protection")
    if (src_vma.vm_flags & VM_LOCKED) != (dst_vma.vm_flags & VM_LOCKED):
        raise _err("EINVAL", "one VMA is mlocked and the other is not")
    if not src_vma.vm_flags & VM_WRITE:
        raise _err("EINVAL", "the VMAs are not writable")
    special = VM_PFNMAP | VM_IO | VM_HUGETLB | VM_MIXEDMAP
    if src_vma.vm_flags & special or dst_vma.vm_flags & special:
        raise _err("EINVAL", "hugetlb or PFN-mapped memory cannot be moved")
    if dst_vma.uffd is None or dst_vma.uffd.ctx is not ctx:
        raise _err("EINVAL", "the destination is not registered with this userfaultfd")
    if not vma_is_anonymous(src_vma) or not vma_is_anonymous(dst_vma):
        raise _err("EINVAL", "UFFDIO_MOVE moves private anonymous memory only")


@kfunc(USERFAULTFD_C, fault_bits=False)
def move_pages(ctx, dst_start: int, src_start: int, length: int,
               allow_src_holes: bool) -> tuple[int, Optional[Exception]]:
    """move_pages - UFFDIO_MOVE: remap exclusive anonymous pages from the source range
    to the destination range of the same mm, without copying. Both ranges lie in one
    private VMA each; the destination must be a hole (-EEXIST), the source must have
    no holes (-ENOENT) unless UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES. Returns (pages moved,
    the error that stopped it)."""
    from faultlang.kernel.fs.userfaultfd import UffdError
    mm = ctx.mm
    dst_vma = mm.vma_lookup(dst_start)           # find_vmas_mm_locked
    if dst_vma is None:
        return 0, _err("ENOENT", "no VMA at the destination")
    if not dst_vma.vm_flags & VM_SHARED and dst_vma.anon_vma is None:
        dst_vma.anon_vma = AnonVma()
    src_vma = dst_vma if dst_vma.vm_start <= src_start < dst_vma.vm_end else \
        mm.vma_lookup(src_start)
    if src_vma is None:
        return 0, _err("ENOENT", "no VMA at the source")
    try:
        if src_vma.vm_flags & VM_SHARED or dst_vma.vm_flags & VM_SHARED:
            raise _err("EINVAL", "UFFDIO_MOVE needs private mappings")
        if src_start + length > src_vma.vm_end or dst_start + length > dst_vma.vm_end:
            raise _err("EINVAL", "a range is not inside one VMA")
        validate_move_areas(ctx, src_vma, dst_vma)
    except UffdError as err:
        return 0, err
    moved = 0
    while moved < length:
        src_addr, dst_addr = src_start + moved, dst_start + moved
        src_pmd = pmd_table_of(mm, src_addr, False)
        j = (src_addr >> 21) & 511
        if (src_pmd is None or src_pmd[j] is None) and not allow_src_holes:
            return moved >> 12, _err("ENOENT", f"the source {src_addr:#x} is a hole")
        dst_pmd = pmd_table_of(mm, dst_addr, True)
        if type(dst_pmd[(dst_addr >> 21) & 511]) is int:
            return moved >> 12, _err("EEXIST", f"a huge page is mapped at {dst_addr:#x}")
        if src_pmd is not None and type(src_pmd[j]) is int:
            from faultlang.kernel.mm.huge_memory import split_huge_pmd_address
            why("huge PMD at the source: split it, the PTEs are moved one by one")
            split_huge_pmd_address(src_vma, src_addr)
        try:
            move_pages_pte(mm, dst_vma, src_vma, dst_addr, src_addr, allow_src_holes)
        except UffdError as err:
            return moved >> 12, err
        moved += 4096
    return moved >> 12, None


@kfunc(USERFAULTFD_C, fault_bits=False)
def move_pages_pte(mm, dst_vma: Vma, src_vma: Vma, dst_addr: int, src_addr: int,
                   allow_src_holes: bool) -> None:
    """move_pages_pte - one PTE: the destination must be none (a marker is not),
    a source hole is -ENOENT (or nothing to do); the zero page is re-mapped; a present
    page must be an exclusive, unpinned, small anonymous folio (-EBUSY) and moves with
    its rmap (folio_move_anon_rmap, new index); an exclusive swap entry moves as is;
    other markers are -EFAULT."""
    dst_table, di = _pte_slot(dst_vma, dst_addr)
    if dst_table[di]:
        raise _err("EEXIST", f"the destination {dst_addr:#x} is not a hole")
    src_pmd = pmd_table_of(mm, src_addr, True)
    sj = (src_addr >> 21) & 511
    if src_pmd[sj] is None:
        src_pmd[sj] = [0] * 512
    src_table, si = src_pmd[sj], (src_addr >> 12) & 511
    pte = src_table[si]
    if not pte:
        if not allow_src_holes:
            raise _err("ENOENT", f"the source {src_addr:#x} is a hole")
        why("source hole: nothing to move (ALLOW_SRC_HOLES)")
        return
    system = mm.system
    if pte & pt._PAGE_PRESENT:
        pfn = (pte & pt.PFN_MASK) >> 12
        if pfn == system.zero_pfn:
            why("zero page: map it at the destination")
            src_table[si] = 0
            dst_table[di] = (pfn << 12) | pt._PAGE_SPECIAL | (dst_vma.vm_page_prot & ~pt._PAGE_RW)
            return
        folio = system.phys.page_folio(pfn) if not pte & pt._PAGE_SPECIAL else None
        if folio is None or not folio.anon or not PageAnonExclusive(folio, pfn - folio.pfn):
            raise _err("EBUSY", f"the page at {src_addr:#x} is not exclusive to this mm")
        if folio.order or folio.pincount:
            raise _err("EBUSY", f"the page at {src_addr:#x} is a large or pinned folio")
        src_table[si] = 0                          # ptep_clear_flush
        folio.mapping = dst_vma.anon_vma           # folio_move_anon_rmap
        folio.index = ((dst_addr - dst_vma.vm_start) >> 12) + dst_vma.vm_pgoff
        # "Follow mremap() behavior and treat the entry dirty after the move"
        dst_table[di] = (pfn << 12) | dst_vma.vm_page_prot | pt._PAGE_DIRTY | pt._PAGE_RW
        why(f"page moved ({src_addr:#x} -> {dst_addr:#x})")
        return
    if not pt.is_swap_pte(pte):
        raise _err("EFAULT", f"a PTE marker at {src_addr:#x} cannot be moved")
    if not pte & pt._PAGE_SWP_EXCLUSIVE:
        raise _err("EBUSY", f"the swap entry at {src_addr:#x} is shared")
    swap = system.swap
    folio = swap.cache.get(pt.swp_offset(pte)) if swap is not None else None
    if folio is not None:
        folio.mapping = dst_vma.anon_vma
        folio.index = ((dst_addr - dst_vma.vm_start) >> 12) + dst_vma.vm_pgoff
    src_table[si] = 0
    dst_table[di] = pte
    why(f"swap entry moved ({src_addr:#x} -> {dst_addr:#x})")


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
    if vma.vm_flags & VM_HUGETLB:
        return _hugetlb_wp_range(vma, start, end, enable)
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
            PageAnonExclusive(folio, ((pte & pt.PFN_MASK) >> 12) - folio.pfn)
    return bool(vma.vm_page_prot & pt._PAGE_RW or pte & pt._PAGE_DIRTY)


def _hugetlb_wp_range(vma: Vma, start: int, end: int, enable: bool) -> int:
    """hugetlb_change_protection() with MM_CP_UFFD_WP[_RESOLVE] on the present huge
    PTEs (none ones would get markers in the kernel: not modelled here); resolving
    leaves them read-only, and the next write fault (hugetlb_fault) makes them
    writable again."""
    from faultlang.kernel.mm.huge_memory import walk_huge_pmds
    changed = 0
    for pmd, i, _ in list(walk_huge_pmds(vma.vm_mm, start, end)):
        entry = pmd[i]
        if enable:
            new = (entry | pt._PAGE_UFFD_WP) & ~pt._PAGE_RW
        else:
            # no MM_CP_TRY_CHANGE_WRITABLE for hugetlb: the next write sets the bit
            new = entry & ~pt._PAGE_UFFD_WP
        if new != entry:
            pmd[i] = new
            changed += 1
    return changed
