"""The `uffd` statements: a process's userfaultfd(s), its handler thread, blocked accesses.

Not a kernel file. The kernel side (fs/userfaultfd.py, mm/userfaultfd.py) does the
work; this module turns statements into ioctls on the right context, and when an
ioctl wakes a thread that is asleep in handle_userfault it finishes that thread's
access: the arch code's retry (fault.resume_user_addr_fault), the instruction run again
(cpu.cpu_reexecute), one StepRecord for the completed access (its path: the attempt
that blocked, then the retry), then the rest of the access's range.

Contexts: the first `uffd register` of a process creates its userfaultfd with the
listed features (UFFDIO_API); a later register naming other features creates another
one (a second fd), so features never change under a registered range.
"""

from __future__ import annotations

from typing import Optional

from faultlang.errors import ScenarioError
from faultlang.kernel.arch.x86.cpu import AccessResult, cpu_reexecute
from faultlang.kernel.arch.x86.mm.fault import resume_user_addr_fault
from faultlang.kernel.fs import userfaultfd as uffd
from faultlang.kernel.include.linux.sched import Task
from faultlang.kernel.trace import recorder
from faultlang.lang import ast
from faultlang.snapshots import CallFrame, StepRecord

STATEMENTS = (ast.UffdRegister, ast.UffdUnregister, ast.UffdHandle, ast.UffdCopy,
              ast.UffdZeropage, ast.UffdContinue, ast.UffdWriteprotect, ast.UffdWake)


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
    return state


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
    for ctxs in [s.ctxs for s in machine.__dict__.get("uffd_processes", {}).values()]:
        for ctx in ctxs:
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
        return notes
    start, end = machine.span_of(stmt.target)
    if isinstance(stmt, ast.UffdRegister):
        features = tuple(stmt.features)
        ctx = state.ctxs[-1] if state.ctxs else None
        if ctx is None or features and frozenset(features) != ctx.features:
            ctx = uffd.UserfaultfdCtx(task.mm, features, state.handlers)
            state.ctxs.append(ctx)
        return [uffd.userfaultfd_register(ctx, start, end, tuple(stmt.modes))]
    ctx = ctx_at(state, task, start)
    if isinstance(stmt, ast.UffdUnregister):
        return [f"{uffd.userfaultfd_unregister(ctx, start, end)} VMAs unregistered"]
    if isinstance(stmt, ast.UffdCopy):
        n = uffd.userfaultfd_copy(ctx, start, end, stmt.value or 0)
        return [f"{n} pages copied (value {stmt.value or 0})"]
    if isinstance(stmt, ast.UffdZeropage):
        return [f"{uffd.userfaultfd_zeropage(ctx, start, end)} zero pages mapped"]
    if isinstance(stmt, ast.UffdContinue):
        return [f"{uffd.userfaultfd_continue(ctx, start, end)} pages mapped"]
    if isinstance(stmt, ast.UffdWriteprotect):
        n = uffd.userfaultfd_writeprotect(ctx, start, end, stmt.on)
        return [f"write protection {'on' if stmt.on else 'off'}: {n} entries changed"]
    if isinstance(stmt, ast.UffdWake):
        return [f"{uffd.userfaultfd_wake(ctx, start, end)} threads woken"]
    raise TypeError(stmt)


def blocked_notes(machine, process: Optional[str]) -> list[str]:
    """The note of an access that ended asleep in handle_userfault."""
    task = machine.task(process)
    wait = task.uffd_wait
    if wait is None:
        return []
    return [f"blocked at {wait.access[3].target}: {wait.msg} is pending; "
            "answer it with uffd copy, zeropage, continue, writeprotect off or wake"]


def check_not_blocked(task: Task, node: ast.Node) -> None:
    if task.uffd_wait is not None:
        raise ScenarioError(f"process '{task.comm}' is blocked in a userfaultfd fault",
                            "resolve it first: uffd copy, zeropage, continue, writeprotect "
                            "off or wake", node.span)


def complete_woken(machine, ctx: uffd.UserfaultfdCtx) -> list[str]:
    notes = []
    while ctx.woken:
        msg = ctx.woken.pop(0)
        task = msg.task
        if task.uffd_wait is None or task.uffd_wait.msg is not msg or not task.alive:
            continue
        notes += resume_access(machine, task)
    return notes


def resume_access(machine, task: Task) -> list[str]:
    """Finish the access whose thread was woken, then the rest of its range."""
    op, address, stmt_value, blocked, rest = task.uffd_wait.access
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
        result.ret = resume_user_addr_fault(task)
        if machine.record:
            retry_raw = recorder.stop()
            recorder.start()
        cpu_reexecute(task, address, op, value, result)
    finally:
        later_raw = recorder.stop() if machine.record else []
    from faultlang.runtime.machine import decider, frames_of
    # the retry runs inside the same do_user_addr_fault as the attempt that blocked
    frames = blocked.frames + tuple(
        CallFrame(f.depth + 2, f.symbol, f.file, f.why, f.ret)
        for f in (frames_of(retry_raw) if retry_raw else ())) + (
        frames_of(later_raw) if later_raw else ())
    signal = result.signal
    if signal is not None:
        outcome, si_code = signal[0], signal[1]
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
    state = machine.__dict__.get("uffd_processes", {}).get(task.pid)
    if state is None or not state.ctxs:
        return f"{task.comm}: no userfaultfd"
    lines = []
    for ctx in state.ctxs:
        lines += uffd.ctx_text(ctx, machine.label)
    if task.uffd_wait is not None:
        lines.append(f"{task.comm} is blocked at {task.uffd_wait.access[3].target}")
    return "\n".join(lines)
