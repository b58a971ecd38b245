"""Mirrors fs/userfaultfd.c (Linux 6.18): the userfaultfd context, handle_userfault and the ioctls.

A process creates a userfaultfd (userfaultfd(2) + UFFDIO_API, which fixes the features),
registers ranges (UFFDIO_REGISTER: VM_UFFD_MISSING / WP / MINOR on the VMAs, split at
the range edges), and a handler thread read()s UFFD_EVENT_PAGEFAULT messages and answers
them with UFFDIO_COPY / ZEROPAGE / CONTINUE / WRITEPROTECT, which wake the faulting
thread; its fault then returns VM_FAULT_RETRY and the arch code retries it.

Simplified:
- the handler thread is part of the scenario: `uffd handle MODE by ACTION` answers each
  message at once (it runs while the faulting thread sleeps, so its work is not part of
  the faulting thread's call path); `manually` leaves the message queued and the
  faulting thread blocked until a `uffd copy|zeropage|continue|writeprotect off|wake`;
- one registered context per VMA, contexts are never released (no close(2)), no
  non-cooperative events (fork/remap/remove/unmap messages), no UFFDIO_MOVE / POISON,
  no hugetlb ranges, no DONTWAKE / COPY_MODE_WP flags (the language has no syntax);
- `UFFDIO_COPY` without a value copies a page of zeroes (a zero-filled source buffer).
"""

from __future__ import annotations

from collections import deque
from typing import Optional

from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_ALLOW_RETRY, FAULT_FLAG_RETRY_NOWAIT, FAULT_FLAG_USER, FAULT_FLAG_WRITE,
    VM_FAULT_RETRY, VM_FAULT_SIGBUS, VM_MAYWRITE, Vma, VmFault, vma_is_anonymous,
)
from faultlang.kernel.mm.mmap import MmapError, isolate_range, merge_vmas
from faultlang.kernel.trace import kfunc, recorder, why

USERFAULTFD_C = "fs/userfaultfd.c"

VM_UFFD_MISSING, VM_UFFD_WP, VM_UFFD_MINOR = 0x200, 0x1000, 1 << 41
VM_UFFD_FLAGS = VM_UFFD_MISSING | VM_UFFD_WP | VM_UFFD_MINOR
VM_HUGETLB, VM_DROPPABLE = 0x400000, 1 << 42
_MODE_FLAG = {"missing": VM_UFFD_MISSING, "wp": VM_UFFD_WP, "minor": VM_UFFD_MINOR}

UFFD_EVENT_PAGEFAULT = 0x12
UFFD_PAGEFAULT_FLAG_WRITE, UFFD_PAGEFAULT_FLAG_WP, UFFD_PAGEFAULT_FLAG_MINOR = 1, 2, 4
# UFFD_API_RANGE_IOCTLS (include/uapi/linux/userfaultfd.h), in _UFFDIO_* bit order
RANGE_IOCTLS = ("UFFDIO_WAKE", "UFFDIO_COPY", "UFFDIO_ZEROPAGE", "UFFDIO_MOVE",
                "UFFDIO_WRITEPROTECT", "UFFDIO_CONTINUE", "UFFDIO_POISON")


class UffdError(MmapError):
    """An ioctl failed: shown as the note "failed: ERRNO (reason)"."""


class UffdMsg:
    """struct uffd_msg for UFFD_EVENT_PAGEFAULT, plus who is waiting on it."""

    __slots__ = ("flags", "address", "ptid", "reason", "task")

    def __init__(self, flags: int, address: int, ptid: Optional[int], reason: str, task):
        self.flags = flags
        self.address = address
        self.ptid = ptid
        self.reason = reason
        self.task = task

    def __str__(self) -> str:
        names = [n for bit, n in ((UFFD_PAGEFAULT_FLAG_WRITE, "WRITE"), (UFFD_PAGEFAULT_FLAG_WP, "WP"),
                                  (UFFD_PAGEFAULT_FLAG_MINOR, "MINOR")) if self.flags & bit]
        text = (f"UFFD_EVENT_PAGEFAULT flags={'|'.join(names) or '0'} "
                f"address={self.address:#x}")
        return text + (f" ptid={self.ptid}" if self.ptid is not None else "")


class UserfaultfdCtx:
    """struct userfaultfd_ctx: the features fixed by UFFDIO_API, the pending-fault queue
    (fault_pending_wqh), and faultlang's record of what the ioctls did."""

    def __init__(self, mm, features: tuple[str, ...], handlers: dict):
        self.mm = mm
        self.features = frozenset(features)
        self.pending: list[UffdMsg] = []
        self.handlers = handlers          # reason -> (action, value); shared per process
        self.woken: list[UffdMsg] = []    # waiters woken by the last ioctl
        self.stats: dict[str, int] = {}
        self.log: deque = deque(maxlen=12)

    def note(self, ioctl: str, text: str) -> None:
        self.stats[ioctl] = self.stats.get(ioctl, 0) + 1
        self.log.append(f"{ioctl}: {text}")


class VmUserfaultfdCtx:
    """struct vm_userfaultfd_ctx, with the VMA's VM_UFFD_* modes beside the ctx pointer
    (the kernel keeps those in vm_flags; the fault path reads them here)."""

    __slots__ = ("ctx", "missing", "wp", "minor")

    def __init__(self, ctx: UserfaultfdCtx, vm_flags: int):
        self.ctx = ctx
        self.missing = bool(vm_flags & VM_UFFD_MISSING)
        self.wp = bool(vm_flags & VM_UFFD_WP)
        self.minor = bool(vm_flags & VM_UFFD_MINOR)

    @property
    def any_mode(self) -> bool:
        return self.missing or self.wp or self.minor

    @property
    def wp_async(self) -> bool:
        return "wp_async" in self.ctx.features

    @property
    def wp_unpopulated(self) -> bool:
        return "wp_unpopulated" in self.ctx.features

    @property
    def event_fork(self) -> bool:
        return "event_fork" in self.ctx.features

    def modes(self) -> str:
        return ",".join(m for m in ("missing", "wp", "minor") if getattr(self, m))


class UffdWait:
    """A thread asleep in handle_userfault (manual handler): its message and, filled in
    by the arch code, where its do_user_addr_fault goes on when it is woken."""

    __slots__ = ("ctx", "msg", "retry", "access")

    def __init__(self, ctx: UserfaultfdCtx, msg: UffdMsg):
        self.ctx = ctx
        self.msg = msg
        self.retry = None       # (regs, error_code, address, flags) for the retry
        self.access = None      # the runtime's (op, address, value, label, rest)


def vma_is_shmem(vma: Vma) -> bool:
    return vma.vm_ops is not None and bool(getattr(vma.vm_file, "shmem", False))


# --- the fault side -------------------------------------------------------------------


@kfunc(USERFAULTFD_C)
def handle_userfault(vmf: VmFault, reason: str) -> int:
    """handle_userfault - hand a fault on a registered range to user space.

    SIGBUS when the context asked for UFFD_FEATURE_SIGBUS or the caller cannot retry;
    otherwise queue a UFFD_EVENT_PAGEFAULT message, drop the fault lock, sleep until a
    UFFDIO_* ioctl wakes the thread, and return VM_FAULT_RETRY (never MAJOR): the arch
    code retries the whole fault, which then finds the page the handler installed.
    """
    vma = vmf.vma
    uctx = vma.uffd
    if uctx is None:
        why("no userfaultfd context on the VMA: SIGBUS")
        return VM_FAULT_SIGBUS
    ctx = uctx.ctx
    task = vma.vm_mm.system.current
    if "sigbus" in ctx.features:
        why("UFFD_FEATURE_SIGBUS: no message, the fault is a SIGBUS")
        return VM_FAULT_SIGBUS
    if not vmf.flags & FAULT_FLAG_ALLOW_RETRY:
        why("the caller cannot retry (no FAULT_FLAG_ALLOW_RETRY): SIGBUS")
        return VM_FAULT_SIGBUS
    if vmf.flags & FAULT_FLAG_RETRY_NOWAIT:
        why("FAULT_FLAG_RETRY_NOWAIT: retry without waiting")
        return VM_FAULT_RETRY
    msg = userfault_msg(vmf, reason, ctx, task)
    ctx.pending.append(msg)
    why(f"queued {msg}; release_fault_lock, schedule()")
    handler = ctx.handlers.get(reason)
    if handler is None or handler[0] == "manual":
        why("no handler thread answers at once: the thread sleeps (blocked)")
        task.uffd_wait = UffdWait(ctx, msg)
        return VM_FAULT_RETRY
    did = run_handler_thread(ctx, msg, handler)
    why(f"handler thread: {did}; woken: VM_FAULT_RETRY")
    return VM_FAULT_RETRY


def userfault_msg(vmf: VmFault, reason: str, ctx: UserfaultfdCtx, task) -> UffdMsg:
    """userfault_msg(): the message's flags, address and thread id."""
    flags = UFFD_PAGEFAULT_FLAG_WRITE if vmf.flags & FAULT_FLAG_WRITE else 0
    if reason == "wp":
        flags |= UFFD_PAGEFAULT_FLAG_WP
    elif reason == "minor":
        flags |= UFFD_PAGEFAULT_FLAG_MINOR
    address = vmf.real_address if "exact_address" in ctx.features else vmf.address
    ptid = task.pid if "thread_id" in ctx.features else None
    return UffdMsg(flags, address, ptid, reason, task)


def run_handler_thread(ctx: UserfaultfdCtx, msg: UffdMsg, handler: tuple) -> str:
    """The handler thread of `uffd handle MODE by ACTION`: read() the message and answer
    it for its page. It runs while the faulting thread sleeps, so it is not recorded in
    that thread's call path."""
    action, value = handler
    page = msg.address & ~0xFFF
    saved, recorder.frames = recorder.frames, None
    try:
        if action == "copy":
            userfaultfd_copy(ctx, page, page + 4096, value or 0)
        elif action == "zeropage":
            userfaultfd_zeropage(ctx, page, page + 4096)
        elif action == "continue":
            userfaultfd_continue(ctx, page, page + 4096)
        else:
            userfaultfd_writeprotect(ctx, page, page + 4096, False)
    except UffdError as err:
        return f"UFFDIO_{action.upper()} failed with {err.errno}"
    finally:
        recorder.frames = saved
    ctx.woken.clear()
    return {"copy": f"UFFDIO_COPY ({value or 0})", "zeropage": "UFFDIO_ZEROPAGE",
            "continue": "UFFDIO_CONTINUE", "unprotect": "UFFDIO_WRITEPROTECT (off)"}[action]


# --- registration ---------------------------------------------------------------------


def validate_range(mm, start: int, end: int) -> None:
    """validate_range(): page aligned, not empty, below TASK_SIZE."""
    if start & 0xFFF or end & 0xFFF or end <= start:
        raise UffdError("EINVAL", "the range is not page aligned or is empty")
    if end > mm.system.task_size:
        raise UffdError("EINVAL", "the range goes past TASK_SIZE")


def vma_can_userfault(vma: Vma, vm_flags: int, wp_async: bool) -> bool:
    """vma_can_userfault(): MINOR only on shmem and hugetlb; WP-only with wp_async on any
    memory; otherwise anonymous, shmem or hugetlb memory."""
    vm_flags &= VM_UFFD_FLAGS
    if vma.vm_flags & VM_DROPPABLE:
        return False
    if vm_flags & VM_UFFD_MINOR and not (vma.vm_flags & VM_HUGETLB or vma_is_shmem(vma)):
        return False
    if wp_async and vm_flags == VM_UFFD_WP:
        return True
    return vma_is_anonymous(vma) or bool(vma.vm_flags & VM_HUGETLB) or vma_is_shmem(vma)


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_register(ctx: UserfaultfdCtx, start: int, end: int, modes: tuple) -> str:
    """userfaultfd_register - UFFDIO_REGISTER: check every VMA of the range, then split
    at the edges and set VM_UFFD_* and the context. Returns the ioctls advertised."""
    mm = ctx.mm
    vm_flags = 0
    for mode in modes:
        vm_flags |= _MODE_FLAG[mode]
    validate_range(mm, start, end)
    found = [v for v in mm.vmas if v.vm_start < end and v.vm_end > start]
    if not found:
        raise UffdError("EINVAL", "no VMA in the range")
    wp_async = "wp_async" in ctx.features
    for vma in found:
        if not vma_can_userfault(vma, vm_flags, wp_async):
            what = "MINOR needs shmem or hugetlb" if vm_flags & VM_UFFD_MINOR and \
                vma_is_anonymous(vma) else f"{vma.kind} memory cannot be registered"
            raise UffdError("EINVAL", f"{what} ({vma.name or 'VMA'})")
        if not vma.vm_flags & VM_MAYWRITE:
            raise UffdError("EPERM", "the VMA lacks VM_MAYWRITE")
        if vma.uffd is not None and vma.uffd.ctx is not ctx:
            raise UffdError("EBUSY", "the VMA is registered with another userfaultfd")
    uctx = None
    for vma in isolate_range(mm, start, end):
        if vma.uffd is not None and vma.uffd.ctx is ctx and vma.vm_flags & VM_UFFD_FLAGS == vm_flags:
            continue
        if uctx is None:
            uctx = VmUserfaultfdCtx(ctx, vm_flags)
        vma.vm_flags = (vma.vm_flags & ~VM_UFFD_FLAGS) | vm_flags
        vma.uffd = uctx
    merge_vmas(mm, start, end)
    ioctls = [n for n in RANGE_IOCTLS
              if (n != "UFFDIO_CONTINUE" or vm_flags & VM_UFFD_MINOR)
              and (n != "UFFDIO_WRITEPROTECT" or vm_flags & VM_UFFD_WP)]
    why(f"{start:#x}-{end:#x}: {','.join(modes)}")
    ctx.note("UFFDIO_REGISTER", f"{start:#x}-{end:#x} {','.join(modes)}")
    return "ioctls: " + " ".join(n[len("UFFDIO_"):] for n in ioctls)


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_unregister(ctx: UserfaultfdCtx, start: int, end: int) -> int:
    """userfaultfd_unregister - UFFDIO_UNREGISTER: wake the range's waiters, clear
    uffd-wp bits, drop VM_UFFD_* and the context, merge. Returns the VMAs changed."""
    mm = ctx.mm
    validate_range(mm, start, end)
    found = [v for v in mm.vmas if v.vm_start < end and v.vm_end > start]
    if not found:
        raise UffdError("EINVAL", "no VMA in the range")
    for vma in found:
        if not vma_can_userfault(vma, vma.vm_flags, "wp_async" in ctx.features):
            raise UffdError("EINVAL", f"{vma.kind} memory cannot be registered")
    changed = 0
    from faultlang.kernel.mm.userfaultfd import uffd_wp_range
    for vma in isolate_range(mm, start, end):
        if vma.uffd is None:
            continue
        if vma.uffd.ctx is not ctx:
            continue
        wake_userfault(ctx, max(start, vma.vm_start), min(end, vma.vm_end))
        if vma.uffd.wp:
            uffd_wp_range(vma, vma.vm_start, vma.vm_end, False)
        vma.vm_flags &= ~VM_UFFD_FLAGS
        vma.uffd = None
        changed += 1
    merge_vmas(mm, start, end)
    ctx.note("UFFDIO_UNREGISTER", f"{start:#x}-{end:#x}")
    return changed


# --- the ioctls that resolve faults -------------------------------------------------------


def wake_userfault(ctx: UserfaultfdCtx, start: int, end: int) -> int:
    """wake_userfault(): wake the threads whose pending fault lies in [start, end)."""
    woken = [m for m in ctx.pending if start <= (m.address & ~0xFFF) < end]
    for m in woken:
        ctx.pending.remove(m)
    ctx.woken.extend(woken)
    return len(woken)


def _resolve(ctx: UserfaultfdCtx, ioctl: str, start: int, end: int, fill) -> int:
    """The common tail of COPY/ZEROPAGE/CONTINUE: run mfill_atomic_*, wake what it
    filled; a partial fill is -EAGAIN, nothing filled is the first page's error."""
    validate_range(ctx.mm, start, end)
    done, err = fill()
    if done:
        wake_userfault(ctx, start, start + done * 4096)
    text = f"{start:#x}-{end:#x}: {done} page{'s' if done != 1 else ''}"
    ctx.note(ioctl, text + (f", then {err.errno}" if err else ""))
    if err is not None:
        if not done:
            raise err
        raise UffdError("EAGAIN", f"only {done} pages filled, then {err.errno} ({err.reason})")
    return done


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_copy(ctx: UserfaultfdCtx, start: int, end: int, value: int) -> int:
    """userfaultfd_copy - UFFDIO_COPY: new pages holding `value`, then wake the range."""
    from faultlang.kernel.mm.userfaultfd import mfill_atomic_copy
    return _resolve(ctx, "UFFDIO_COPY", start, end,
                    lambda: mfill_atomic_copy(ctx, start, end, value))


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_zeropage(ctx: UserfaultfdCtx, start: int, end: int) -> int:
    """userfaultfd_zeropage - UFFDIO_ZEROPAGE: map the zero page, then wake the range."""
    from faultlang.kernel.mm.userfaultfd import mfill_atomic_zeropage
    return _resolve(ctx, "UFFDIO_ZEROPAGE", start, end,
                    lambda: mfill_atomic_zeropage(ctx, start, end))


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_continue(ctx: UserfaultfdCtx, start: int, end: int) -> int:
    """userfaultfd_continue - UFFDIO_CONTINUE: map the page-cache pages, then wake."""
    from faultlang.kernel.mm.userfaultfd import mfill_atomic_continue
    return _resolve(ctx, "UFFDIO_CONTINUE", start, end,
                    lambda: mfill_atomic_continue(ctx, start, end))


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_writeprotect(ctx: UserfaultfdCtx, start: int, end: int, on: bool) -> int:
    """userfaultfd_writeprotect - UFFDIO_WRITEPROTECT: set or clear uffd-wp on the
    range (mwriteprotect_range); clearing wakes the range's waiters."""
    from faultlang.kernel.mm.userfaultfd import mwriteprotect_range
    validate_range(ctx.mm, start, end)
    changed = mwriteprotect_range(ctx, start, end, on)
    if not on:
        wake_userfault(ctx, start, end)
    ctx.note("UFFDIO_WRITEPROTECT", f"{start:#x}-{end:#x} {'on' if on else 'off'}: "
             f"{changed} entries")
    return changed


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_wake(ctx: UserfaultfdCtx, start: int, end: int) -> int:
    """userfaultfd_wake - UFFDIO_WAKE: wake the range's waiters without resolving;
    their retry faults again (and, still unresolved, waits again)."""
    validate_range(ctx.mm, start, end)
    n = wake_userfault(ctx, start, end)
    ctx.note("UFFDIO_WAKE", f"{start:#x}-{end:#x}: {n} woken")
    return n


def ctx_text(ctx: UserfaultfdCtx, label) -> list[str]:
    """`show uffd` for one context: features, registered VMAs, handlers, queue, ioctls."""
    lines = [f"userfaultfd: features {', '.join(sorted(ctx.features)) or 'none'}"]
    for vma in ctx.mm.vmas:
        if vma.uffd is not None and vma.uffd.ctx is ctx:
            lines.append(f"  registered {label(vma.vm_start)}..{label(vma.vm_end - 4096)} "
                         f"({vma.vm_start:#x}-{vma.vm_end:#x}): {vma.uffd.modes()}")
    for reason, (action, value) in sorted(ctx.handlers.items()):
        lines.append(f"  handler: {reason} " + ("manually" if action == "manual" else
                     f"by {action}" + (f" {value}" if value is not None else "")))
    lines.append(f"  pending messages: {len(ctx.pending)}")
    lines.extend(f"    {m} (pid {m.task.pid} waits)" for m in ctx.pending)
    if ctx.stats:
        lines.append("  ioctls: " + ", ".join(f"{k} x{v}" for k, v in sorted(ctx.stats.items())))
        lines.extend(f"    {entry}" for entry in ctx.log)
    return lines


__all__ = ["UserfaultfdCtx", "VmUserfaultfdCtx", "UffdError", "UffdWait", "handle_userfault",
           "userfaultfd_register", "userfaultfd_unregister", "userfaultfd_copy",
           "userfaultfd_zeropage", "userfaultfd_continue", "userfaultfd_writeprotect",
           "userfaultfd_wake", "ctx_text", "FAULT_FLAG_USER"]
