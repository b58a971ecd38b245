"""Call-path recording: @kfunc marks a function as the kernel function it mirrors.

Not a kernel file. While a recorder is active, every decorated function that runs
appends a frame (depth, symbol, source file) before it runs and fills in what it
returned afterwards; `why()` attaches the reason a branch was taken to the frame of
the function that is running. The path shown to users is therefore the functions
that actually ran, never a hand-written list.
"""

from __future__ import annotations

from typing import Callable, Optional, TypeVar

F = TypeVar("F", bound=Callable)

# frame layout: [depth, symbol, file, why, ret]; ret stays None for functions whose
# result is not a VM_FAULT_* value.
DEPTH, SYMBOL, FILE, WHY, RET = range(5)


class Recorder:
    """The frames of the fault being handled, like the kernel's ftrace function graph."""

    __slots__ = ("frames", "stack")

    def __init__(self) -> None:
        self.frames: Optional[list] = None
        self.stack: list = []

    def start(self) -> list:
        self.frames = []
        self.stack = []
        return self.frames

    def stop(self) -> list:
        frames, self.frames = self.frames or [], None
        return frames


recorder = Recorder()

# Every @kfunc symbol and the file it lives in; docs/kernel-map.md is checked against it.
KFUNCS: dict[str, str] = {}


def kfunc(file: str, symbol: Optional[str] = None, fault_bits: bool = True) -> Callable[[F], F]:
    """Mark `fn` as kernel function `symbol` (default: its Python name) of `file`."""

    def decorate(fn: F) -> F:
        name = symbol or fn.__name__
        KFUNCS[name] = file
        rec = recorder

        def wrapper(*args, **kwargs):
            frames = rec.frames
            if frames is None:
                return fn(*args, **kwargs)
            stack = rec.stack
            frame = [len(stack), name, file, "", None]
            frames.append(frame)
            stack.append(frame)
            try:
                ret = fn(*args, **kwargs)
            finally:
                stack.pop()
            if fault_bits:
                frame[RET] = ret
            return ret

        wrapper.__name__ = fn.__name__
        wrapper.__qualname__ = fn.__qualname__
        wrapper.__doc__ = fn.__doc__
        wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
        wrapper.kernel_symbol = name  # type: ignore[attr-defined]
        wrapper.kernel_file = file  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def why(text: str) -> None:
    """Say why the running function decided what it did (shown beside it in `show path`)."""
    stack = recorder.stack
    if recorder.frames is not None and stack:
        frame = stack[-1]
        frame[WHY] = f"{frame[WHY]}; {text}" if frame[WHY] else text
