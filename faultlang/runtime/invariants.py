"""Whole-machine invariants: what must hold between the page tables and the frames.

Used by the property tests after every step, and handy when changing the engine:
    mapcount of a folio   == the PTEs (in every process) that map it
    refcount of an anon folio == its mapcount (+1 while in the swap cache)
    RSS of an mm          == its present PTEs of each kind (the zero page not counted)
    no PTE maps a free frame; free + allocated frames == all frames
    hugetlb pool: a free page is unused; a page in use is mapped or in a hugetlbfs
    page cache (refcount == mapcount, +1 for the cache); HugePages_Rsvd == the
    reservations the inodes and private mappings hold, and never more than HugePages_Free
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
                elif pt.is_migration_entry(entry):      # counted as its page
                    folio = phys.page_folio(pt.swp_offset(entry))
                    if folio is not None:
                        rss[1 if folio.anon else 3 if getattr(folio.mapping, "shmem", False)
                            else 0] += 1
                continue
            if entry & (pt._PAGE_SPECIAL | pt._PAGE_DEVMAP):
                continue                  # no struct page behind it, or 6.12 DAX
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
        # a folio under a held migration also has its isolation reference
        isolated = 1 if folio.locked and not folio.lru and not folio.mapcount else 0
        if folio.anon and folio.refcount != folio.mapcount + (1 if folio.swapcache else 0) \
                + isolated:
            problems.append(f"anon folio {folio.pfn:#x}: refcount {folio.refcount}, "
                            f"mapcount {folio.mapcount}")
    ram_end = phys.zones[-1].end_pfn      # DAX device pages are not RAM frames
    allocated = sum(f.nr_pages for f in seen.values() if f.pfn < ram_end)
    if allocated + phys.nr_free() != phys.nr_frames:
        problems.append(f"{allocated} frames allocated + {phys.nr_free()} free "
                        f"!= {phys.nr_frames} frames")
    if hstate is not None:
        problems += _hugetlb_problems(system, hstate, seen)
    return problems


def _hugetlb_problems(system, h, folios: dict) -> list[str]:
    from faultlang.kernel.mm.hugetlb import HugetlbFile
    problems = []
    files = {id(f): f for f in system.files.values() if isinstance(f, HugetlbFile)}
    private = {}
    for task in system.tasks.values():
        if task.alive:
            for vma in task.mm.vmas:
                if isinstance(vma.vm_file, HugetlbFile):
                    files[id(vma.vm_file)] = vma.vm_file
                    if vma.vm_private_data is not None:
                        private[id(vma.vm_private_data)] = vma.vm_private_data
    cached = {id(folio) for f in files.values() for folio in f.cache.values()}
    free = {id(folio) for folio in h.free}
    in_use = 0
    for key, folio in folios.items():
        if not h.owns(folio):
            continue
        if key in free:
            if folio.refcount or folio.mapcount or key in cached:
                problems.append(f"free huge page {folio.pfn:#x} is in use")
            continue
        in_use += 1
        expected = folio.mapcount + (1 if key in cached else 0)
        if folio.refcount != expected or not expected:
            problems.append(f"huge page {folio.pfn:#x}: refcount {folio.refcount}, mapcount "
                            f"{folio.mapcount}{', in a page cache' if key in cached else ''}")
    if in_use + h.free_huge_pages != h.nr_huge_pages:
        problems.append(f"{in_use} huge pages in use + {h.free_huge_pages} free "
                        f"!= HugePages_Total {h.nr_huge_pages}")
    held = sum(len(f.reserved) for f in files.values()) + \
        sum(len(r.reserved) for r in private.values())
    if held != h.resv_huge_pages or h.resv_huge_pages > h.free_huge_pages:
        problems.append(f"HugePages_Rsvd {h.resv_huge_pages}, reservations held {held}, "
                        f"HugePages_Free {h.free_huge_pages}")
    return problems
