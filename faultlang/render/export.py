"""Export any view as SVG or HTML for slides and handouts.

A recording console with the faultlang theme, a fixed width and truecolor, so the
same renderable always exports to the same bytes.
"""

from __future__ import annotations

import io

from rich.console import Console, RenderableType

from faultlang.render.theme import FAULTLANG_THEME

__all__ = ["export_html", "export_svg", "recording_console"]


def recording_console(width: int = 100) -> Console:
    return Console(file=io.StringIO(), record=True, width=width, height=25,
                   color_system="truecolor", force_terminal=True, force_jupyter=False,
                   force_interactive=False, theme=FAULTLANG_THEME, highlight=False,
                   emoji=False, legacy_windows=False, log_time=False, log_path=False)


def export_svg(renderable: RenderableType, width: int = 100, title: str = "faultlang") -> str:
    """The renderable as a standalone SVG document (rich's terminal-window frame)."""
    console = recording_console(width)
    console.print(renderable)
    return console.export_svg(title=title)


def export_html(renderable: RenderableType, width: int = 100, inline_styles: bool = True) -> str:
    """The renderable as a standalone HTML page; inline styles survive copy-paste."""
    console = recording_console(width)
    console.print(renderable)
    return console.export_html(inline_styles=inline_styles)
