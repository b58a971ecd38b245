"""Mirrors mm/migrate.c (Linux 6.18): moving a page to another NUMA node.

migrate_misplaced_folio_prepare decides whether a NUMA hinting fault may move a folio:
page-cache folios of regular files (the file LRU) refuse when they are executable and
mapped by several processes (probably a shared library: -EACCES) or dirty (-EAGAIN in
async mode); anonymous and shmem folios always may. migrate_misplaced_folio then moves
it: every PTE that maps the folio is pointed at a copy on the target node, and the page
cache or swap cache entry moves to the copy (folio_migrate_mapping). A folio with
references beyond its mappings and its cache (a GUP pin) stays (-EAGAIN).

Simplified: order-0 folios only; no migration entries (the fault holds the PTE lock,
so the copy and the PTE changes happen at once); the target node must have a free
page (migrate_balanced_pgdat without watermarks).
"""

from __future__ import annotations

from typing import Any, Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import Folio, Vma
from faultlang.kernel.trace import kfunc, why

MIGRATE_C = "mm/migrate.c"
EACCES, EAGAIN = 13, 11
VM_EXEC = 0x4


def folio_is_file_lru(folio: Folio) -> bool:
    """folio_is_file_lru(): not swap-backed: regular-file page cache, or lazyfree anon."""
    if folio.anon:
        return folio.lazyfree
    return not getattr(folio.mapping, "shmem", False)


@kfunc(MIGRATE_C, fault_bits=False)
def migrate_misplaced_folio_prepare(system: Any, folio: Folio, vma: Vma, node: int) -> int:
    """migrate_misplaced_folio_prepare - may this folio move to `node`? 0, or -errno."""
    if folio_is_file_lru(folio):
        if vma.vm_flags & VM_EXEC and folio.mapcount > 1:      # folio_maybe_mapped_shared
            why("executable file page mapped by several processes (a shared library): "
                "-EACCES")
            return -EACCES
        if folio.dirty:
            why("dirty file page: not every filesystem moves one in async mode: -EAGAIN")
            return -EAGAIN
    if not any(z.node == node and z.nr_free for z in system.phys.zones):
        why(f"node {node} has no free page: -EAGAIN")
        return -EAGAIN
    if not folio.lru:
        why("not on an LRU list (folio_isolate_lru fails): -EAGAIN")
        return -EAGAIN
    return 0


@kfunc(MIGRATE_C, fault_bits=False)
def migrate_misplaced_folio(system: Any, folio: Folio, node: int) -> Optional[Folio]:
    """migrate_misplaced_folio - copy the folio to a new page on `node`, move its cache
    entry and its mappings there, and free the old page (PGMIGRATE_SUCCESS). None when
    it cannot move."""
    from faultlang.kernel.mm.page_alloc import alloc_pages, free_folio
    from faultlang.kernel.mm.vmscan import folio_ptes
    phys = system.phys
    cached = folio.swapcache or (not folio.anon and folio.mapping is not None)
    if folio.pincount or folio.refcount != folio.mapcount + cached:
        why("references beyond the mappings and the cache (pinned): -EAGAIN")
        return None
    ptes = [(table, i) for _, table, i in folio_ptes(system, folio)]
    if len(ptes) != folio.mapcount:
        why("not every mapping found: -EAGAIN")
        return None
    new = alloc_pages(phys, 0, node, zero=False, reclaim=False)
    if new is None or phys.node_of(new.pfn) != node:
        if new is not None:
            free_folio(phys, new)
        why(f"node {node} has no free page: not migrated")
        return None
    phys.mem[new.pfn] = phys.mem[folio.pfn]
    for slot in Folio.__slots__:
        if slot not in ("pfn", "order"):
            setattr(new, slot, getattr(folio, slot))
    new.exclusive = set(folio.exclusive)
    # folio_migrate_mapping: the cache entry now names the copy
    if folio.swapcache:
        system.swap.cache[folio.private] = new
    elif not folio.anon:
        new.mapping.i_pages[folio.index] = new
    for table, i in ptes:                  # remove_migration_ptes
        table[i] = (table[i] & ~pt.PFN_MASK) | (new.pfn << 12)
    folio.mapcount = 0
    folio.refcount = 0
    free_folio(phys, folio)
    system.vmstat.pgmigrate_success += 1
    kind = "anonymous" if folio.anon else ("shmem" if cached and not folio_is_file_lru(folio)
                                           else "page-cache")
    why(f"{kind} page copied to pfn {new.pfn:#x} on node {node}, "
        f"{len(ptes)} PTE{'s' if len(ptes) != 1 else ''} moved")
    return new
