"""make_console: the one place that decides width, colour and terminal handling.

Golden files and `faultlang run` output piped into a file must be byte-identical
across runs and machines, so whenever the output is not a terminal the console gets
a fixed width, no colour, and nothing read from the environment that could vary
(COLUMNS, LINES, FORCE_COLOR, Jupyter detection). Only an interactive terminal gets
its real size and colour.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Optional

from rich.console import Console

from faultlang.render.theme import FAULTLANG_THEME

__all__ = ["DEFAULT_WIDTH", "make_console"]

DEFAULT_WIDTH = 100
# Rich only uses the height for pagers and live displays; fixing it keeps LINES out.
_FIXED_HEIGHT = 25


def _isatty(file: Optional[IO[str]]) -> bool:
    target = sys.stdout if file is None else file
    isatty = getattr(target, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # closed file
        return False


def make_console(file: Optional[IO[str]] = None, width: Optional[int] = None,
                 color: Optional[bool] = None, record: bool = False) -> Console:
    """A Console with deterministic output.

    Args:
        file: where to write; None means stdout. A given file is never treated as a
            terminal for sizing, even if it is one.
        width: columns. None means the terminal's width on an interactive stdout,
            otherwise DEFAULT_WIDTH.
        color: True forces colour (an explicit request overrides NO_COLOR, as the
            no-color.org convention allows for command-line flags); False forbids it;
            None means colour only on an interactive stdout without NO_COLOR set.
        record: keep what is printed for export_text/export_svg/export_html.
    """
    interactive = file is None and _isatty(None)
    if color is None:
        color = interactive and os.environ.get("NO_COLOR", "") == ""
    if width is None and not interactive:
        width = DEFAULT_WIDTH
    if color:
        color_system: Optional[str] = "auto" if interactive else "truecolor"
    else:
        color_system = None
    return Console(
        file=file,
        width=width,
        height=None if interactive else _FIXED_HEIGHT,
        color_system=color_system,  # type: ignore[arg-type]
        force_terminal=True if color else (None if interactive else False),
        force_jupyter=False,
        force_interactive=None if interactive else False,
        no_color=not color,
        theme=FAULTLANG_THEME,
        highlight=False,
        emoji=False,
        soft_wrap=False,
        legacy_windows=False,
        record=record,
        log_time=False,
        log_path=False,
    )
