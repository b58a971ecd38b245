"""Read the engine's state into plain data: counters, page states, values, snapshots.

The runtime is the only layer that looks inside engine objects; what it returns is
faultlang.snapshots data, which the renderers and the JSON output use.
"""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import MmStruct, vm_flag_names
from faultlang.kernel.include.linux.sched import Task
from faultlang.kernel.settings import SPECS, Settings, format_value
from faultlang.snapshots import (
    Counters, MemoryView, PageTableSnapshot, PteView, TableView, VmaView,
)

_PROT_FLAGS = {"VM_READ", "VM_WRITE", "VM_EXEC", "VM_SHARED", "VM_MAYREAD", "VM_MAYWRITE",
               "VM_MAYEXEC", "VM_MAYSHARE"}


def counters(task: Task) -> Counters:
    rss = task.mm.rss_stat
    return Counters(minflt=task.min_flt, majflt=task.maj_flt,
                    page_faults=task.perf_page_faults, perf_minor=task.perf_min,
                    perf_major=task.perf_maj, rss=rss[0] + rss[1] + rss[3],
                    rss_anon=rss[1], rss_file=rss[0], rss_shmem=rss[3], swap=rss[2])


def swap_used(system) -> int:
    return system.swap.used() if system.swap is not None else 0


def leaf_entry(mm: MmStruct, address: int) -> tuple[Optional[int], bool]:
    """(entry, huge): the PTE (or huge PMD) that maps `address`, None when no table."""
    table = mm.pgd
    shift = 48 if mm.levels == 5 else 39
    while shift > 12:
        entry = table[(address >> shift) & 511]
        if entry is None:
            return None, False
        if type(entry) is int:
            return entry, True
        table = entry
        shift -= 9
    return table[(address >> 12) & 511], False


def page_state(mm: MmStruct, address: int) -> str:
    """The `expect state` word for the page at `address` (spec section 10)."""
    entry, huge = leaf_entry(mm, address)
    system = mm.system
    if entry is None or entry == 0:
        return "none"
    if huge:
        return "huge"
    if pt.is_migration_entry(entry):
        return "migration"
    if pt.is_pte_marker(entry):
        return "uffd_wp" if pt.pte_marker_kind(entry) & pt.PTE_MARKER_UFFD_WP else "marker"
    if pt.is_swap_pte(entry):
        return "swapcache" if system.swap is not None and system.swap.in_cache(entry) else "swapped"
    if pt.pte_protnone(entry):
        return "protnone"
    if entry & pt._PAGE_UFFD_WP:
        return "uffd_wp"
    pfn = (entry & pt.PFN_MASK) >> 12
    if pfn == system.zero_pfn:
        return "zero"
    folio = system.phys.page_folio(pfn)
    vma = mm.vma_lookup(address)
    if not entry & pt._PAGE_RW and vma is not None and not vma.vm_flags & 0x8 and folio is not None:
        if not folio.anon or folio.refcount > 1:
            return "cow"
    return "resident"


def peek_value(mm: MmStruct, address: int) -> Optional[int]:
    """The value a read of `address` would return, without touching anything.
    None when no VMA maps it (the read would be SIGSEGV)."""
    vma = mm.vma_lookup(address)
    if vma is None:
        return None
    entry, huge = leaf_entry(mm, address)
    system = mm.system
    if entry and entry & (pt._PAGE_PRESENT | pt._PAGE_PROTNONE):
        pfn = (entry & pt.PFN_MASK) >> 12
        if huge:
            pfn += (address >> 12) & 511
        return system.phys.mem[pfn]
    if entry and pt.is_swap_pte(entry) and system.swap is not None:
        return system.swap.peek(entry)
    if entry and pt.is_migration_entry(entry):      # the old page, until the copy is done
        return system.phys.mem[pt.swp_offset(entry)]
    if vma.vm_ops is not None and hasattr(vma.vm_ops, "peek"):
        return vma.vm_ops.peek(vma, address)
    return 0


def vma_views(mm: MmStruct) -> tuple[VmaView, ...]:
    out = []
    for v in mm.vmas:
        prot = ("r" if v.vm_flags & 1 else "-") + ("w" if v.vm_flags & 2 else "-") + \
            ("x" if v.vm_flags & 4 else "-")
        flags = tuple(n for n in vm_flag_names(v.vm_flags) if n not in _PROT_FLAGS)
        out.append(VmaView(start=v.vm_start, end=v.vm_end, name=v.name, kind=v.kind,
                           prot=prot, shared=bool(v.vm_flags & 0x8), flags=flags,
                           pgoff=v.vm_pgoff, file=getattr(v.vm_file, "name", None),
                           anon_vma=v.anon_vma is not None))
    return tuple(out)


def _pte_view(mm: MmStruct, level: str, index: int, address: int, entry: int, label) -> PteView:
    present = bool(entry & (pt._PAGE_PRESENT | pt._PAGE_PROTNONE))
    migration = pt.is_migration_entry(entry)
    pfn = (entry & pt.PFN_MASK) >> 12 if present or migration or pt.is_swap_pte(entry) else None
    state = page_state(mm, address)
    value = None
    if present or migration:
        value = mm.system.phys.mem[pfn] if pfn is not None and pfn < len(mm.system.phys.mem) else None
    flags = pt.pte_flag_names(entry) if present else (
        ("swap", f"type {pt.swp_type(entry)}", f"offset {pt.swp_offset(entry)}")
        if pt.is_swap_pte(entry) else
        ("migration", "writable" if pt.swp_type(entry) == pt.SWP_MIGRATION_WRITE else "readable")
        if migration else ("marker",))
    pmem = mm.system.pmem
    if present and pmem is not None and pfn is not None and pfn >= pmem.start_pfn:
        flags += ("dax",)                 # a page of the DAX device, not of RAM
    vma = mm.vma_lookup(address)
    file_offset = None
    if vma is not None and vma.vm_file is not None:
        file_offset = (((address - vma.vm_start) >> 12) + vma.vm_pgoff) << 12
    return PteView(index=index, address=address, level=level, raw=entry, flags=flags,
                   pfn=None if not present else pfn, state=state, value=value,
                   mapping=label(address), file_offset=file_offset)


LEVEL_NAMES = {5: ("PGD", "P4D", "PUD", "PMD", "PTE"), 4: ("PGD", "PUD", "PMD", "PTE")}


def pagetable_snapshot(mm: MmStruct, process: str, label, lo: int = 0,
                       hi: int = 1 << 57) -> PageTableSnapshot:
    """The page-table tree restricted to [lo, hi): only tables that exist, only
    entries that are not none."""
    names = LEVEL_NAMES[mm.levels]
    top = 48 if mm.levels == 5 else 39

    def build(table: list, depth: int, shift: int, base: int, index: int) -> TableView:
        level = names[depth]
        size = 1 << shift
        children, leaves = [], []
        for i, entry in enumerate(table):
            if not entry:
                continue
            addr = base + i * size
            if addr + size <= lo or addr >= hi:
                continue
            if type(entry) is list:
                children.append(build(entry, depth + 1, shift - 9, addr, i))
            else:
                leaves.append(_pte_view(mm, "PMD" if shift == 21 else "PTE", i, addr, entry, label))
        return TableView(level=level, index=index, address=base, children=tuple(children),
                         leaves=tuple(leaves))

    root = build(mm.pgd, 0, top, 0, -1)
    if mm.levels == 4:
        # P4D is folded into the PGD on 4-level paging: show it, marked folded.
        root = TableView(level="PGD", index=-1, address=0, children=tuple(
            TableView(level="P4D", index=c.index, address=c.address, folded=True, children=(c,))
            for c in root.children))
        root = _relabel(root)
    return PageTableSnapshot(process=process, levels=mm.levels, root=root)


def _relabel(view: TableView) -> TableView:
    """After inserting the folded P4D, the PGD's former children are PUD tables."""
    order = ("PGD", "P4D", "PUD", "PMD", "PTE")

    def fix(v: TableView, depth: int) -> TableView:
        return TableView(level=order[depth], index=v.index, address=v.address, folded=v.folded,
                         children=tuple(fix(c, depth + 1) for c in v.children), leaves=v.leaves)
    return fix(view, 0)


def memory_view(system) -> MemoryView:
    phys = system.phys
    free = phys.nr_free()
    anon = file = shmem = 0
    seen = set()
    hstate = getattr(system, "hstate", None)
    ram_end = phys.zones[-1].end_pfn
    for folio in phys.mem_map:
        if folio is None or id(folio) in seen:
            continue
        seen.add(id(folio))
        if hstate is not None and hstate.owns(folio):
            continue                      # the hugetlb pool is shown as HugePages_*
        if folio.pfn >= ram_end:
            continue                      # a DAX device's page, shown as pmem_blocks
        if folio.anon:
            anon += folio.nr_pages
        elif getattr(folio.mapping, "shmem", False):
            shmem += folio.nr_pages
        else:
            file += folio.nr_pages
    swap = system.swap
    from faultlang.kernel.mm.hugetlb import hugetlb_counters
    h_total, h_free, h_rsvd, h_surp = hugetlb_counters(system)
    return MemoryView(total_frames=phys.nr_frames, free_frames=free,
                      used_frames=phys.nr_frames - free, anon_pages=anon, file_pages=file,
                      shmem_pages=shmem, swap_total=swap.total() if swap else 0,
                      swap_used=swap.used() if swap else 0,
                      swap_cache=swap.cache_pages() if swap else 0,
                      hugepages_total=h_total, hugepages_free=h_free,
                      extra=(tuple(kv for z in phys.zones for kv in (
                          (f"node{z.node}_free", z.nr_free),
                          (f"node{z.node}_used", z.end_pfn - z.start_pfn - z.nr_free)))
                             if len(phys.zones) > 1 else ()) + (
                          (("HugePages_Rsvd", h_rsvd), ("HugePages_Surp", h_surp))
                          if h_total else ()) + (
                          (("pmem_blocks", system.pmem.used),) if system.pmem is not None else ()))


def settings_view(settings: Settings) -> tuple[tuple[str, str, str], ...]:
    return tuple((s.key, format_value(s.key, getattr(settings, s.key)),
                  format_value(s.key, s.default)) for s in SPECS)
