"""Time travel: the session's state after each statement, for :undo, :forward, :diff, and
for putting the machine back when a statement fails or is interrupted.

A state is (Runner, statements so far). The engine is deterministic, so a state need
not be stored to be recovered: it is the nearest earlier *checkpoint* (a pickle of the
state) with the statements after it run again. A checkpoint is taken when replaying
since the last one would cost more than taking one did (the replay debt): small
machines get one after nearly every statement, a machine with a million pages in use
only every few seconds of work. Either way, recording never more than doubles the time
statements take, and going back never costs more than about one checkpoint.

Some objects are never copied into a pickle, only referred to, so that a restored
machine shares them exactly as the live one did:
* the records a run hands out (StatementRecord, ExpectResult), which are immutable;
* functions, and the engine's shared tables: module-level objects of faultlang.kernel
  (the vm_ops tables, compared by identity as in the kernel) and any object whose
  __deepcopy__ returns itself (the engine's way of saying "shared, never copied");
* the step log (Machine.steps), which only grows and can hold millions of records:
  each checkpoint keeps just the steps added since the previous one.

The timeline is linear, like an editor's undo: a statement run after :undo drops the
entries ahead of the cursor. About `limit` entries are kept (whole runs up to a
checkpoint are dropped from the old end), and at most `max_bytes` of checkpoints.
"""

from __future__ import annotations

import io
import pickle
import sys
import time
from dataclasses import dataclass
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import TYPE_CHECKING, Any, Callable, Optional

from faultlang.snapshots import ExpectResult, StatementRecord, StepRecord

if TYPE_CHECKING:
    from faultlang.lang import ast
    from faultlang.runtime.runner import Runner

__all__ = ["State", "Timeline"]

State = tuple[Optional["Runner"], tuple["ast.Statement", ...]]

_SHARED_TYPES = (StatementRecord, ExpectResult, FunctionType, BuiltinFunctionType)
# Types that are never shared: most objects in a machine are of these, so they are
# answered first.
_PLAIN_TYPES = frozenset({int, str, float, bool, bytes, tuple, list, dict, set, frozenset,
                          type(None)})
_STEPS = "steps"


def _kernel_singletons() -> dict[int, Any]:
    """Module-level objects of the engine (instances, not classes or functions)."""
    found: dict[int, Any] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("faultlang.kernel"):
            continue
        for value in vars(module).values():
            if type(value) in _PLAIN_TYPES or isinstance(value, (type, ModuleType)):
                continue
            found[id(value)] = value
    return found


_SELF_COPYING: dict[type, bool] = {}


def _copies_as_itself(obj: Any) -> bool:
    kind = type(obj)
    known = _SELF_COPYING.get(kind)
    if known is None:
        hook = getattr(kind, "__deepcopy__", None)
        known = _SELF_COPYING[kind] = hook is not None and hook(obj, {}) is obj
    return known


@dataclass
class _Entry:
    statements: int                         # statements the state had run
    label: str                              # the last of them, as text ("" at the start)
    statement: Optional[ast.Statement]      # the statement that led here from the entry before
    data: Optional[bytes] = None            # a checkpoint, or None (replay to get here)
    chunk: tuple[StepRecord, ...] = ()      # checkpoints: steps since the previous checkpoint
    root: bool = True                       # chunk holds every step of the state
    total: int = 0                          # checkpoints: steps in the state


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, shared: dict[int, Any], steps: Optional[list]):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._shared = shared
        self._steps = steps
        self._singletons = _kernel_singletons()

    def persistent_id(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _PLAIN_TYPES:
            return _STEPS if obj is self._steps and obj is not None else None
        if kind in _SHARED_TYPES or id(obj) in self._singletons or _copies_as_itself(obj):
            self._shared[id(obj)] = obj       # kept alive here, so the id stays unique
            return id(obj)
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, shared: dict[int, Any], steps: list):
        super().__init__(file)
        self._shared = shared
        self._steps = steps

    def persistent_load(self, pid: Any) -> Any:
        if pid == _STEPS:
            return self._steps
        return self._shared[pid]


def _live_steps(state: State) -> Optional[list[StepRecord]]:
    runner = state[0]
    machine = runner.machine if runner is not None else None
    return machine.steps if machine is not None else None


class Timeline:
    """States after each statement; `cursor` is the one the session is at."""

    def __init__(self, new_runner: Callable[[], Runner], limit: int = 200,
                 max_bytes: int = 1 << 30) -> None:
        self.new_runner = new_runner       # what the session starts from, for replays
        self.limit = max(2, limit)
        self.max_bytes = max_bytes
        self._entries: list[_Entry] = []
        self._shared: dict[int, Any] = {}
        self.cursor = -1
        self._debt = 0.0               # seconds of statements run since the last checkpoint
        self._checkpoint_cost = 0.0    # seconds the last checkpoint took

    def __len__(self) -> int:
        return len(self._entries)

    def start(self, state: State) -> None:
        """Forget everything; `state` is the first entry."""
        self._entries.clear()
        self._shared.clear()
        self.cursor = -1
        self._debt = 0.0
        self._append(_Entry(len(state[1]), "", None), state, checkpoint=True)

    # --- recording ------------------------------------------------------------------

    def push(self, state: State, label: str, statement: ast.Statement, seconds: float) -> None:
        """Record `state`, reached from the cursor's state by running `statement`
        (which took `seconds`), as the entry after the cursor."""
        del self._entries[self.cursor + 1:]
        self._debt += seconds
        checkpoint = self._debt >= self._checkpoint_cost or (
            # Full, with no checkpoint to cut the old end at: this entry becomes one.
            len(self._entries) >= self.limit
            and all(entry.data is None for entry in self._entries[1:]))
        self._append(_Entry(len(state[1]), label, statement), state, checkpoint)
        self._trim()

    def _append(self, entry: _Entry, state: State, checkpoint: bool) -> None:
        if checkpoint:
            began = time.perf_counter()
            steps = _live_steps(state)
            entry.chunk, entry.root = self._chunk(steps)
            entry.total = len(steps) if steps is not None else 0
            buffer = io.BytesIO()
            _Pickler(buffer, self._shared, steps).dump(state)
            entry.data = buffer.getvalue()
            self._checkpoint_cost = time.perf_counter() - began
            self._debt = 0.0
        self._entries.append(entry)
        self.cursor = len(self._entries) - 1

    def _previous_checkpoint(self, index: int) -> int:
        while self._entries[index].data is None:
            index -= 1
        return index

    def _chunk(self, steps: Optional[list[StepRecord]]) -> tuple[tuple[StepRecord, ...], bool]:
        if not steps:
            return (), True
        if self.cursor < 0:
            return tuple(steps), True
        parent = self._previous_checkpoint(self.cursor)
        n = self._entries[parent].total
        # The engine only appends to its log, but `set` before the first access rebuilds
        # the machine (and its log): then the new log shares nothing with the parent's.
        if n == 0 or (n <= len(steps) and steps[n - 1] is self._last_step(parent)
                      and steps[0] is self._first_step(parent)):
            return tuple(steps[n:]), n == 0
        return tuple(steps), True

    def _trim(self) -> None:
        """Drop old entries, a whole run up to a checkpoint at a time."""
        while len(self._entries) > self.limit or (self.size_bytes() > self.max_bytes):
            keep = next((i for i in range(1, self.cursor + 1)
                         if self._entries[i].data is not None), None)
            if keep is None:
                return
            entry = self._entries[keep]
            entry.chunk, entry.root = tuple(self.steps_of(keep)), True
            del self._entries[:keep]
            self.cursor -= keep

    # --- reading --------------------------------------------------------------------

    def _chain(self, index: int) -> list[_Entry]:
        """The checkpoints whose chunks make up the step log of checkpoint `index`."""
        chain = []
        while True:
            entry = self._entries[index]
            if entry.data is not None:
                chain.append(entry)
                if entry.root:
                    break
            index -= 1
        return chain[::-1]

    def _first_step(self, index: int) -> Optional[StepRecord]:
        for entry in self._chain(index):
            if entry.chunk:
                return entry.chunk[0]
        return None

    def _last_step(self, index: int) -> Optional[StepRecord]:
        for entry in reversed(self._chain(index)):
            if entry.chunk:
                return entry.chunk[-1]
        return None

    def steps_of(self, checkpoint: int) -> list[StepRecord]:
        out: list[StepRecord] = []
        for entry in self._chain(checkpoint):
            out.extend(entry.chunk)
        return out

    def state(self, index: int) -> State:
        """A fresh copy of entry `index`'s state: its checkpoint, or the nearest earlier
        one with the statements after it run again (the entries stay untouched)."""
        base = self._previous_checkpoint(index)
        entry = self._entries[base]
        assert entry.data is not None
        runner, statements = _Unpickler(io.BytesIO(entry.data), self._shared,
                                        self.steps_of(base)).load()
        for later in self._entries[base + 1:index + 1]:
            assert later.statement is not None
            if runner is None:
                runner = self.new_runner()
            runner.execute(later.statement)
            statements += (later.statement,)
        return runner, statements

    def statements_at(self, index: int) -> int:
        return self._entries[index].statements

    def statement_at(self, index: int) -> Optional[ast.Statement]:
        return self._entries[index].statement

    def label_at(self, index: int) -> str:
        return self._entries[index].label

    def find(self, statements: int) -> Optional[int]:
        """The latest entry at or before the cursor whose state had run `statements`."""
        for index in range(self.cursor, -1, -1):
            if self._entries[index].statements == statements:
                return index
        return None

    def position(self) -> str:
        """"3 of 5" when the cursor is not at the newest entry, else ""."""
        if self.cursor == len(self._entries) - 1:
            return ""
        return f"{self.cursor} of {len(self._entries) - 1}"

    def checkpoints(self) -> int:
        return sum(1 for entry in self._entries if entry.data is not None)

    def size_bytes(self) -> int:
        return sum(len(entry.data) for entry in self._entries if entry.data is not None)
