"""The bottom toolbar: the machine at a glance, like pgcli's mode line.

`ReplSession.status()` gives a ToolbarStatus (plain data, tested without a terminal);
`toolbar_fragments` turns it into prompt_toolkit formatted text. Counters are the
current process's /proc/PID/stat ones, so after `switch child` the toolbar follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["ToolbarStatus", "toolbar_fragments", "toolbar_text"]

Fragments = list[tuple[str, str]]


@dataclass(frozen=True)
class ToolbarStatus:
    process: str = "main"
    minflt: int = 0
    majflt: int = 0
    rss: int = 0                  # pages
    free: int = 0                 # free frames
    swap_used: int = 0            # pages
    swap_total: int = 0           # pages
    line: int = 1                 # the line the next statement will be (as :save numbers it)
    history: str = ""             # "3 of 5" after :undo, else ""
    trace: bool = False
    keys: str = "emacs"
    kernel: str = "6.18"


def toolbar_fragments(status: ToolbarStatus, vi_state: Optional[str] = None) -> Fragments:
    """The toolbar as (style, text) pairs. `vi_state` ("insert", "nav") is shown in vi mode."""
    key, value, dim = "class:bottom-toolbar.key", "class:bottom-toolbar.value", \
        "class:bottom-toolbar.dim"
    sep = (dim, "  │  ")
    out: Fragments = [(key, f" {status.process}"), sep,
                      (dim, "minflt "), (value, str(status.minflt)), (dim, "  majflt "),
                      ("class:bottom-toolbar.major" if status.majflt else value,
                       str(status.majflt)), sep,
                      (dim, "RSS "), (value, f"{status.rss} pages"), sep,
                      (dim, "free "), (value, f"{status.free} frames"), sep,
                      (dim, "swap "), (value, f"{status.swap_used}/{status.swap_total}")]
    if status.history:
        out += [sep, ("class:bottom-toolbar.warn", f"history {status.history}")]
    mode = status.keys if vi_state is None else f"vi {vi_state}"
    out += [sep, (dim, f"trace {'on' if status.trace else 'off'}  {mode}  "
                       f"Linux {status.kernel}  :help ")]
    return out


def toolbar_text(status: ToolbarStatus) -> str:
    """The toolbar as plain text (for tests and for screen readers' logs)."""
    return "".join(text for _, text in toolbar_fragments(status))
