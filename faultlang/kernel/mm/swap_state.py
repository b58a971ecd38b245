"""Mirrors mm/swap_state.c (Linux 6.18) and the swap-entry half of do_swap_page (mm/memory.c).

The swap cache lookup, swap-in readahead (cluster-based on rotational disks,
VMA-based otherwise) and the part of do_swap_page that handles a real swap entry:
a swap-cache hit is a minor fault; a miss reads the page (VM_FAULT_MAJOR, PGMAJFAULT);
SWP_SYNCHRONOUS_IO devices (zram) read an entry with count 1 directly, without the
swap cache and without readahead.

Simplified:
- Reads complete at once; on a device with asynchronous reads the faulting folio is
  still locked for I/O when do_swap_page wants it, so the fault drops its lock and
  retries (VM_FAULT_RETRY), as filemap_fault does in faultlang.
- Order-0 folios only (no mTHP swap-in); no KSM, no memcg, no uffd-wp on swap PTEs
  beyond keeping the bit; readahead allocations never reclaim.
"""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_ALLOW_RETRY, FAULT_FLAG_TRIED, FAULT_FLAG_WRITE, VM_FAULT_MAJOR,
    VM_FAULT_OOM, VM_FAULT_RETRY, VM_FAULT_SIGBUS, VM_WRITE, Folio, Vma, VmFault, SetPageAnonExclusive,
)
from faultlang.kernel.mm.page_alloc import alloc_pages
from faultlang.kernel.mm.swapfile import (
    SwapInfo, add_to_swap_cache, folio_free_swap, swap_free, swap_info, vm_swap_full,
)
from faultlang.kernel.trace import kfunc, why

SWAP_STATE_C = "mm/swap_state.c"
MM_ANONPAGES, MM_SWAPENTS = 1, 2
VM_LOCKED = 0x2000


def swap_read_folio(si: SwapInfo, folio: Folio, off: int) -> None:
    """swap_read_folio(): the slot's data into the folio (PSWPIN)."""
    si.system.phys.mem[folio.pfn] = si.data.get(off, 0)
    si.system.vmstat.pswpin += 1
    si.system.vmstat.pgpgin += 4


def swap_cache_get_folio(si: SwapInfo, off: int, vmf: Optional[VmFault] = None) -> Optional[Folio]:
    """swap_cache_get_folio(): look the slot up in the swap cache; a hit takes a
    reference, and a PG_readahead hit counts for the readahead window
    (swap_update_readahead)."""
    folio = si.cache.get(off)
    if folio is None:
        return None
    folio.refcount += 1
    hit = folio.readahead
    folio.readahead = False
    if vmf is not None and si.flags & 0x10:   # VMA readahead keeps its state per VMA
        _, win, hits = si.vma_ra.get(id(vmf.vma), (0, 0, 0))
        si.vma_ra[id(vmf.vma)] = (vmf.address >> 12, win, min(hits + hit, 255))
    elif hit:
        si.ra_hits += 1
    return folio


def read_swap_cache_async(si: SwapInfo, off: int, node: int, readahead: bool) -> Optional[Folio]:
    """__read_swap_cache_async(): a new folio for an allocated slot that is not cached
    yet, added to the swap cache and read. Readahead folios get PG_readahead."""
    if not si.swap_map[off] or off in si.cache:
        return None
    folio = alloc_pages(si.system.phys, 0, node, False, False)
    if folio is None:
        return None
    folio.anon = True                  # swap-backed: an anonymous folio not yet mapped
    folio.lru = True
    add_to_swap_cache(si, folio, off)
    folio.refcount -= 1                # the allocation's reference became the cache's
    swap_read_folio(si, folio, off)
    folio.readahead = readahead
    return folio


def __swapin_nr_pages(prev: int, cur: int, hits: int, max_pages: int, prev_win: int) -> int:
    """__swapin_nr_pages(): the adaptive window: hits + 2, rounded up to a power of two;
    no hits and not sequential → 1; never more than max, never below half the last."""
    pages = hits + 2
    if pages == 2:
        if cur != prev + 1 and cur != prev - 1:
            pages = 1
    else:
        roundup = 4
        while roundup < pages:
            roundup <<= 1
        pages = roundup
    pages = min(pages, max_pages)
    return max(pages, prev_win // 2)


def swapin_nr_pages(si: SwapInfo, off: int) -> int:
    """swapin_nr_pages(): the cluster readahead window for this miss."""
    max_pages = 1 << si.system.settings.page_cluster
    if max_pages <= 1:
        return 1
    hits, si.ra_hits = si.ra_hits, 0
    pages = __swapin_nr_pages(si.prev_offset, off, hits, max_pages, si.last_ra_pages)
    if not hits:
        si.prev_offset = off
    si.last_ra_pages = pages
    return pages


@kfunc(SWAP_STATE_C, fault_bits=False)
def swap_cluster_readahead(si: SwapInfo, off: int, node: int) -> Optional[Folio]:
    """swap_cluster_readahead - read the aligned cluster of slots around the miss
    (window adaptive, at most 2^page_cluster), then the faulting slot itself."""
    win = swapin_nr_pages(si, off)
    if win > 1:
        mask = win - 1
        start, end = max(1, off & ~mask), min(si.max - 1, off | mask)
        got = 0
        for ra in range(start, end + 1):
            if ra != off and read_swap_cache_async(si, ra, node, True) is not None:
                got += 1
        why(f"cluster readahead: slots {start}..{end} ({got} read besides slot {off})")
    else:
        why("no readahead hits and not sequential: read only this slot")
    folio = read_swap_cache_async(si, off, node, False)
    if folio is None:
        folio = alloc_target(si, off, node)
    return folio


@kfunc(SWAP_STATE_C, fault_bits=False)
def swap_vma_readahead(si: SwapInfo, vmf: VmFault) -> Optional[Folio]:
    """swap_vma_readahead - read the swap entries of the PTEs around the faulting
    address (same VMA, same page table), in the direction the faults go."""
    vma = vmf.vma
    off = pt.swp_offset(vmf.orig_pte)
    node = vma.vm_mm.owner.numa_node if vma.vm_mm.owner is not None else 0
    max_win = 1 << si.system.settings.page_cluster
    fpfn = vmf.address >> 12
    prev_pfn, prev_win, hits = si.vma_ra.get(id(vma), (0, 0, 0))
    win = 1 if max_win <= 1 else __swapin_nr_pages(prev_pfn, fpfn, hits, max_win, prev_win)
    si.vma_ra[id(vma)] = (fpfn, win, 0)
    if win > 1:
        if fpfn == prev_pfn + 1:
            lpfn, rpfn = fpfn, fpfn + win
        elif prev_pfn == fpfn + 1:
            lpfn, rpfn = fpfn - win + 1, fpfn + 1
        else:
            left = (win - 1) // 2
            lpfn, rpfn = fpfn - left, fpfn + win - left
        table_lo = (vmf.address & ~0x1FFFFF) >> 12
        lpfn = max(lpfn, vma.vm_start >> 12, table_lo)
        rpfn = min(rpfn, vma.vm_end >> 12, table_lo + 512)
        got = 0
        table = vmf.pte_table
        for pfn in range(lpfn, rpfn):
            pte = table[pfn & 511]
            if pfn != fpfn and pt.is_swap_pte(pte) and swap_info(si.system, pte) is si:
                if read_swap_cache_async(si, pt.swp_offset(pte), node, True) is not None:
                    got += 1
        why(f"VMA readahead: window of {win} pages, {got} read besides the fault")
    else:
        why("no readahead hits and not sequential: read only this page")
    folio = read_swap_cache_async(si, off, node, False)
    if folio is None:
        folio = alloc_target(si, off, node)
    return folio


def alloc_target(si: SwapInfo, off: int, node: int) -> Optional[Folio]:
    """The faulting slot's folio when readahead's no-reclaim allocation failed: this one
    may reclaim (the fault needs it)."""
    if off in si.cache:
        return si.cache[off]
    folio = alloc_pages(si.system.phys, 0, node, False)
    if folio is None:
        return None
    if off in si.cache:               # reclaim may not free this slot's folio
        from faultlang.kernel.mm.rmap import folio_put
        folio_put(si.system.phys, folio)
        return si.cache[off]
    folio.anon = True
    folio.lru = True
    add_to_swap_cache(si, folio, off)
    folio.refcount -= 1
    swap_read_folio(si, folio, off)
    return folio


@kfunc(SWAP_STATE_C, fault_bits=False)
def swapin_readahead(si: SwapInfo, vmf: VmFault) -> Optional[Folio]:
    """swapin_readahead - VMA-based readahead unless a rotational device is in use
    (swap_use_vma_readahead), else cluster-based. Returns the folio with a reference."""
    vma = vmf.vma
    node = vma.vm_mm.owner.numa_node if vma.vm_mm.owner is not None else 0
    if si.flags & 0x10:                       # SWP_SOLIDSTATE: nr_rotate_swap == 0
        folio = swap_vma_readahead(si, vmf)
    else:
        folio = swap_cluster_readahead(si, pt.swp_offset(vmf.orig_pte), node)
    if folio is not None:
        folio.refcount += 1
        folio.readahead = False
    return folio


def do_swap_page_entry(vmf: VmFault) -> int:
    """do_swap_page(), continued for a real swap entry: find the folio in the swap cache (minor) or
    read it (VM_FAULT_MAJOR), then map it, writable at once when it is exclusive."""
    vma = vmf.vma
    mm = vma.vm_mm
    system = mm.system
    entry = vmf.orig_pte
    si = swap_info(system, entry)
    if si is None:
        why("swap entry of no active device: print_bad_pte")
        return VM_FAULT_SIGBUS
    off = pt.swp_offset(entry)
    ret = 0
    swapcache = True
    folio = swap_cache_get_folio(si, off, vmf)
    if folio is not None:
        why(f"slot {off} found in the swap cache: no I/O (minor)")
    else:
        if si.synchronous and si.count(off) == 1:
            why(f"slot {off}: SWP_SYNCHRONOUS_IO and swap count 1: read it directly, "
                "skipping the swap cache, no readahead")
            node = mm.owner.numa_node if mm.owner is not None else 0
            folio = alloc_pages(system.phys, 0, node, False)
            if folio is not None:
                folio.anon = True
                folio.lru = True
                swap_read_folio(si, folio, off)
                swapcache = False
        else:
            why(f"slot {off} not in the swap cache: swapin_readahead")
            folio = swapin_readahead(si, vmf)
        if folio is None:
            why("no memory for the folio: OOM")
            return VM_FAULT_OOM
        why("had to read it: VM_FAULT_MAJOR (PGMAJFAULT)")
        ret = VM_FAULT_MAJOR
        system.vmstat.pgmajfault += 1
        if swapcache and not si.synchronous and vmf.flags & FAULT_FLAG_ALLOW_RETRY \
                and not vmf.flags & FAULT_FLAG_TRIED:
            # folio_lock_or_retry: the read is in flight; the fault drops its lock and
            # waits, then retries (the folio is then a swap-cache hit, counted major).
            why("folio locked for read I/O: drop the lock and wait (VM_FAULT_RETRY)")
            folio.refcount -= 1
            return ret | VM_FAULT_RETRY
    exclusive = bool(entry & pt._PAGE_SWP_EXCLUSIVE) or not swapcache
    # The fault's reference becomes the PTE's; swap_free_nr drops the entry's.
    if swapcache:
        swap_free(si, off)
        if should_try_to_free_swap(si, folio, vma, vmf.flags):
            folio_free_swap(system, folio)
    else:
        swap_free(si, off)
    writable = False
    pte = (folio.pfn << 12) | vma.vm_page_prot | pt._PAGE_ACCESSED
    if exclusive or folio.refcount == 1:
        if vma.vm_flags & VM_WRITE and not entry & pt._PAGE_UFFD_WP:
            pte |= pt._PAGE_RW
            writable = True
            if vmf.flags & FAULT_FLAG_WRITE:
                pte |= pt._PAGE_DIRTY
                vmf.flags &= ~FAULT_FLAG_WRITE
        exclusive = True
    pte |= entry & (pt._PAGE_SOFT_DIRTY | pt._PAGE_UFFD_WP)
    if folio.mapping is None:
        from faultlang.kernel.mm.rmap import folio_add_new_anon_rmap
        folio_add_new_anon_rmap(folio, vma, vmf.address, exclusive)
    else:
        folio.mapcount += 1
        if exclusive:
            SetPageAnonExclusive(folio)
            folio.mapping = vma.anon_vma
    mm.rss_stat[MM_ANONPAGES] += 1
    mm.rss_stat[MM_SWAPENTS] -= 1
    vmf.pte_table[vmf.pte_index] = pte
    vmf.orig_pte = pte
    why(("exclusive: mapped writable" if writable else "exclusive: mapped")
        if exclusive else "shared with another process: mapped read-only")
    if vmf.flags & FAULT_FLAG_WRITE:
        from faultlang.kernel.mm.memory import do_wp_page
        ret |= do_wp_page(vmf)
    return ret


def should_try_to_free_swap(si: SwapInfo, folio: Folio, vma: Vma, flags: int) -> bool:
    """should_try_to_free_swap(): swap nearly full, a locked VMA, or an exclusive write
    (then the slot's copy is stale at once)."""
    if not folio.swapcache:
        return False
    if vm_swap_full(si) or vma.vm_flags & VM_LOCKED or folio.mlocked:
        return True
    return bool(flags & FAULT_FLAG_WRITE) and folio.refcount == 2


@kfunc(SWAP_STATE_C, fault_bits=False)
def swapin_willneed(vma: Vma, start: int, end: int) -> int:
    """madvise_willneed on anonymous memory (swapin_walk_pmd_entry): read every swapped
    page of the range into the swap cache; nothing is mapped. Returns pages read."""
    from faultlang.kernel.mm.memory import walk_pte_slots
    mm = vma.vm_mm
    si = mm.system.swap
    node = mm.owner.numa_node if mm.owner is not None else 0
    got = 0
    for table, i, _ in walk_pte_slots(mm, start, end):
        pte = table[i]
        if pt.is_swap_pte(pte) and swap_info(mm.system, pte) is si:
            if read_swap_cache_async(si, pt.swp_offset(pte), node, False) is not None:
                got += 1
    why(f"{got} swapped pages read into the swap cache")
    return got
