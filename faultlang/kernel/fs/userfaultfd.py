"""Mirrors fs/userfaultfd.c (Linux 6.18): the userfaultfd context, handle_userfault and the ioctls.

A process creates a userfaultfd (userfaultfd(2) + UFFDIO_API, which fixes the features),
registers ranges (UFFDIO_REGISTER: VM_UFFD_MISSING / WP / MINOR on the VMAs, split at
the range edges), and a handler thread read()s UFFD_EVENT_PAGEFAULT messages and answers
them with UFFDIO_COPY / ZEROPAGE / CONTINUE / WRITEPROTECT / MOVE / POISON, which wake
the faulting thread (unless MODE_DONTWAKE); its fault then returns VM_FAULT_RETRY and
the arch code retries it. With the EVENT_* features the monitor also gets the
non-cooperative events: fork (dup_userfaultfd: the child's VMAs stay registered on a
new context), MADV_DONTNEED/FREE (userfaultfd_remove) and munmap (userfaultfd_unmap_*).

Simplified:
- the handler thread is part of the scenario: `uffd handle MODE by ACTION` answers each
  message at once (it runs while the faulting thread sleeps, so its work is not part of
  the faulting thread's call path); `manually` leaves the message queued and the
  faulting thread blocked until a `uffd copy|zeropage|continue|writeprotect off|wake`;
- one registered context per VMA, contexts are never released (no close(2));
- an event's originator sleeps in userfaultfd_event_wait_completion until the monitor
  read()s it: the monitor here reads every event at once, so the originating call
  never waits, and `show uffd` lists the events read; no UFFD_EVENT_REMAP (the
  language has no mremap);
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
UFFD_EVENT_FORK, UFFD_EVENT_REMAP, UFFD_EVENT_REMOVE, UFFD_EVENT_UNMAP = 0x13, 0x14, 0x15, 0x16
# the ioctls' mode bits (include/uapi/linux/userfaultfd.h)
UFFDIO_COPY_MODE_DONTWAKE, UFFDIO_COPY_MODE_WP = 1 << 0, 1 << 1
UFFDIO_ZEROPAGE_MODE_DONTWAKE = 1 << 0
UFFDIO_WRITEPROTECT_MODE_WP, UFFDIO_WRITEPROTECT_MODE_DONTWAKE = 1 << 0, 1 << 1
UFFDIO_CONTINUE_MODE_DONTWAKE, UFFDIO_CONTINUE_MODE_WP = 1 << 0, 1 << 1
UFFDIO_MOVE_MODE_DONTWAKE, UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES = 1 << 0, 1 << 1
UFFDIO_POISON_MODE_DONTWAKE = 1 << 0
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


class UffdEventMsg:
    """struct uffd_msg for a non-cooperative event (FORK, REMOVE, UNMAP)."""

    __slots__ = ("event", "start", "end", "new_ctx")

    def __init__(self, event: int, start: int = 0, end: int = 0, new_ctx=None):
        self.event = event
        self.start = start
        self.end = end
        self.new_ctx = new_ctx      # FORK: the child's userfaultfd (arg.fork.ufd)

    def __str__(self) -> str:
        if self.event == UFFD_EVENT_FORK:
            pids = [t.pid for t in self.new_ctx.mm.system.tasks.values()
                    if t.mm is self.new_ctx.mm]
            return "UFFD_EVENT_FORK ufd=the new userfaultfd of " + \
                (f"pid {pids[0]}" if pids else "the child")
        name = {UFFD_EVENT_REMOVE: "REMOVE", UFFD_EVENT_UNMAP: "UNMAP",
                UFFD_EVENT_REMAP: "REMAP"}[self.event]
        return f"UFFD_EVENT_{name} start={self.start:#x} end={self.end:#x}"


class UserfaultfdCtx:
    """struct userfaultfd_ctx: the features fixed by UFFDIO_API, the pending-fault queue
    (fault_pending_wqh), and faultlang's record of what the ioctls did."""

    def __init__(self, mm, features: tuple[str, ...], handlers: dict):
        self.mm = mm
        self.features = frozenset(features)
        self.pending: list[UffdMsg] = []
        self.handlers = handlers          # reason -> (action, value); shared per process
        self.woken: list[UffdMsg] = []    # waiters woken by the last ioctl
        self.events: list[UffdEventMsg] = []   # non-cooperative events the monitor read
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
    by the arch code, where its do_user_addr_fault goes on when it is woken (or, for a
    fault taken by GUP, by mm/gup.py: where the get_user_pages walk goes on)."""

    __slots__ = ("ctx", "msg", "retry", "access", "gup")

    def __init__(self, ctx: UserfaultfdCtx, msg: UffdMsg):
        self.ctx = ctx
        self.msg = msg
        self.retry = None       # (regs, error_code, address, flags) for the retry
        self.access = None      # the runtime's (op, address, value, label, rest)
        self.gup = None         # gup.GupResume: the rest of a populate / mlock walk


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
    if msg in ctx.pending:
        why(f"handler thread: {did}; nothing woke the thread: it sleeps (blocked)")
        task.uffd_wait = UffdWait(ctx, msg)
        return VM_FAULT_RETRY
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
    vma = ctx.mm.vma_lookup(msg.address)
    size = 1 << 21 if vma is not None and vma.vm_flags & VM_HUGETLB else 4096
    page = msg.address & ~(size - 1)         # the page size of the VMA (hugetlb: 2 MiB)
    saved, recorder.frames = recorder.frames, None
    try:
        if action == "copy":
            userfaultfd_copy(ctx, page, page + size, value or 0)
        elif action == "zeropage":
            userfaultfd_zeropage(ctx, page, page + size)
        elif action == "continue":
            userfaultfd_continue(ctx, page, page + size)
        else:
            userfaultfd_writeprotect(ctx, page, page + size, False)
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


def _check_mode(mode: int, allowed: int) -> None:
    if mode & ~allowed:
        raise UffdError("EINVAL", "a mode bit this ioctl does not know")


def _resolve(ctx: UserfaultfdCtx, ioctl: str, start: int, end: int, fill,
             dontwake: bool = False) -> int:
    """The common tail of COPY/ZEROPAGE/CONTINUE/POISON: run mfill_atomic_*, wake what
    it filled (unless DONTWAKE); a partial fill is -EAGAIN, nothing filled is the first
    page's error."""
    validate_range(ctx.mm, start, end)
    done, err = fill()
    if done and not dontwake:
        wake_userfault(ctx, start, start + done * 4096)
    text = f"{start:#x}-{end:#x}: {done} page{'s' if done != 1 else ''}"
    text += " (DONTWAKE)" if dontwake else ""
    ctx.note(ioctl, text + (f", then {err.errno}" if err else ""))
    if err is not None:
        if not done:
            raise err
        raise UffdError("EAGAIN", f"only {done} pages filled, then {err.errno} ({err.reason})")
    return done


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_copy(ctx: UserfaultfdCtx, start: int, end: int, value: int,
                     mode: int = 0) -> int:
    """userfaultfd_copy - UFFDIO_COPY: new pages holding `value` (write-protected with
    MODE_WP), then wake the range unless MODE_DONTWAKE."""
    from faultlang.kernel.mm.userfaultfd import mfill_atomic_copy
    _check_mode(mode, UFFDIO_COPY_MODE_DONTWAKE | UFFDIO_COPY_MODE_WP)
    wp = bool(mode & UFFDIO_COPY_MODE_WP)
    return _resolve(ctx, "UFFDIO_COPY", start, end,
                    lambda: mfill_atomic_copy(ctx, start, end, value, wp),
                    bool(mode & UFFDIO_COPY_MODE_DONTWAKE))


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_zeropage(ctx: UserfaultfdCtx, start: int, end: int, mode: int = 0) -> int:
    """userfaultfd_zeropage - UFFDIO_ZEROPAGE: map the zero page, then wake the range
    unless MODE_DONTWAKE."""
    from faultlang.kernel.mm.userfaultfd import mfill_atomic_zeropage
    _check_mode(mode, UFFDIO_ZEROPAGE_MODE_DONTWAKE)
    return _resolve(ctx, "UFFDIO_ZEROPAGE", start, end,
                    lambda: mfill_atomic_zeropage(ctx, start, end),
                    bool(mode & UFFDIO_ZEROPAGE_MODE_DONTWAKE))


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_continue(ctx: UserfaultfdCtx, start: int, end: int, mode: int = 0) -> int:
    """userfaultfd_continue - UFFDIO_CONTINUE: map the page-cache pages (write-protected
    with MODE_WP), then wake unless MODE_DONTWAKE."""
    from faultlang.kernel.mm.userfaultfd import mfill_atomic_continue
    _check_mode(mode, UFFDIO_CONTINUE_MODE_DONTWAKE | UFFDIO_CONTINUE_MODE_WP)
    wp = bool(mode & UFFDIO_CONTINUE_MODE_WP)
    return _resolve(ctx, "UFFDIO_CONTINUE", start, end,
                    lambda: mfill_atomic_continue(ctx, start, end, wp),
                    bool(mode & UFFDIO_CONTINUE_MODE_DONTWAKE))


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_poison(ctx: UserfaultfdCtx, start: int, end: int, mode: int = 0) -> int:
    """userfaultfd_poison - UFFDIO_POISON: poison markers in the range's none PTEs (a
    later access is VM_FAULT_HWPOISON: SIGBUS), then wake unless MODE_DONTWAKE: the woken
    access faults again and gets the SIGBUS."""
    from faultlang.kernel.mm.userfaultfd import mfill_atomic_poison
    _check_mode(mode, UFFDIO_POISON_MODE_DONTWAKE)
    return _resolve(ctx, "UFFDIO_POISON", start, end,
                    lambda: mfill_atomic_poison(ctx, start, end),
                    bool(mode & UFFDIO_POISON_MODE_DONTWAKE))


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_move(ctx: UserfaultfdCtx, dst: int, src: int, length: int,
                     mode: int = 0) -> int:
    """userfaultfd_move - UFFDIO_MOVE: both ranges valid, then move_pages; wake the
    destination range that was filled unless MODE_DONTWAKE; a short move is -EAGAIN."""
    from faultlang.kernel.mm.userfaultfd import move_pages
    validate_range(ctx.mm, dst, dst + length)
    validate_range(ctx.mm, src, src + length)
    _check_mode(mode, UFFDIO_MOVE_MODE_DONTWAKE | UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES)
    done, err = move_pages(ctx, dst, src, length, bool(mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES))
    dontwake = bool(mode & UFFDIO_MOVE_MODE_DONTWAKE)
    if done and not dontwake:
        wake_userfault(ctx, dst, dst + done * 4096)
    text = f"{src:#x} -> {dst:#x}: {done} page{'s' if done != 1 else ''}"
    ctx.note("UFFDIO_MOVE", text + (" (DONTWAKE)" if dontwake else "")
             + (f", then {err.errno}" if err else ""))
    if err is not None:
        if not done:
            raise err
        raise UffdError("EAGAIN", f"only {done} pages moved, then {err.errno} ({err.reason})")
    return done


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_writeprotect(ctx: UserfaultfdCtx, start: int, end: int, on: bool,
                             mode: int = 0) -> int:
    """userfaultfd_writeprotect - UFFDIO_WRITEPROTECT: set or clear uffd-wp on the
    range (mwriteprotect_range); clearing wakes the range's waiters unless
    MODE_DONTWAKE (which together with MODE_WP is -EINVAL)."""
    from faultlang.kernel.mm.userfaultfd import mwriteprotect_range
    validate_range(ctx.mm, start, end)
    if on:
        mode |= UFFDIO_WRITEPROTECT_MODE_WP
    _check_mode(mode, UFFDIO_WRITEPROTECT_MODE_WP | UFFDIO_WRITEPROTECT_MODE_DONTWAKE)
    dontwake = bool(mode & UFFDIO_WRITEPROTECT_MODE_DONTWAKE)
    if on and dontwake:
        raise UffdError("EINVAL", "MODE_DONTWAKE goes only with removing the protection")
    changed = mwriteprotect_range(ctx, start, end, on)
    if not on and not dontwake:
        wake_userfault(ctx, start, end)
    ctx.note("UFFDIO_WRITEPROTECT", f"{start:#x}-{end:#x} {'on' if on else 'off'}: "
             f"{changed} entries" + (" (DONTWAKE)" if dontwake else ""))
    return changed


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_wake(ctx: UserfaultfdCtx, start: int, end: int) -> int:
    """userfaultfd_wake - UFFDIO_WAKE: wake the range's waiters without resolving;
    their retry faults again (and, still unresolved, waits again)."""
    validate_range(ctx.mm, start, end)
    n = wake_userfault(ctx, start, end)
    ctx.note("UFFDIO_WAKE", f"{start:#x}-{end:#x}: {n} woken")
    return n


# --- non-cooperative events ------------------------------------------------------------


def userfaultfd_event_wait_completion(ctx: UserfaultfdCtx, msg: UffdEventMsg) -> None:
    """userfaultfd_event_wait_completion(): queue the event for the monitor and wait
    until it has been read; the monitor reads it at once (see the module docstring)."""
    ctx.events.append(msg)
    why(f"{msg}: read by the monitor")


@kfunc(USERFAULTFD_C, fault_bits=False)
def dup_userfaultfd(vma: Vma, fcs: dict) -> None:
    """dup_userfaultfd - fork, for each child VMA: without UFFD_FEATURE_EVENT_FORK the
    registration is dropped (userfaultfd_reset_ctx); with it the child's VMAs are
    registered on one new context per parent context, with the same features."""
    uctx = vma.uffd
    if uctx is None:
        return
    octx = uctx.ctx
    if "event_fork" not in octx.features:
        why("no UFFD_FEATURE_EVENT_FORK: the child's VMA is not registered")
        vma.uffd = None
        vma.vm_flags &= ~VM_UFFD_FLAGS
        return
    entry = fcs.get(id(octx))
    if entry is None:
        ctx = UserfaultfdCtx(vma.vm_mm, tuple(octx.features), octx.handlers)
        entry = fcs[id(octx)] = (octx, ctx, {})
    octx, ctx, vm_ctxs = entry
    new = vm_ctxs.get(id(uctx))        # VMAs that shared a vm_userfaultfd_ctx still do
    if new is None:
        new = vm_ctxs[id(uctx)] = VmUserfaultfdCtx(ctx, vma.vm_flags)
    vma.uffd = new
    why("UFFD_FEATURE_EVENT_FORK: the child's VMA stays registered on a new userfaultfd")


@kfunc(USERFAULTFD_C, fault_bits=False)
def dup_userfaultfd_complete(fcs: dict) -> None:
    """dup_userfaultfd_complete - one UFFD_EVENT_FORK per parent context, carrying the
    child's new userfaultfd (dup_fctx)."""
    for octx, ctx, _ in fcs.values():
        userfaultfd_event_wait_completion(octx, UffdEventMsg(UFFD_EVENT_FORK, new_ctx=ctx))


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_remove(vma: Vma, start: int, end: int) -> bool:
    """userfaultfd_remove - MADV_DONTNEED / MADV_FREE: with UFFD_FEATURE_EVENT_REMOVE,
    tell the monitor before the pages go (the mmap_lock is dropped meanwhile; False
    tells madvise to look the VMA up again)."""
    uctx = vma.uffd
    if uctx is None or "event_remove" not in uctx.ctx.features:
        return True
    userfaultfd_event_wait_completion(uctx.ctx, UffdEventMsg(UFFD_EVENT_REMOVE, start, end))
    return False


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_unmap_prep(vma: Vma, start: int, end: int, unmaps: list) -> None:
    """userfaultfd_unmap_prep - munmap, before the VMAs go: remember one UNMAP event per
    context with UFFD_FEATURE_EVENT_UNMAP (the whole munmap range, once per context)."""
    uctx = vma.uffd
    if uctx is None or "event_unmap" not in uctx.ctx.features:
        return
    if any(ctx is uctx.ctx and (s, e) == (start, end) for ctx, s, e in unmaps):
        return
    unmaps.append((uctx.ctx, start, end))


@kfunc(USERFAULTFD_C, fault_bits=False)
def userfaultfd_unmap_complete(unmaps: list) -> None:
    """userfaultfd_unmap_complete - after the unmap: send the UNMAP events."""
    for ctx, start, end in unmaps:
        userfaultfd_event_wait_completion(ctx, UffdEventMsg(UFFD_EVENT_UNMAP, start, end))


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
    if ctx.events:
        lines.append(f"  events read by the monitor: {len(ctx.events)}")
        lines.extend(f"    {m}" for m in ctx.events)
    if ctx.stats:
        lines.append("  ioctls: " + ", ".join(f"{k} x{v}" for k, v in sorted(ctx.stats.items())))
        lines.extend(f"    {entry}" for entry in ctx.log)
    return lines


__all__ = ["UserfaultfdCtx", "VmUserfaultfdCtx", "UffdError", "UffdWait", "handle_userfault",
           "userfaultfd_register", "userfaultfd_unregister", "userfaultfd_copy",
           "userfaultfd_zeropage", "userfaultfd_continue", "userfaultfd_writeprotect",
           "userfaultfd_wake", "userfaultfd_move", "userfaultfd_poison", "dup_userfaultfd",
           "dup_userfaultfd_complete", "userfaultfd_remove", "userfaultfd_unmap_prep",
           "userfaultfd_unmap_complete", "ctx_text", "FAULT_FLAG_USER"]
