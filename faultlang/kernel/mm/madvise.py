"""Mirrors mm/madvise.c: madvise(2) advice that changes what later faults do.

dontneed zaps (the next access faults afresh), free marks anonymous pages lazily
freeable (no fault later unless reclaim discarded them first), cold deactivates,
populate_read/_write fault the range in through GUP, dontfork/wipeonfork decide what
a fork child gets, random/sequential/normal steer file readahead.
"""

from __future__ import annotations

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    VM_SHARED, MmStruct, Vma, vma_is_anonymous,
)
from faultlang.kernel.mm.gup import faultin_page_range
from faultlang.kernel.mm.memory import (
    vm_normal_folio, walk_pte_slots, zap_page_range_single, zap_pte,
)
from faultlang.kernel.mm.swapfile import folio_free_swap
from faultlang.kernel.mm.mmap import MmapError, check_range_mapped, isolate_range, merge_vmas
from faultlang.kernel.trace import kfunc, why

MADVISE_C = "mm/madvise.c"
VM_DONTCOPY = 0x20000
VM_WIPEONFORK = 0x2000000
VM_SEQ_READ = 0x8000
VM_RAND_READ = 0x10000
VM_HUGEPAGE = 0x20000000
VM_NOHUGEPAGE = 0x40000000
VM_LOCKED = 0x2000
VM_PFNMAP = 0x400

# advice → (set, clear) of VMA flags, for the advice that only changes flags
_FLAG_ADVICE = {
    "dontfork": (VM_DONTCOPY, 0),
    "dofork": (0, VM_DONTCOPY),
    "wipeonfork": (VM_WIPEONFORK, 0),
    "keeponfork": (0, VM_WIPEONFORK),
    "random": (VM_RAND_READ, VM_SEQ_READ),
    "sequential": (VM_SEQ_READ, VM_RAND_READ),
    "normal": (0, VM_RAND_READ | VM_SEQ_READ),
    "hugepage": (VM_HUGEPAGE, VM_NOHUGEPAGE),
    "nohugepage": (VM_NOHUGEPAGE, VM_HUGEPAGE),
}


@kfunc(MADVISE_C, fault_bits=False)
def do_madvise(mm: MmStruct, start: int, length: int, advice: str) -> str:
    """do_madvise - apply one advice to [start, start+length). Returns a short note."""
    end = start + length
    check_range_mapped(mm, start, end)
    if advice in ("populate_read", "populate_write"):
        got = faultin_page_range(mm, start, end, advice == "populate_write")
        if got < 0:
            # madvise_populate turns the permission failure of GUP into EINVAL
            # (measured on 6.18: PROT_NONE read, or a write to read-only memory)
            raise MmapError("EINVAL", "the range is not accessible for that kind of access")
        return f"{got} pages populated"
    if advice in _FLAG_ADVICE:
        set_bits, clear_bits = _FLAG_ADVICE[advice]
        for vma in isolate_range(mm, start, end):
            if advice == "wipeonfork" and (vma.vm_flags & VM_SHARED or not vma_is_anonymous(vma)):
                raise MmapError("EINVAL", "MADV_WIPEONFORK works on private anonymous memory only")
            vma.vm_flags = (vma.vm_flags | set_bits) & ~clear_bits
        merge_vmas(mm, start, end)
        return ""
    total = 0
    for vma in [v for v in mm.vmas if v.vm_start < end and v.vm_end > start]:
        lo, hi = max(start, vma.vm_start), min(end, vma.vm_end)
        if advice in ("free", "cold", "pageout") and vma.vm_flags & (VM_LOCKED | VM_PFNMAP):
            # can_madv_lru_vma() / madvise_dontneed_free_valid_vma(): locked memory
            # must stay resident, so the kernel refuses (measured: EINVAL)
            raise MmapError("EINVAL", f"MADV_{advice.upper()} refuses locked VMAs")
        if advice in ("dontneed", "free"):
            from faultlang.kernel.fs.userfaultfd import userfaultfd_remove
            userfaultfd_remove(vma, lo, hi)    # madvise_dontneed_free: the monitor first
        if advice == "dontneed":
            total += madvise_dontneed_single_vma(vma, lo, hi)
        elif advice == "free":
            total += madvise_free_single_vma(vma, lo, hi)
        elif advice in ("cold", "pageout"):
            total += madvise_cold_or_pageout(vma, lo, hi, advice == "pageout")
        elif advice == "willneed":
            total += madvise_willneed(vma, lo, hi)
        else:
            raise MmapError("EINVAL", f"unknown advice '{advice}'")
    return f"{total} pages"


@kfunc(MADVISE_C, fault_bits=False)
def madvise_dontneed_single_vma(vma: Vma, start: int, end: int) -> int:
    """MADV_DONTNEED: zap the PTEs; private anonymous pages are freed."""
    if vma.vm_flags & (VM_LOCKED | VM_PFNMAP):
        raise MmapError("EINVAL", "MADV_DONTNEED refuses locked and PFN-mapped VMAs")
    if vma.vm_flags & 0x400000:              # VM_HUGETLB: aligned start, end rounded down
        from faultlang.kernel.mm.hugetlb import madvise_dontneed_hugetlb
        return madvise_dontneed_hugetlb(vma, start, end)
    return zap_page_range_single(vma, start, end)


@kfunc(MADVISE_C, fault_bits=False)
def madvise_free_single_vma(vma: Vma, start: int, end: int) -> int:
    """MADV_FREE (madvise_free_pte_range): swap entries of the range are freed; each
    mapped folio loses its dirty state (PG_dirty and the PTE's dirty and young bits)
    and is marked lazyfree. The PTEs stay, so a later access does not fault unless
    reclaim discarded the page first."""
    if not vma_is_anonymous(vma) or vma.vm_flags & VM_SHARED:
        raise MmapError("EINVAL", "MADV_FREE works on private anonymous memory only")
    mm = vma.vm_mm
    system = mm.system
    count = 0
    for table, i, _ in walk_pte_slots(mm, start, end):
        pte = table[i]
        if not pte & pt._PAGE_PRESENT:
            if pt.is_swap_pte(pte):
                zap_pte(mm, table, i)          # free_swap_and_cache_nr, MM_SWAPENTS
            elif pt.is_pte_marker(pte) and pt.pte_marker_kind(pte) & pt.PTE_MARKER_POISONED:
                table[i] = 0
            continue
        folio = vm_normal_folio(mm, pte)
        if folio is None:
            continue
        if folio.swapcache or folio.dirty:
            # a folio others map keeps its dirty state: their data must survive
            if folio.mapcount != folio.nr_pages:
                continue
            if folio.swapcache and not folio_free_swap(system, folio):
                continue
            folio.dirty = False
        table[i] &= ~(pt._PAGE_DIRTY | pt._PAGE_ACCESSED)
        folio_mark_lazyfree(system, folio)
        count += 1
    return count


def folio_mark_lazyfree(system, folio) -> None:
    """folio_mark_lazyfree (mm/swap.c, lru_lazyfree): a swap-backed anonymous folio
    loses PG_swapbacked and moves to the inactive file LRU, as a clean page reclaim may
    drop; counted in pglazyfree."""
    if not folio.anon or folio.lazyfree or folio.swapcache or folio.mlocked:
        return
    folio.lazyfree = True
    folio.active = False
    folio.referenced = False
    lru = system.lru
    if lru is not None and folio.lru:
        lru.active.pop(id(folio), None)
        lru.inactive.pop(id(folio), None)
        lru.inactive[id(folio)] = folio
    system.vmstat.pglazyfree += folio.nr_pages


@kfunc(MADVISE_C, fault_bits=False)
def madvise_cold_or_pageout(vma: Vma, start: int, end: int, pageout: bool) -> int:
    """MADV_COLD deactivates (clears young); MADV_PAGEOUT also reclaims what it can.
    Without swap nothing anonymous can be reclaimed, so the PTEs stay."""
    mm = vma.vm_mm
    system = mm.system
    count = 0
    for table, i, _ in walk_pte_slots(mm, start, end):
        if not table[i] & pt._PAGE_PRESENT:
            continue
        folio = vm_normal_folio(mm, table[i])
        if folio is None:
            continue
        table[i] &= ~pt._PAGE_ACCESSED
        folio.active = False
        folio.referenced = False
        count += 1
    if pageout:
        if system.swap is None:
            why("no swap device: anonymous pages cannot be paged out")
        from faultlang.kernel.mm.vmscan import reclaim_pages_range
        return reclaim_pages_range(vma, start, end)
    return count


@kfunc(MADVISE_C, fault_bits=False)
def madvise_willneed(vma: Vma, start: int, end: int) -> int:
    """MADV_WILLNEED: read ahead file pages, or swap in anonymous ones; nothing is mapped."""
    if vma.vm_flags & 0x400000:              # VM_HUGETLB
        why("a hugetlbfs file has no backing device: generic_fadvise ignores the advice")
        return 0
    if vma.vm_file is not None:
        from faultlang.kernel.mm.readahead import force_page_cache_readahead
        return force_page_cache_readahead(vma, start, end)
    if vma.vm_mm.system.swap is not None:
        from faultlang.kernel.mm.swap_state import swapin_willneed
        return swapin_willneed(vma, start, end)
    return 0
