"""Mirrors mm/rmap.c (and the folio reference helpers of mm/swap.c): who maps a folio.

Simplified: mapcount is kept per folio (the sum over its pages), the reverse map itself
(which VMAs map a folio) is not built: nothing in faultlang walks it yet.
"""

from __future__ import annotations

from typing import Any, Callable

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import AnonVma, Folio, Vma, ClearPageAnonExclusive, PageAnonExclusive
from faultlang.kernel.mm.page_alloc import free_folio


def folio_get(folio: Folio) -> None:
    folio.refcount += 1


def folio_put(phys, folio: Folio) -> None:
    """folio_put(): drop a reference; the last one frees the frames (__folio_put)."""
    folio.refcount -= 1
    if folio.refcount == 0:
        free_folio(phys, folio)


def folio_add_new_anon_rmap(folio: Folio, vma: Vma, address: int, exclusive: bool = True) -> None:
    """A freshly allocated anonymous folio gets its first mapping (RMAP_EXCLUSIVE)."""
    folio.anon = True
    folio.mapping = vma.anon_vma
    folio.index = ((address - vma.vm_start) >> 12) + vma.vm_pgoff
    nr = 1 << folio.order                 # folio_nr_pages()
    folio.mapcount += nr
    if nr > 1:
        # faultlang keeps one reference per mapped page: the allocation's reference
        # becomes the first page's, the other pages' are taken here
        folio.refcount += nr - 1
    if exclusive:
        folio.exclusive = (1 << nr) - 1       # every page PageAnonExclusive


def folio_add_anon_rmap_ptes(folio: Folio, nr: int = 1) -> None:
    folio.mapcount += nr


def folio_add_file_rmap_ptes(folio: Folio, nr: int = 1) -> None:
    folio.mapcount += nr


def folio_remove_rmap_ptes(folio: Folio, nr: int = 1) -> None:
    folio.mapcount -= nr


def folio_try_dup_anon_rmap_pte(folio: Folio, page: int) -> bool:
    """fork: share an anon page with the child. Fails for an exclusive page that may be
    DMA-pinned (the caller then copies it); otherwise PageAnonExclusive is cleared."""
    if PageAnonExclusive(folio, page) and folio.pincount:
        return False
    ClearPageAnonExclusive(folio, page)
    folio.mapcount += 1
    return True


def folio_move_anon_rmap(folio: Folio, vma: Vma) -> None:
    """The folio now belongs to this VMA's anon_vma alone (after a reuse in do_wp_page)."""
    folio.mapping = vma.anon_vma


def anon_vma_fork(child: Vma, parent: Vma) -> None:
    """The child's VMA gets an anon_vma chained to the parent's root."""
    if parent.anon_vma is not None:
        child.anon_vma = AnonVma(parent.anon_vma.root)
        parent.anon_vma.root.degree += 1


def rmap_walk(system: Any, folio: Folio, want) -> list[tuple[Vma, list, int]]:
    """rmap_walk(): (vma, PTE table, index) of every PTE of the VMAs that may map this
    order-0 folio (its anon_vma's, or its file's) for which want(pte) holds. It works
    while the folio is unmapped too: the anon_vma or mapping stays on the folio."""
    from faultlang.kernel.mm.memory import lookup_pte
    out: list[tuple[Vma, list, int]] = []
    if folio.mapping is None:
        return out
    anon = folio.anon
    root = folio.mapping.root if anon else None
    for task in system.tasks.values():
        if not task.alive:
            continue
        for vma in task.mm.vmas:
            if anon:
                if vma.anon_vma is None or vma.anon_vma.root is not root:
                    continue
            elif vma.vm_file is not folio.mapping:
                continue
            addr = vma.vm_start + ((folio.index - vma.vm_pgoff) << 12)
            if not vma.vm_start <= addr < vma.vm_end:
                continue
            table, i = lookup_pte(vma.vm_mm, addr)
            if table is not None and want(table[i]):
                out.append((vma, table, i))
    return out


def maps_folio(folio: Folio) -> Callable[[int], bool]:
    """The rmap_walk test for a PTE that maps this folio."""
    pfn = folio.pfn
    # a NUMA-hinting (protnone) PTE still maps the folio: pte_present() is true
    bits = pt._PAGE_PRESENT | pt._PAGE_PROTNONE
    return lambda pte: bool(pte & bits) and not pte & pt._PAGE_SPECIAL \
        and (pte & pt.PFN_MASK) >> 12 == pfn
