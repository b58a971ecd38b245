"""Mirrors kernel/exit.c: a process that exits releases its address space (exit_mmap)."""

from __future__ import annotations

from faultlang.kernel.include.linux.sched import Task
from faultlang.kernel.mm.memory import free_pgtables, zap_page_range_single
from faultlang.kernel.trace import kfunc


@kfunc("mm/mmap.c", fault_bits=False)
def exit_mmap(task: Task) -> int:
    """exit_mmap - zap every VMA and free the page tables. Returns pages unmapped."""
    mm = task.mm
    zapped = 0
    for vma in list(mm.vmas):
        zapped += zap_page_range_single(vma, vma.vm_start, vma.vm_end, drop_markers=True)
        mm.remove_vma(vma)
    free_pgtables(mm, 0, mm.system.task_size)
    mm.pgd = [None] * 512
    return zapped


@kfunc("kernel/exit.c", fault_bits=False)
def do_exit(task: Task) -> int:
    """do_exit - the task ends; its counters go to the parent's cminflt/cmajflt."""
    task.alive = False
    return exit_mmap(task)
