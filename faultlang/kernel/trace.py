"""Call-path recording: @kfunc marks a function as the kernel function it mirrors.

Not a kernel file. While a recorder is active, every decorated function that runs
appends an "enter" record before it runs and its result after it returns; `why()`
appends the reason for a branch to the function that is running. The path shown to
users is therefore the functions that actually ran, never a hand-written list.

The raw record of one fault is a flat list, cheap to append to on the hot path:
    Entry            a function was entered (its symbol and file)
    "text"           why() inside the innermost running function
    int | None       the innermost function returned (its VM_FAULT_* bits, or None)
runtime/machine.call_frames() turns it into the frames that are shown.
"""

from __future__ import annotations

from typing import Callable, Optional, TypeVar

F = TypeVar("F", bound=Callable)


class Recorder:
    """The raw record of the fault being handled, like the kernel's function-graph tracer."""

    __slots__ = ("frames",)

    def __init__(self) -> None:
        self.frames: Optional[list] = None

    def start(self) -> list:
        self.frames = []
        return self.frames

    def stop(self) -> list:
        frames, self.frames = self.frames or [], None
        return frames


recorder = Recorder()


class Entry:
    """The record of entering one @kfunc: its kernel symbol and file.

    There is one per function, so records compare and hash their entries by identity:
    the runtime looks every fault's record up among those it has seen (machine.path_of).
    """

    __slots__ = ("symbol", "file")

    def __init__(self, symbol: str, file: str) -> None:
        self.symbol = symbol
        self.file = file

    def __repr__(self) -> str:
        return f"Entry({self.symbol}, {self.file})"

    def __deepcopy__(self, memo: dict) -> "Entry":
        return self                     # like the function it stands for


# Every @kfunc symbol → its function (with .kernel_file and .__doc__), for `:explain`
# and for the check that docs/kernel-map.md lists every mirrored function.
KFUNCS: dict[str, Callable] = {}


def kfunc(file: str, symbol: Optional[str] = None, fault_bits: bool = True) -> Callable[[F], F]:
    """Mark `fn` as kernel function `symbol` (default: its Python name) of `file`.

    fault_bits says whether it returns VM_FAULT_* bits (shown as "→ VM_FAULT_MAJOR").
    """

    def decorate(fn: F) -> F:
        name = symbol or fn.__name__
        wrapper = _make_wrapper(fn, Entry(name, file), fault_bits)
        wrapper.__name__ = fn.__name__
        wrapper.__qualname__ = fn.__qualname__
        wrapper.__module__ = fn.__module__
        wrapper.__doc__ = fn.__doc__
        wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
        wrapper.kernel_symbol = name  # type: ignore[attr-defined]
        wrapper.kernel_file = file  # type: ignore[attr-defined]
        wrapper.python_module = fn.__module__  # type: ignore[attr-defined]
        KFUNCS[name] = wrapper
        return wrapper  # type: ignore[return-value]

    return decorate


# The wrapper's source, compiled once per @kfunc with the function's own parameter list.
# A generic `def wrapper(*args)` costs a tuple and an unspecialised call per kernel
# function (a fault runs a dozen); a wrapper that names the parameters is an ordinary
# Python-to-Python call. It does exactly what the generic one below does.
_WRAPPER_SRC = """\
def make(_kf_fn, _kf_entry, _kf_rec{defaults}):
    def wrapper({params}):
        _kf_frames = _kf_rec.frames
        if _kf_frames is None:
            return _kf_fn({args})
        _kf_frames.append(_kf_entry)
        _kf_ret = _kf_fn({args})
        _kf_frames.append({result})
        return _kf_ret
    return wrapper
"""


def _make_wrapper(fn: Callable, entry: Entry, fault_bits: bool) -> Callable:
    """The recording wrapper of `fn`: append `entry`, run `fn`, append its result."""
    rec = recorder
    code = fn.__code__
    plain = not code.co_flags & 0x0C and code.co_kwonlyargcount == 0   # no *args, **kw, kw-only
    if plain:
        names = code.co_varnames[:code.co_argcount]
        defaults = fn.__defaults__ or ()
        first_default = len(names) - len(defaults)
        params = ", ".join(n if k < first_default else f"{n}=_kf_d{k - first_default}"
                           for k, n in enumerate(names))
        src = _WRAPPER_SRC.format(
            defaults="".join(f", _kf_d{k}" for k in range(len(defaults))),
            params=params, args=", ".join(names), result="_kf_ret" if fault_bits else "None")
        namespace: dict = {}
        exec(compile(src, f"<kfunc {entry.symbol}>", "exec"), namespace)
        return namespace["make"](fn, entry, rec, *defaults)

    def wrapper(*args, **kwargs):
        frames = rec.frames
        if frames is None:
            return fn(*args, **kwargs)
        frames.append(entry)
        ret = fn(*args, **kwargs)
        frames.append(ret if fault_bits else None)
        return ret
    return wrapper


def why(text: str) -> None:
    """Say why the running function decided what it did (shown beside it in `show path`)."""
    frames = recorder.frames
    if frames is not None:
        frames.append(text)


def recording() -> bool:
    """True while a fault is being recorded: guard why() texts that are costly to build."""
    return recorder.frames is not None
