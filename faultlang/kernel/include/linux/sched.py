"""Mirrors include/linux/sched.h: the task and the counters it carries."""

from __future__ import annotations

from typing import Any, Optional


class Task:
    """struct task_struct — a single-threaded process: its mm and its fault counters.

    min_flt / maj_flt are what getrusage(RUSAGE_THREAD) and /proc/PID/stat report;
    the perf_* fields are the software events PAGE_FAULTS, PAGE_FAULTS_MIN, _MAJ.
    """

    __slots__ = ("pid", "comm", "mm", "min_flt", "maj_flt", "perf_page_faults",
                 "perf_min", "perf_maj", "numa_node", "alive", "parent",
                 "pending_signal", "oom_killed", "exit_reason", "uffd_wait")

    def __init__(self, pid: int, comm: str, mm: Any, parent: Optional["Task"] = None):
        self.pid = pid
        self.comm = comm
        self.mm = mm
        self.parent = parent
        self.min_flt = 0
        self.maj_flt = 0
        self.perf_page_faults = 0
        self.perf_min = 0
        self.perf_maj = 0
        self.numa_node = 0
        self.alive = True
        self.pending_signal: Optional[tuple[str, str, int]] = None
        self.oom_killed = False
        self.exit_reason = ""
        self.uffd_wait: Any = None   # asleep in handle_userfault (fs/userfaultfd.UffdWait)

    def __repr__(self) -> str:
        return f"Task({self.comm}, pid={self.pid})"


class Regs:
    """struct pt_regs, reduced to what the fault path asks of it: user_mode(regs)."""

    __slots__ = ("user",)

    def __init__(self, user: bool):
        self.user = user


USER_REGS = Regs(True)
KERNEL_REGS = Regs(False)


def user_mode(regs: Regs) -> bool:
    return regs.user
