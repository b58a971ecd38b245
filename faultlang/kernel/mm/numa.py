"""Mirrors the NUMA-balancing parts of mm/memory.c (do_numa_page, numa_migrate_check)
and mm/mempolicy.c (change_prot_numa) (Linux 6.18).

task_numa_work (kernel/sched/fair.c) scans a slice of the address space and makes its
PTEs protnone; the next access takes a NUMA hinting fault. do_numa_page restores the
protections, decides whether the page sits on the wrong node and, if so, migrates it
to the faulting task's node (mm/migrate.c). It always returns 0: one minor fault.

Simplified:
- `numa_scan RANGE` is task_numa_work for that range, run now; no scan periods, no
  task placement, no task_numa_fault statistics (only the vmstat events).
- The target node is always the faulting task's node (`process NAME node N`): no
  memory policies, no two-stage filter (every misplaced page migrates at once).
- Only order-0 pages are scanned; huge PMDs are left alone (no do_huge_pmd_numa_page).

After a migration do_numa_page returns at once: the PTE is the one remove_migration_ptes
built from the migration entry (mk_pte with the VMA's protections; the protnone PTE was
not writable, so a private page is read-only until the next write, which is a
do_wp_page fault).
"""

from __future__ import annotations

from typing import Any

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import VM_WRITE, Vma, PageAnonExclusive
from faultlang.kernel.trace import kfunc, why

MEMORY_C = "mm/memory.c"


@kfunc("mm/mempolicy.c", fault_bits=False)
def change_prot_numa(vma: Vma, start: int, end: int) -> int:
    """change_prot_numa - make the present PTEs of [start, end) protnone (PAGE_NONE,
    keeping the PFN, accessed and dirty bits); the zero page and protnone PTEs are
    skipped. Returns the number of PTEs changed."""
    from faultlang.kernel.mm.memory import walk_pte_slots
    mm = vma.vm_mm
    changed = 0
    for table, i, _ in walk_pte_slots(mm, max(start, vma.vm_start), min(end, vma.vm_end)):
        pte = table[i]
        if not pte & pt._PAGE_PRESENT or pte & pt._PAGE_SPECIAL:
            continue
        table[i] = (pte & ~(pt._PAGE_PRESENT | pt._PAGE_RW)) | pt._PAGE_PROTNONE
        changed += 1
    why(f"{changed} PTEs made protnone")
    return changed


@kfunc(MEMORY_C, fault_bits=False)
def numa_migrate_check(folio: Any, vmf: Any) -> int:
    """numa_migrate_check - count the hinting fault (NUMA_HINT_FAULTS) and return the
    target node: the faulting task's, or -1 when the page is already there."""
    system = vmf.vma.vm_mm.system
    system.vmstat.numa_hint_faults += 1
    task = vmf.vma.vm_mm.owner
    target = task.numa_node if task is not None else 0
    here = system.phys.node_of(folio.pfn)
    if here == target:
        why(f"page on node {here}: local, nothing to migrate")
        return -1
    why(f"page on node {here}, task on node {target}: misplaced")
    return target


@kfunc(MEMORY_C)
def do_numa_page(vmf: Any) -> int:
    """do_numa_page - a NUMA hinting fault on a protnone PTE: migrate a misplaced page
    (anonymous, shmem or page cache, whoever else maps it), then rebuild the mapping
    with the VMA's protections (always returns 0)."""
    from faultlang.kernel.mm.memory import vm_normal_folio
    from faultlang.kernel.mm.migrate import migrate_misplaced_folio, migrate_misplaced_folio_prepare
    vma = vmf.vma
    mm = vma.vm_mm
    table, i = vmf.pte_table, vmf.pte_index
    old = table[i]
    folio = vm_normal_folio(mm, old)
    # pte_modify(old, vm_page_prot): a shared writable mapping is writable again
    pte = (old & ~(pt._PAGE_PROTNONE | pt._PAGE_RW)) | pt._PAGE_PRESENT | vma.vm_page_prot
    if folio is not None and vma.vm_flags & VM_WRITE and folio.anon and folio.mapcount == 1 \
            and PageAnonExclusive(folio):
        pte |= pt._PAGE_RW                 # can_change_pte_writable: exclusive anon page
    if folio is not None and not folio.order:
        target = numa_migrate_check(folio, vmf)
        if target >= 0 and not migrate_misplaced_folio_prepare(mm.system, folio, vma, target):
            if migrate_misplaced_folio(mm.system, folio, target) is not None:
                return 0                   # remove_migration_ptes rebuilt every mapping
    table[i] = pte                         # numa_rebuild_single_mapping
    return 0
