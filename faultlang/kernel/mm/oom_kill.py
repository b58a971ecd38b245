"""Mirrors mm/oom_kill.c (Linux 6.18): the global OOM killer, run by the page allocator.

When direct reclaim can free nothing more, __alloc_pages_may_oom calls out_of_memory:
select_bad_process scores every process with oom_badness (resident pages + swap
entries + page-table pages) and oom_kill_process sends SIGKILL to the highest score
(counted in vmstat oom_kill). The allocation then retries and succeeds once the victim's
memory is free; only when the allocating task is itself the victim does it fail, and
the fault ends in VM_FAULT_OOM with SIGKILL pending. pagefault_out_of_memory then only
returns: the task dies on its way back to user space.

Simplified: no memcg or cpuset constraints, every oom_score_adj is 0 and no process is
unkillable (the scenario's pid 1 is an ordinary process, not init). A victim other
than the current task exits at once (exit_mmap frees its memory): faultlang runs no
other CPU, so the oom_reaper's asynchronous reaping and the victim's own exit are one
step.
"""

from __future__ import annotations

from typing import Any, Optional

from faultlang.kernel.include.linux.sched import Task
from faultlang.kernel.trace import kfunc, why

OOM_KILL_C = "mm/oom_kill.c"


def mm_pgtables_pages(mm: Any) -> int:
    """mm_pgtables_bytes() / PAGE_SIZE: the PUD, PMD and PTE tables of the mm (a 5-level
    P4D table is not counted, as in the kernel)."""
    count = 0
    tops = mm.pgd
    if mm.levels == 5:
        tops = [e for p4d in mm.pgd if p4d is not None for e in p4d]
    for pud in tops:
        if pud is None:
            continue
        count += 1
        for pmd in pud:
            if pmd is None:
                continue
            count += 1
            count += sum(1 for pte in pmd if type(pte) is list)
    return count


def oom_badness(task: Task) -> int:
    """oom_badness(): how much memory killing the task would give back, in pages."""
    mm = task.mm
    return mm.rss() + mm.rss_stat[mm.MM_SWAPENTS] + mm_pgtables_pages(mm)


@kfunc(OOM_KILL_C, fault_bits=False)
def select_bad_process(system: Any) -> Optional[Task]:
    """select_bad_process - the live process with the highest oom_badness (for_each_process
    runs oldest first; a later process with the same score wins the tie)."""
    chosen, chosen_points = None, -1
    for task in system.tasks.values():
        if not task.alive or task.oom_killed:
            continue
        points = oom_badness(task)
        if points >= chosen_points:
            chosen, chosen_points = task, points
    if chosen is not None:
        why(f"{chosen.comm} (pid {chosen.pid}) has the highest score: {chosen_points} pages "
            "(rss + swap entries + page tables)")
    return chosen


@kfunc(OOM_KILL_C, fault_bits=False)
def oom_kill_process(system: Any, victim: Task) -> None:
    """oom_kill_process - __oom_kill_process: count OOM_KILL, send SIGKILL, mark the
    victim; its memory goes back to the allocator when it exits."""
    mm = victim.mm
    system.vmstat.oom_kill += 1
    victim.oom_killed = True
    victim.exit_reason = (f"OOM-killed (anon-rss {mm.rss_stat[mm.MM_ANONPAGES] * 4}kB, "
                          f"file-rss {mm.rss_stat[mm.MM_FILEPAGES] * 4}kB, "
                          f"shmem-rss {mm.rss_stat[mm.MM_SHMEMPAGES] * 4}kB)")
    victim.pending_signal = ("SIGKILL", "OOM", 0)
    why(f"Killed process {victim.pid} ({victim.comm})")
    if victim is not system.current:
        from faultlang.kernel.kernel.exit import do_exit
        why("the victim takes its SIGKILL and exits: its memory is freed")
        do_exit(victim)


@kfunc(OOM_KILL_C, fault_bits=False)
def out_of_memory(system: Any) -> bool:
    """out_of_memory - kill a process to free memory. True when something was done
    (a victim is dying), so the allocator retries."""
    current = system.current
    if current is not None and current.oom_killed:
        why("current is already an OOM victim (task_will_free_mem): nothing more to kill")
        return True
    victim = select_bad_process(system)
    if victim is None:
        why("no killable process")
        return False
    oom_kill_process(system, victim)
    return True


@kfunc(OOM_KILL_C, fault_bits=False)
def pagefault_out_of_memory(task: Task) -> None:
    """pagefault_out_of_memory - VM_FAULT_OOM reached the #PF handler. The OOM killer
    already ran in the allocator: with a fatal signal pending the task just dies on the
    way out; otherwise the fault is retried."""
    if task.pending_signal is not None and task.pending_signal[0] == "SIGKILL":
        why("fatal signal pending (OOM victim): return, the task dies on its way out")
        return
    why("VM_FAULT_OOM leaked out to the #PF handler: retrying the fault")
