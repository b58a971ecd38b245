"""Whole-machine invariants: what must hold between the page tables and the frames.

Used by the property tests after every step, and handy when changing the engine:
    mapcount of a folio   == the PTEs (in every process) that map it
    refcount of an anon folio == its mapcount (+1 while in the swap cache)
    RSS of an mm          == its present PTEs of each kind (the zero page not counted)
    no PTE maps a free frame; free + allocated frames == all frames
"""

from __future__ import annotations

from collections import Counter

from faultlang.kernel.include.linux import pgtable as pt


def _leaves(mm):
    top = 48 if mm.levels == 5 else 39

    def walk(table, shift, base):
        for i, entry in enumerate(table):
            if entry is None or entry == 0:
                continue
            addr = base + (i << shift)
            if type(entry) is list:
                yield from walk(entry, shift - 9, addr)
            else:
                yield addr, entry, shift
    yield from walk(mm.pgd, top, 0)


def check_invariants(system) -> list[str]:
    """Every broken invariant, as a sentence (an empty list when all hold)."""
    problems = []
    phys = system.phys
    mapped = Counter()
    hstate = getattr(system, "hstate", None)
    for task in system.tasks.values():
        if not task.alive:
            continue
        mm = task.mm
        rss = [0, 0, 0, 0]
        for addr, entry, shift in _leaves(mm):
            if not entry & (pt._PAGE_PRESENT | pt._PAGE_PROTNONE):
                if pt.is_swap_pte(entry):
                    rss[2] += 1
                continue
            if entry & pt._PAGE_SPECIAL:
                continue
            pfn = (entry & pt.PFN_MASK) >> 12
            folio = phys.page_folio(pfn)
            if folio is None:
                problems.append(f"{task.comm}: PTE at {addr:#x} maps free frame {pfn:#x}")
                continue
            nr = 1 << (shift - 12)
            mapped[id(folio)] += nr
            if hstate is not None and hstate.owns(folio):
                continue                  # hugetlb pages are not in RSS (HugetlbPages)
            kind = 1 if folio.anon else 3 if getattr(folio.mapping, "shmem", False) else 0
            rss[kind] += nr
        if rss != mm.rss_stat:
            problems.append(f"{task.comm}: rss_stat {mm.rss_stat} but page tables say {rss}")
    seen = {}
    for folio in phys.mem_map:
        if folio is not None:
            seen[id(folio)] = folio
    for key, folio in seen.items():
        if folio.mapcount != mapped.get(key, 0):
            problems.append(f"folio {folio.pfn:#x}: mapcount {folio.mapcount}, "
                            f"mapped by {mapped.get(key, 0)} PTEs")
        if folio.anon and folio.refcount != folio.mapcount + (1 if folio.swapcache else 0):
            problems.append(f"anon folio {folio.pfn:#x}: refcount {folio.refcount}, "
                            f"mapcount {folio.mapcount}")
    allocated = sum(f.nr_pages for f in seen.values())
    if allocated + phys.nr_free() != phys.nr_frames:
        problems.append(f"{allocated} frames allocated + {phys.nr_free()} free "
                        f"!= {phys.nr_frames} frames")
    return problems
