"""Render lines without trailing blanks, with the faultlang styles available.

Rich pads table cells, tree labels and Padding to their full width. Trailing spaces
are invisible on a terminal but show up in piped output and golden-file diffs (and
editors strip them), so every view passes its final lines through `trimmed`.

Views name styles by meaning ("fault.minor"); on a plain Console, not made by
make_console, those names are unknown and rich tables would raise MissingStyle, so
`trimmed` lends such a console the faultlang theme while it renders.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Iterable, Iterator

from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.errors import MissingStyle
from rich.measure import Measurement
from rich.segment import Segment

from faultlang.render.theme import FAULTLANG_THEME


def rstrip_line(line: list[Segment]) -> list[Segment]:
    """The segments of one rendered line with trailing whitespace removed."""
    segments = list(line)
    while segments:
        last = segments[-1]
        if last.control:
            break
        text = last.text.rstrip()
        if text:
            segments[-1] = Segment(text, last.style)
            break
        segments.pop()
    return segments


def trimmed(console: Console, options: ConsoleOptions,
            parts: Iterable[RenderableType]) -> Iterator[Segment]:
    """Render `parts` one below the other and yield their lines, right-trimmed."""
    with nullcontext() if has_faultlang_theme(console) else console.use_theme(FAULTLANG_THEME):
        lines = console.render_lines(Group(*parts), options, pad=False)
    for line in lines:
        yield from rstrip_line(line)
        yield Segment.line()


def natural_width(console: Console, options: ConsoleOptions, renderable: RenderableType) -> int:
    """The width `renderable` would take with unlimited room (rich's own measurement
    is capped at the console width, which hides that a table would have to squeeze)."""
    wide = options.update(max_width=10_000)
    with nullcontext() if has_faultlang_theme(console) else console.use_theme(FAULTLANG_THEME):
        return Measurement.get(console, wide, renderable).maximum


def has_faultlang_theme(console: Console) -> bool:
    try:
        console.get_style("fault.minor")
    except MissingStyle:
        return False
    return True
