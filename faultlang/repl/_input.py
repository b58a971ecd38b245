"""What was typed, before it is parsed: lines that continue a statement, and Ctrl-C
held back while the session must not be interrupted."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

__all__ = ["join_continuations", "sigint_deferred"]


@contextmanager
def sigint_deferred(reraise: bool) -> Iterator[None]:
    """Hold Ctrl-C until the block is done, then raise it (or drop it). Only the main
    thread receives signals, so elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed and reraise:
        raise KeyboardInterrupt


def join_continuations(text: str) -> str:
    """Mark each line break inside a statement with a backslash (the grammar's line
    continuation), so several typed lines parse as one statement with unchanged line
    numbers, while breaks between complete statements stay statement ends."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    from faultlang.lang.grammar import is_incomplete

    current: list[str] = []
    for i, line in enumerate(lines[:-1]):
        current.append(line)
        chunk = "\n".join(current)
        if line.rstrip().endswith("\\") or is_incomplete(chunk):
            if not line.rstrip().endswith("\\"):
                lines[i] = current[-1] = line + " \\"
        else:
            current = []
    return "\n".join(lines)
