"""Mirrors mm/migrate.c (Linux 6.18): moving a page to another NUMA node.

Simplified: only migrate_misplaced_folio, for an order-0 anonymous folio mapped by one
PTE and not in the swap cache (what a NUMA hinting fault of a private page meets);
anything else stays where it is. No migration entries: the fault holds the PTE lock,
so the copy and the PTE change happen at once.
"""

from __future__ import annotations

from typing import Any, Optional

from faultlang.kernel.include.linux.mm_types import Folio, Vma
from faultlang.kernel.trace import kfunc, why


@kfunc("mm/migrate.c", fault_bits=False)
def migrate_misplaced_folio(system: Any, folio: Folio, vma: Vma, node: int) -> Optional[Folio]:
    """migrate_misplaced_folio - copy a misplaced folio to a new page on `node` and
    free the old one (PGMIGRATE_SUCCESS). None when it cannot move."""
    from faultlang.kernel.mm.page_alloc import alloc_pages, free_folio
    phys = system.phys
    if not folio.anon or folio.mapcount != 1 or folio.swapcache or folio.pincount \
            or folio.refcount != 1:
        why("shared, cached or pinned: not migrated")
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
    folio.mapcount = 0
    folio.refcount = 0
    free_folio(phys, folio)
    system.vmstat.pgmigrate_success += 1
    why(f"copied to pfn {new.pfn:#x} on node {node}")
    return new
