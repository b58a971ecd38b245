"""The `uffd` statements: a process's userfaultfd(s), its handler thread, blocked accesses.

Not a kernel file. The kernel side (fs/userfaultfd.py, mm/userfaultfd.py) does the
work; this module turns statements into ioctls on the right context, and when an
ioctl wakes a thread that is asleep in handle_userfault it finishes that thread's
access: the arch code's retry (fault.resume_user_addr_fault), the instruction run again
(cpu.cpu_reexecute), one StepRecord for the completed access (its path: the attempt
that blocked, then the retry), then the rest of the access's range.

Contexts: the first `uffd register` of a process creates its userfaultfd with the
listed features (UFFDIO_API); a later register naming other features creates another
one (a second fd), so features never change under a registered range. A fork child's
contexts (UFFD_FEATURE_EVENT_FORK) are adopted by the child's state when first seen;
the monitor that gets them answers them like the parent's (the same handlers).

A thread may also fall asleep in handle_userfault inside the kernel: kread/kwrite
(copy_to_user faults like a user access) and GUP (mlock, madvise populate_*), whose
walk goes on when the fault is resolved (mm/gup.py gup_resume).
"""

from __future__ import annotations

from typing import Optional

from faultlang.errors import NotSupportedYet, ScenarioError
from faultlang.kernel.arch.x86.cpu import AccessResult, cpu_reexecute
from faultlang.kernel.arch.x86.mm.fault import resume_user_addr_fault
from faultlang.kernel.fs import userfaultfd as uffd
from faultlang.kernel.include.linux.sched import Task
from faultlang.kernel.mm.gup import gup_resume
from faultlang.kernel.mm.migrate import MigrationWait, migration_entry_wake
from faultlang.kernel.trace import recorder
from faultlang.lang import ast
from faultlang.runtime.callpath import decider, path_of
from faultlang.snapshots import CallFrame, StepRecord

STATEMENTS = (ast.UffdRegister, ast.UffdUnregister, ast.UffdHandle, ast.UffdCopy,
              ast.UffdZeropage, ast.UffdContinue, ast.UffdWriteprotect, ast.UffdWake,
              ast.UffdMove, ast.UffdPoison)

# the language's mode words → each ioctl's mode bits
_MODE_BITS = {
    ast.UffdCopy: {"dontwake": uffd.UFFDIO_COPY_MODE_DONTWAKE, "wp": uffd.UFFDIO_COPY_MODE_WP},
    ast.UffdZeropage: {"dontwake": uffd.UFFDIO_ZEROPAGE_MODE_DONTWAKE},
    ast.UffdContinue: {"dontwake": uffd.UFFDIO_CONTINUE_MODE_DONTWAKE,
                       "wp": uffd.UFFDIO_CONTINUE_MODE_WP},
    ast.UffdWriteprotect: {"dontwake": uffd.UFFDIO_WRITEPROTECT_MODE_DONTWAKE},
    ast.UffdMove: {"dontwake": uffd.UFFDIO_MOVE_MODE_DONTWAKE,
                   "allow_src_holes": uffd.UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES},
    ast.UffdPoison: {"dontwake": uffd.UFFDIO_POISON_MODE_DONTWAKE},
}


def _mode(stmt) -> int:
    bits = _MODE_BITS[type(stmt)]
    mode = 0
    for flag in stmt.flags:
        mode |= bits[flag]
    return mode


class UffdProcess:
    """What one process has opened: its contexts (newest last) and its handler thread's
    answers, one per fault reason (shared by the contexts)."""

    def __init__(self) -> None:
        self.ctxs: list[uffd.UserfaultfdCtx] = []
        self.handlers: dict[str, tuple[str, Optional[int]]] = {}


def process_state(machine, task: Task) -> UffdProcess:
    table = machine.__dict__.setdefault("uffd_processes", {})
    state = table.get(task.pid)
    if state is None:
        state = table[task.pid] = UffdProcess()
    for vma in task.mm.vmas:               # contexts dup_userfaultfd made for a child
        ctx = vma.uffd.ctx if vma.uffd is not None else None
        if ctx is not None and ctx.mm is task.mm and ctx not in state.ctxs:
            if not state.ctxs:
                state.handlers = ctx.handlers
            state.ctxs.append(ctx)
    return state


def _all_ctxs(machine) -> list:
    for task in machine.processes.values():
        if task.alive:
            process_state(machine, task)
    return [c for s in machine.__dict__.get("uffd_processes", {}).values() for c in s.ctxs]


def ctx_at(state: UffdProcess, task: Task, address: int) -> uffd.UserfaultfdCtx:
    """The fd an ioctl on `address` goes to: the context that registered its VMA, else
    the newest one (whose ioctl then fails as the kernel's would)."""
    vma = task.mm.vma_lookup(address)
    if vma is not None and vma.uffd is not None and vma.uffd.ctx in state.ctxs:
        return vma.uffd.ctx
    if not state.ctxs:
        raise uffd.UffdError("EBADF", "this process has no userfaultfd: uffd register first")
    return state.ctxs[-1]


def run_uffd(machine, stmt: ast.Statement, process: Optional[str]) -> list[str]:
    task = machine.live_task(process, stmt)
    machine.system.current = task
    state = process_state(machine, task)
    notes: list[str] = []
    try:
        notes = _ioctl(machine, stmt, task, state)
    except uffd.UffdError as err:
        notes = [f"failed: {err.errno} ({err.reason})"]
    for ctx in _all_ctxs(machine):
        notes += complete_woken(machine, ctx)
    return notes


def _ioctl(machine, stmt, task: Task, state: UffdProcess) -> list[str]:
    if isinstance(stmt, ast.UffdHandle):
        state.handlers[stmt.mode] = (stmt.action, stmt.value)
        notes = [f"handler thread answers {stmt.mode} faults " +
                 ("manually" if stmt.action == "manual" else f"by {stmt.action}")]
        for ctx in state.ctxs:            # it reads what is already queued
            for msg in [m for m in ctx.pending if m.reason == stmt.mode]:
                if stmt.action != "manual":
                    notes.append("answered " + uffd.run_handler_thread(
                        ctx, msg, state.handlers[stmt.mode]) + f" for {msg}")
                    # run_handler_thread forgets whom it woke (in handle_userfault the
                    # thread retries by itself); this one sleeps, so run_uffd resumes it
                    if msg not in ctx.pending:
                        ctx.woken.append(msg)
        return notes
    start, end = machine.span_of(stmt.target)
    if isinstance(stmt, ast.UffdRegister):
        features = tuple(stmt.features)
        ctx = state.ctxs[-1] if state.ctxs else None
        if ctx is None or features and frozenset(features) != ctx.features:
            ctx = uffd.UserfaultfdCtx(task.mm, features, state.handlers)
            state.ctxs.append(ctx)
        return [uffd.userfaultfd_register(ctx, start, end, tuple(stmt.modes))]
    if isinstance(stmt, (ast.UffdCopy, ast.UffdZeropage, ast.UffdContinue, ast.UffdPoison,
                         ast.UffdWriteprotect, ast.UffdMove)):
        machine.charge((end - start) >> 12, stmt)       # these ioctls walk every page
    ctx = ctx_at(state, task, start)
    if isinstance(stmt, ast.UffdUnregister):
        return [f"{uffd.userfaultfd_unregister(ctx, start, end)} VMAs unregistered"]
    woken = "" if "dontwake" not in getattr(stmt, "flags", ()) else \
        " (DONTWAKE: waiters stay asleep until uffd wake)"
    if isinstance(stmt, ast.UffdCopy):
        n = uffd.userfaultfd_copy(ctx, start, end, stmt.value or 0, _mode(stmt))
        wp = ", write-protected" if "wp" in stmt.flags else ""
        return [f"{n} pages copied (value {stmt.value or 0}{wp}){woken}"]
    if isinstance(stmt, ast.UffdZeropage):
        return [f"{uffd.userfaultfd_zeropage(ctx, start, end, _mode(stmt))} zero pages "
                f"mapped{woken}"]
    if isinstance(stmt, ast.UffdContinue):
        n = uffd.userfaultfd_continue(ctx, start, end, _mode(stmt))
        return [f"{n} pages mapped" + (" write-protected" if "wp" in stmt.flags else "") + woken]
    if isinstance(stmt, ast.UffdWriteprotect):
        n = uffd.userfaultfd_writeprotect(ctx, start, end, stmt.on, _mode(stmt))
        return [f"write protection {'on' if stmt.on else 'off'}: {n} entries changed{woken}"]
    if isinstance(stmt, ast.UffdPoison):
        vma = task.mm.vma_lookup(start)
        if vma is not None and vma.vm_flags & uffd.VM_HUGETLB:
            raise NotSupportedYet("UFFDIO_POISON on hugetlb is not simulated (no huge PTE "
                                  "markers)", "poison anonymous or shmem pages", stmt.span)
        n = uffd.userfaultfd_poison(ctx, start, end, _mode(stmt))
        code = "BUS_MCEERR_AR" if machine.system.settings.memory_failure == "on" else "BUS_ADRERR"
        return [f"{n} pages poisoned (an access is SIGBUS {code}){woken}"]
    if isinstance(stmt, ast.UffdMove):
        src, src_end = machine.span_of(stmt.source)
        if src_end - src != end - start:
            raise ScenarioError("uffd move needs a source and a destination of the same size",
                                f"the source has {(src_end - src) >> 12} pages, the "
                                f"destination {(end - start) >> 12}", stmt.span)
        n = uffd.userfaultfd_move(ctx, start, src, end - start, _mode(stmt))
        return [f"{n} pages moved{woken}"]
    if isinstance(stmt, ast.UffdWake):
        return [f"{uffd.userfaultfd_wake(ctx, start, end)} threads woken"]
    raise TypeError(stmt)


def blocked_notes(machine, process: Optional[str]) -> list[str]:
    """The note of an access that ended asleep in handle_userfault."""
    task = machine.task(process)
    wait = task.uffd_wait
    if wait is None:
        return []
    if isinstance(wait, MigrationWait):        # asleep in migration_entry_wait
        from faultlang.runtime.migrate import blocked_note
        return [blocked_note(machine, task)]
    if wait.gup is not None:
        return [f"{wait.gup.syscall or 'the system call'} sleeps in handle_userfault (GUP) at "
                f"{machine.label(wait.gup.address)}: {wait.msg} is pending; it goes on when "
                "the fault is resolved (uffd copy, zeropage, continue, writeprotect off or wake)"]
    where = wait.access[3].target
    if wait.access[0] in ("kread", "kwrite"):
        where += " (in the system call's copy_to/from_user)"
    return [f"blocked at {where}: {wait.msg} is pending; "
            "answer it with uffd copy, zeropage, continue, writeprotect off or wake"]


def check_not_blocked(task: Task, node: ast.Node) -> None:
    if isinstance(task.uffd_wait, MigrationWait):
        raise ScenarioError(f"process '{task.comm}' is blocked in migration_entry_wait",
                            "end the migration first: migrate release", node.span)
    if task.uffd_wait is not None:
        raise ScenarioError(f"process '{task.comm}' is blocked in a userfaultfd fault",
                            "resolve it first: uffd copy, zeropage, continue, writeprotect "
                            "off or wake", node.span)


def complete_woken(machine, ctx: uffd.UserfaultfdCtx) -> list[str]:
    notes = []
    while ctx.woken:
        msg = ctx.woken.pop(0)
        task = msg.task
        if getattr(task.uffd_wait, "msg", None) is not msg or not task.alive:
            continue
        if task.uffd_wait.gup is not None:
            notes += resume_gup(machine, task)
        else:
            notes += resume_access(machine, task)
    return notes


def resume_gup(machine, task: Task) -> list[str]:
    """Finish a populate / mlock whose GUP fault slept in handle_userfault."""
    syscall = task.uffd_wait.gup.syscall or "the system call"
    task.mm.system.current = task
    got = gup_resume(task)
    steps = machine.drain_gup(task)
    if task.uffd_wait is not None:
        task.uffd_wait.gup.syscall = syscall
        return [f"{syscall} woken, faulted again and sleeps again at "
                f"{machine.label(task.uffd_wait.gup.address)}" +
                (f" (steps {steps[0].n}–{steps[-1].n})" if steps else "")]
    return [f"{syscall} completed: {got} pages populated" +
            (f" (steps {steps[0].n}–{steps[-1].n})" if steps else "")]


def resume_access(machine, task: Task) -> list[str]:
    """Finish the access whose thread was woken, then the rest of its range."""
    op, address, stmt_value, blocked, rest = task.uffd_wait.access
    in_fault = isinstance(task.uffd_wait, MigrationWait)
    value = stmt_value
    if value is None and op in ("write", "kwrite"):
        value = blocked.n                     # what the blocked store was storing
    machine.step += 1
    n = machine.step
    before = (task.min_flt, task.maj_flt)
    system = task.mm.system
    result = AccessResult()
    result.faults, result.error_code = 1, blocked.error_code
    task.pending_signal = None
    system.current = task
    retry_raw: list = []
    if machine.record:
        recorder.start()
    try:
        # woken in handle_userfault: do_user_addr_fault retries under the mmap_lock;
        # woken in migration_entry_wait: handle_mm_fault returns (and counts the fault)
        result.ret = migration_entry_wake(task) if in_fault else resume_user_addr_fault(task)
        if machine.record:
            retry_raw = recorder.stop()
            recorder.start()
        cpu_reexecute(task, address, op, value, result)
    finally:
        later_raw = recorder.stop() if machine.record else []
    # the retry runs inside the same do_user_addr_fault as the attempt that blocked; the
    # accounting after migration_entry_wait inside the same handle_mm_fault
    shift = 2
    if in_fault:
        shift = next((f.depth + 1 for f in blocked.frames if f.symbol == "handle_mm_fault"), 3)
    frames = blocked.frames + tuple(
        CallFrame(f.depth + shift, f.symbol, f.file, f.why, f.ret)
        for f in (path_of(retry_raw)[0] if retry_raw else ())) + tuple(
        path_of(later_raw)[0] if later_raw else ())
    signal = result.signal
    if signal is not None:
        outcome, si_code = signal[0], signal[1]
    elif result.blocked:
        outcome, si_code = "blocked", None
    elif task.maj_flt > before[1]:
        outcome, si_code = "major", None
    elif task.min_flt > before[0]:
        outcome, si_code = "minor", None
    else:
        outcome, si_code = ("blocked" if result.blocked else "none"), None
    step = StepRecord(n, machine.line, task.comm, op, address, outcome, si_code,
                      result.error_code, result.value if signal is None else None,
                      decider(frames, signal and signal[0]), frames, 0, blocked.target,
                      machine.statement_index)
    machine.steps.append(step)
    if task.uffd_wait is not None:
        task.uffd_wait.access = (op, address, stmt_value, blocked, rest)
        return [f"{blocked.target} woken, faulted again and sleeps again (step {n})"]
    notes = [f"{blocked.target} completed (step {n}, {outcome})"]
    for k, addr in enumerate(rest):
        s = machine.access_one(task, op, addr, stmt_value, machine.label(addr))
        if task.uffd_wait is not None:
            task.uffd_wait.access = (op, addr, stmt_value, s, rest[k + 1:])
            notes.append(f"{s.target} blocked (step {s.n}): {task.uffd_wait.msg}")
            break
    return notes


def show_text(machine, task: Task) -> str:
    state = process_state(machine, task)
    if not state.ctxs:
        return f"{task.comm}: no userfaultfd"
    lines = []
    for ctx in state.ctxs:
        lines += uffd.ctx_text(ctx, machine.label)
    if task.uffd_wait is not None and task.uffd_wait.gup is not None:
        lines.append(f"{task.comm} is blocked in {task.uffd_wait.gup.syscall or 'GUP'} at "
                     f"{machine.label(task.uffd_wait.gup.address)}")
    elif task.uffd_wait is not None:
        lines.append(f"{task.comm} is blocked at {task.uffd_wait.access[3].target}")
    return "\n".join(lines)
