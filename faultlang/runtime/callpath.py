"""A fault's raw record (kernel/trace.py) → the call path users see, and who decided it.

The engine appends one flat record per fault; turning it into CallFrames (one object
per function, with its why texts and VM_FAULT_* names) costs more than the fault
itself. So a StepRecord holds a CallPath: the record, decoded the first time anything
reads it (show path, --json, :explain). What every log line needs at once, the
function that decided the fault, is read straight from the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Iterator, Optional, Union

from faultlang.kernel.include.linux.mm_types import fault_names
from faultlang.kernel.trace import Entry
from faultlang.snapshots import CallFrame

# Helpers that run inside a fault but do not decide its outcome (see StepRecord.handler).
NOT_DECIDERS = frozenset({"mm_account_fault", "__alloc_pages", "vmf_anon_prepare",
                          "alloc_anon_folio", "lock_vma_under_rcu", "lock_mm_and_find_vma",
                          "access_error", "force_sig_fault", "exc_page_fault",
                          "do_user_addr_fault", "faultin_page", "numa_migrate_check",
                          "grab_mapping_entry", "ext4_iomap_begin", "dax_insert_entry",
                          "unmap_mapping_pages", "migrate_folio_unmap", "try_to_migrate",
                          "migrate_folio_move", "remove_migration_ptes"})
_SIGNAL_SENDERS = ("force_sig_fault", "kernelmode_fixup_or_oops", "pagefault_out_of_memory")


def call_frames(raw: Sequence) -> tuple[CallFrame, ...]:
    """Decode a raw record (format: kernel/trace.py) into CallFrames, in one pass."""
    out = []
    stack = []
    for item in raw:
        kind = type(item)
        if kind is Entry:                   # a function was entered
            frame = CallFrame(len(stack), item.symbol, item.file)
            out.append(frame)
            stack.append(frame)
        elif not stack:                     # outside any recorded function: dropped
            continue
        elif kind is str:                   # why() inside the innermost one
            frame = stack[-1]
            frame.why = f"{frame.why}; {item}" if frame.why else item
        elif item is None:                  # it returned no fault bits
            stack.pop()
        else:                               # it returned VM_FAULT_* bits
            stack.pop().ret = fault_names(item)
    return tuple(out)


class CallPath(Sequence):
    """The CallFrames of one access, decoded from its raw record when first read.

    Reads like the tuple of frames it stands for (index, iterate, compare, `+`)."""

    __slots__ = ("_raw", "_frames")

    def __init__(self, raw: tuple) -> None:
        self._raw: Optional[tuple] = raw
        self._frames: tuple[CallFrame, ...] = ()

    def frames(self) -> tuple[CallFrame, ...]:
        if self._raw is not None:
            self._frames, self._raw = call_frames(self._raw), None
        return self._frames

    def __len__(self) -> int:
        return len(self.frames())

    def __getitem__(self, index):  # type: ignore[override]
        return self.frames()[index]

    def __iter__(self) -> Iterator[CallFrame]:
        return iter(self.frames())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CallPath):
            other = other.frames()
        return self.frames() == other

    def __hash__(self) -> int:
        return hash(self.frames())

    def __add__(self, other: Sequence) -> tuple[CallFrame, ...]:
        return self.frames() + tuple(other)

    def __repr__(self) -> str:
        return repr(self.frames())


Frames = Union[CallPath, tuple[CallFrame, ...]]
_PATH_CACHE: dict[tuple, tuple[CallPath, Optional[str]]] = {}
_last: tuple[list, tuple[CallPath, Optional[str]]] = ([], (CallPath(()), None))


def path_of(raw: list) -> tuple[CallPath, Optional[str]]:
    """A raw fault record → (its CallPath, the decider when no signal was sent).

    Most faults repeat an earlier one exactly (every first write to anonymous memory),
    so equal records share one CallPath, decoded at most once. Most often it is the
    record just before, which one list comparison finds. A record whose why texts
    name an index (fault-around's window) is new on every fault."""
    global _last
    if raw == _last[0]:
        return _last[1]
    key = tuple(raw)
    hit = _PATH_CACHE.get(key)
    if hit is None:
        if len(_PATH_CACHE) > 4096:
            _PATH_CACHE.clear()
        hit = _PATH_CACHE[key] = (CallPath(key), handler_of(key))
    _last = (raw, hit)
    return hit


def handler_of(raw: Sequence) -> Optional[str]:
    """The function that decided a fault that sent no signal: the deepest one that
    is not a helper (NOT_DECIDERS); what an allocation's reclaim calls never decides.
    Read from the raw record, without decoding it."""
    best, best_depth = None, -1
    depth = 0
    inside = 1 << 30                 # depth of an allocation whose callees don't decide
    for item in raw:
        kind = type(item)
        if kind is Entry:
            if depth <= inside:
                symbol = item.symbol
                inside = depth if symbol == "__alloc_pages" else 1 << 30
                if depth >= best_depth and symbol not in NOT_DECIDERS:
                    best, best_depth = symbol, depth
            depth += 1
        elif kind is not str and depth:     # a return (one outside any function: dropped)
            depth -= 1
    return best


def decider(frames: Frames, signal: Optional[str]) -> Optional[str]:
    """The function that decided a fault's outcome, for the one-line log: for a signal,
    the function that sent it (or the OOM killer); otherwise as handler_of()."""
    if signal:
        for k, f in enumerate(frames):
            if f.symbol == "oom_kill_process" and signal == "SIGKILL":
                return f.symbol
            if f.symbol in _SIGNAL_SENDERS:
                return frames[k - 1].symbol if f.symbol == "force_sig_fault" and k else f.symbol
    return handler_of(_as_record(frames))


def _as_record(frames: Frames) -> list:
    """Decoded frames back into the record shape handler_of() reads (entries and returns)."""
    if isinstance(frames, CallPath) and frames._raw is not None:
        return list(frames._raw)
    out: list = []
    depth = 0
    for f in frames:
        while depth > f.depth:
            out.append(None)
            depth -= 1
        out.append(Entry(f.symbol, f.file))
        depth += 1
    return out
