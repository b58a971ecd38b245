"""`swapout RANGE`, `reclaim N`, `drop_caches` and `show swap`: from the statement to
the engine's reclaim (mm/madvise.c MADV_PAGEOUT, mm/vmscan.c, fs/drop_caches.c)."""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.mm import madvise, mmap
from faultlang.kernel.mm.vmscan import drop_pagecache, reclaim_n
from faultlang.lang import ast


def run_swap_statement(machine, stmt: ast.Node, process: Optional[str]) -> list[str]:
    system = machine.system
    before = system.swap.used() if system.swap is not None else 0
    if isinstance(stmt, ast.Swapout):
        # swapout is MADV_PAGEOUT on the range, as the process itself would call it
        task = machine.live_task(process, stmt)
        system.current = task
        start, end = machine.span_of(stmt.target)
        machine.charge((end - start) >> 12, stmt)
        try:
            madvise.do_madvise(task.mm, start, end - start, "pageout")
        except mmap.MmapError as err:
            return [f"failed: {err.errno} ({err.reason})"]
        notes = []
        if system.swap is None:
            notes.append("no swap device: anonymous pages stay (set swap SIZE)")
    elif isinstance(stmt, ast.Reclaim):
        machine.charge(stmt.count, stmt)
        notes = [f"{reclaim_n(system, stmt.count)} pages reclaimed"]
    else:
        notes = [f"{drop_pagecache(system)} page-cache pages dropped"]
    if system.swap is not None:
        notes.append(f"swap used {before} → {system.swap.used()} slots, "
                     f"{system.swap.cache_pages()} in the swap cache")
    return notes


def run_numa_scan(machine, stmt: ast.NumaScan, process: Optional[str]) -> list[str]:
    """`numa_scan RANGE`: what task_numa_work does to the range (change_prot_numa)."""
    from faultlang.kernel.mm.numa import change_prot_numa
    task = machine.live_task(process, stmt)
    machine.system.current = task
    start, end = machine.span_of(stmt.target)
    machine.charge((end - start) >> 12, stmt)
    changed = 0
    for vma in list(task.mm.vmas):
        if vma.vm_start < end and start < vma.vm_end:
            changed += change_prot_numa(vma, start, end)
    return [f"{changed} PTEs made protnone: the next access to each is a NUMA hinting fault"]


def swap_text(machine) -> str:
    si = machine.system.swap
    if si is None:
        return "no swap device (set swap SIZE)"
    return si.text()
