"""Mirrors mm/vmscan.c (Linux 6.18): page reclaim, for MADV_PAGEOUT and memory pressure.

shrink_folio_list decides per folio: anonymous and shmem folios go to swap (add to
the swap cache, unmap into swap entries, write out); lazyfree (MADV_FREE) anonymous
folios that stayed clean are unmapped and dropped, swap or not; clean file folios are
unmapped and dropped; dirty file folios are written back first. A folio is only freed when
nothing but its mappings and its cache holds it. try_to_free_pages is the direct
reclaim an allocation runs when no frame is free.

Simplified (policy "linux"):
- The LRU is one pair of lists (inactive, active) for the whole machine, not per
  node/memcg and not split anon/file; no MGLRU, no kswapd, no workingset refaults.
  Folios join the inactive list's tail when reclaim first sees them (the lists are
  built lazily from mem_map, oldest PFN first), which keeps reclaim FIFO.
- Second chance: a folio whose PTEs were referenced is activated (anonymous) or gets
  PG_referenced and one more round (file); deactivation clears the young bits.
- Write-back I/O ends at the start of the next reclaim pass: on a disk or SSD the
  folio paged out stays in the swap cache under writeback until then; zram writes
  synchronously and the folio is freed at once. Dirty file folios are written back
  by reclaim itself (the kernel leaves that to the flusher threads).
- Large folios are never split: reclaim skips them. The reverse map is a walk of
  every live process's VMAs (anon_vma root, or the file's mapping).
"""

from __future__ import annotations

from typing import Any

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import Folio, Vma, ClearPageAnonExclusive, PageAnonExclusive
from faultlang.kernel.mm.page_alloc import free_folio
from faultlang.kernel.mm.rmap import maps_folio, rmap_walk
from faultlang.kernel.mm.swapfile import delete_from_swap_cache, folio_alloc_swap
from faultlang.kernel.trace import kfunc, why

VMSCAN_C = "mm/vmscan.c"
MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES = range(4)
VM_LOCKED = 0x2000
VM_EXEC = 0x4
VM_DROPPABLE = 1 << 42


class Lru:
    """struct lruvec, reduced to the inactive and active lists (oldest first)."""

    def __init__(self) -> None:
        self.inactive: dict[int, Folio] = {}
        self.active: dict[int, Folio] = {}


def lru_refresh(system: Any) -> Any:
    """Forget freed folios, append folios reclaim has not seen yet to the inactive list."""
    lru = system.lru
    if lru is None:
        lru = system.lru = Lru()
    mem_map = system.phys.mem_map
    for lst in (lru.inactive, lru.active):
        for key in [k for k, f in lst.items() if mem_map[f.pfn] is not f or not f.lru]:
            del lst[key]
    seen = set(lru.inactive) | set(lru.active)
    for folio in mem_map:
        if folio is not None and folio.lru and id(folio) not in seen:
            seen.add(id(folio))
            lru.inactive[id(folio)] = folio
    return lru


# --- the reverse map --------------------------------------------------------------


def folio_ptes(system: Any, folio: Folio) -> list[tuple[Vma, list, int]]:
    """rmap_walk(): (vma, PTE table, index) of every PTE, present or protnone, that maps
    an order-0 folio."""
    if not folio.mapcount:
        return []
    return rmap_walk(system, folio, maps_folio(folio))


def folio_referenced(system: Any, folio: Folio) -> int:
    """folio_referenced(): how many PTEs had the young bit (test and clear each)."""
    n = 0
    for _, table, i in folio_ptes(system, folio):
        if table[i] & pt._PAGE_ACCESSED:
            table[i] &= ~pt._PAGE_ACCESSED
            n += 1
    return n


@kfunc("mm/rmap.c", fault_bits=False)
def try_to_unmap(system: Any, folio: Folio, ptes: list) -> bool:
    """try_to_unmap - replace every PTE of the folio: a swap entry for a swap-cache
    folio (exclusive bit from PageAnonExclusive), none for a page-cache folio. A dirty
    PTE dirties the folio. A lazyfree (MADV_FREE) folio is discarded: its PTEs become
    none, unless it was written again (dirty: it is swap-backed again) or someone else
    holds a reference; then the walk stops and False says the folio is still mapped."""
    from faultlang.kernel.mm.memory import pte_install_uffd_wp_if_needed
    si = system.swap
    for vma, table, i in ptes:
        pte = table[i]
        mm = vma.vm_mm
        if pte & pt._PAGE_DIRTY:
            folio.dirty = True
        if folio.lazyfree:
            # try_to_unmap_one's MADV_FREE check
            if folio.dirty and not vma.vm_flags & VM_DROPPABLE:
                folio.lazyfree = False          # folio_set_swapbacked: redirtied
                why("lazyfree page written again: swap-backed once more, kept")
                return False
            if folio.refcount != folio.mapcount:
                why("lazyfree page has another reference: kept for now")
                return False
            table[i] = 0
            mm.rss_stat[MM_ANONPAGES] -= 1
        elif folio.anon:
            off = folio.private
            table[i] = pt.swp_entry_pte(si.type, off, PageAnonExclusive(folio)) | \
                (pte & (pt._PAGE_SOFT_DIRTY | pt._PAGE_UFFD_WP))
            si.swap_map[off] += 1
            mm.rss_stat[MM_ANONPAGES] -= 1
            mm.rss_stat[MM_SWAPENTS] += 1
        else:
            table[i] = 0
            pte_install_uffd_wp_if_needed(vma, table, i, pte)   # keep uffd-wp tracking
            mm.rss_stat[MM_SHMEMPAGES if getattr(folio.mapping, "shmem", False)
                        else MM_FILEPAGES] -= 1
        folio.mapcount -= 1
        folio.refcount -= 1
    ClearPageAnonExclusive(folio)
    return True


# --- shrinking ------------------------------------------------------------------------

KEEP, ACTIVATE, FREED = 0, 1, 2


def shrink_folio(system: Any, folio: Folio, referenced_ok: bool) -> int:
    """One folio of shrink_folio_list(): KEEP it, ACTIVATE it, or FREED."""
    if folio.order:
        return KEEP
    if folio.writeback:
        return KEEP
    if folio.mlocked:
        return ACTIVATE
    ptes = folio_ptes(system, folio)
    if len(ptes) != folio.mapcount or any(v.vm_flags & VM_LOCKED for v, _, _ in ptes):
        return ACTIVATE
    if referenced_ok:
        young = sum(1 for _, t, i in ptes if t[i] & pt._PAGE_ACCESSED)
        for _, t, i in ptes:
            t[i] &= ~pt._PAGE_ACCESSED
        if young:
            # a lazyfree folio is on the file LRU (not swap-backed): file rules apply
            if folio.anon and not folio.lazyfree or folio.referenced or \
                    any(v.vm_flags & VM_EXEC for v, _, _ in ptes):
                folio.referenced = False
                return ACTIVATE
            folio.referenced = True
            return KEEP
        folio.referenced = False
    if folio.lazyfree:
        # a clean MADV_FREE folio needs no swap slot: it is dropped (with or without swap)
        if ptes and not try_to_unmap(system, folio, ptes):
            return ACTIVATE
        if folio.refcount:                  # folio_ref_freeze failed
            return KEEP
        system.vmstat.pglazyfreed += 1
        free_folio(system.phys, folio)
        return FREED
    si = system.swap
    shmem = not folio.anon and getattr(folio.mapping, "shmem", False)
    if folio.anon or shmem:
        if si is None:
            return ACTIVATE
        if not folio.swapcache:
            cache_refs = 1 if shmem else 0
            if folio.refcount != folio.mapcount + cache_refs:
                return KEEP
            if shmem:
                from faultlang.kernel.mm.shmem import shmem_writeout_prepare
                if not shmem_writeout_prepare(si, folio):
                    return ACTIVATE
            elif not folio_alloc_swap(si, folio):
                return ACTIVATE
            folio.dirty = True
        elif folio.refcount != folio.mapcount + 1:
            return KEEP
        if ptes:
            try_to_unmap(system, folio, ptes)
        if folio.dirty:
            pageout_swap(si, folio)
            if folio.writeback:
                return KEEP
        delete_from_swap_cache(si, folio)
        return FREED
    mapping = folio.mapping
    if mapping is None or folio.refcount != folio.mapcount + 1:
        return KEEP
    if ptes:
        try_to_unmap(system, folio, ptes)
    if folio.dirty:
        mem = system.phys.mem
        mapping.disk[folio.index] = mem[folio.pfn]
        folio.dirty = False
        system.vmstat.pgpgout += 4
    from faultlang.kernel.mm.filemap import delete_from_page_cache
    delete_from_page_cache(mapping, folio)
    return FREED


@kfunc(VMSCAN_C, symbol="pageout", fault_bits=False)
def pageout_swap(si: Any, folio: Folio) -> None:
    """pageout - write a dirty swap-cache folio to its slot (swap_writeout). zram
    completes at once; a disk or SSD leaves the folio under writeback."""
    off = folio.private
    si.data[off] = si.system.phys.mem[folio.pfn]
    si.system.vmstat.pswpout += 1
    si.system.vmstat.pgpgout += 4
    folio.dirty = False
    if not si.synchronous:
        folio.writeback = True
        why(f"slot {off}: writeback started; the folio stays in the swap cache")
    else:
        why(f"slot {off}: written synchronously (zram)")


def end_writeback(system: Any) -> int:
    """folio_end_writeback() for every folio whose write has completed since the last
    pass (all of them: faultlang's I/O takes one reclaim pass)."""
    si = system.swap
    if si is None:
        return 0
    n = 0
    for folio in si.cache.values():
        if folio.writeback:
            folio.writeback = False
            n += 1
    return n


@kfunc(VMSCAN_C, fault_bits=False)
def shrink_folio_list(system: Any, folios: list, referenced_ok: bool) -> int:
    """shrink_folio_list - try to free each folio; returns how many were freed."""
    lru = system.lru
    freed = kept = 0
    for folio in folios:
        result = shrink_folio(system, folio, referenced_ok)
        key = id(folio)
        if lru is not None:
            lru.inactive.pop(key, None)
            lru.active.pop(key, None)
            if result == ACTIVATE:
                lru.active[key] = folio
            elif result == KEEP:
                lru.inactive[key] = folio
        if result == FREED:
            freed += 1
        else:
            kept += 1
    why(f"{freed} freed, {kept} kept")
    return freed


@kfunc(VMSCAN_C, fault_bits=False)
def reclaim_pages_range(vma: Vma, start: int, end: int) -> int:
    """reclaim_pages - MADV_PAGEOUT: reclaim the order-0 folios of the range that only
    this process maps (references ignored). Returns the folios freed or written."""
    from faultlang.kernel.mm.memory import vm_normal_folio, walk_pte_slots
    mm = vma.vm_mm
    system = mm.system
    end_writeback(system)
    folios, shared, large = [], 0, 0
    for table, i, _ in walk_pte_slots(mm, start, end):
        pte = table[i]
        if not pte & pt._PAGE_PRESENT:
            continue
        folio = vm_normal_folio(mm, pte)
        if folio is None:
            continue
        if folio.order:
            large += 1
        elif folio.mapcount > 1:
            shared += 1
        else:
            folios.append(folio)
    if shared:
        why(f"{shared} pages mapped by several processes: skipped")
    if large:
        why(f"{large} pages of large folios: skipped (not split)")
    before = system.vmstat.pswpout
    freed = shrink_folio_list(system, folios, False)
    return freed + (system.vmstat.pswpout - before if system.swap is not None
                    and not system.swap.synchronous else 0)


@kfunc(VMSCAN_C, fault_bits=False)
def shrink_active_list(system: Any, lru: Lru) -> int:
    """shrink_active_list - refill the inactive list from the oldest active folios,
    clearing their young bits (executable file folios that were used stay active)."""
    moved = 0
    for key, folio in list(lru.active.items()):
        if len(lru.inactive) >= len(lru.active):
            break
        del lru.active[key]
        if folio_referenced(system, folio) and not folio.anon and \
                any(v.vm_flags & VM_EXEC for v, _, _ in folio_ptes(system, folio)):
            lru.active[key] = folio
            continue
        folio.referenced = False
        lru.inactive[key] = folio
        moved += 1
    return moved


@kfunc(VMSCAN_C, fault_bits=False)
def try_to_free_pages(system: Any, nr_to_reclaim: int) -> int:
    """try_to_free_pages - direct reclaim: scan the LRU lists until nr_to_reclaim
    folios are freed or nothing more can be; returns the number freed."""
    if system.policy is not None:
        why(f"policy {system.policy.name}: the textbook policy picks one victim")
        from faultlang.kernel.mm.textbook import textbook_reclaim
        return textbook_reclaim(system, nr_to_reclaim)
    lru = lru_refresh(system)
    freed = 0
    for _ in range(3):                      # the priority loop, reduced to 3 passes
        end_writeback(system)
        shrink_active_list(system, lru)
        batch = list(lru.inactive.values())
        while batch and freed < nr_to_reclaim:
            chunk, batch = batch[:nr_to_reclaim - freed], batch[nr_to_reclaim - freed:]
            freed += shrink_folio_list(system, chunk, True)
        if freed >= nr_to_reclaim:
            break
    why(f"{freed} folios reclaimed" if freed else "nothing reclaimable")
    return freed


def reclaim_n(system: Any, nr: int) -> int:
    """`reclaim N` (memory.reclaim): direct reclaim until N folios are freed or no
    progress is made."""
    freed = 0
    while freed < nr:
        got = try_to_free_pages(system, nr - freed)
        if not got:
            break
        freed += got
    return freed


@kfunc("fs/drop_caches.c", fault_bits=False)
def drop_pagecache(system: Any) -> int:
    """drop_pagecache_sb - `echo 1 > drop_caches`: invalidate every clean, unmapped,
    unreferenced page-cache folio of the files (tmpfs keeps its pages)."""
    from faultlang.kernel.mm.filemap import delete_from_page_cache
    dropped = 0
    for mapping in system.files.values():
        if mapping.shmem:
            continue
        for folio in mapping.folios():
            if not folio.dirty and not folio.mapcount and not folio.writeback \
                    and folio.refcount == 1:
                dropped += folio.nr_pages
                delete_from_page_cache(mapping, folio)
    why(f"{dropped} page-cache pages dropped")
    return dropped
