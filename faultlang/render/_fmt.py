"""Small pure text helpers shared by the views (no rich renderables here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

from rich.console import ConsoleOptions

PAGE_SIZE = 4096


@dataclass(frozen=True)
class Glyphs:
    """Non-ASCII marks and their fallbacks, so ASCII-only outputs stay readable."""

    arrow: str
    dash: str     # between the ends of a range: "1–512"
    times: str    # a count: "512× minor"
    dot: str      # separator in the header
    ellipsis: str


UNICODE = Glyphs(arrow="→", dash="–", times="×", dot="·", ellipsis="…")
ASCII = Glyphs(arrow="->", dash="-", times="x", dot="-", ellipsis="...")


def glyphs(options: ConsoleOptions) -> Glyphs:
    return ASCII if options.ascii_only else UNICODE


def hexaddr(value: int) -> str:
    return f"{value:#x}"


def size_text(nbytes: int) -> str:
    """4096 → "4 KiB", 2097152 → "2 MiB" (exact powers only; otherwise bytes)."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift and nbytes % (1 << shift) == 0:
            return f"{nbytes >> shift} {unit}"
    return f"{nbytes} B"


def pages_text(pages: int) -> str:
    """A page count with its size: "16 pages (64 KiB)"."""
    noun = "page" if pages == 1 else "pages"
    return f"{pages} {noun} ({size_text(pages * PAGE_SIZE)})" if pages else f"0 {noun}"


_INDEXED = re.compile(r"^(?P<name>.*)\[(?P<index>\d+)\]$")


def range_label(labels: Sequence[str], g: Glyphs = UNICODE) -> str:
    """Name a run of page labels the way the scenario language writes ranges.

    ["buf[0]", ..., "buf[511]"] → "buf[0..512]"; every second page → "buf[0..16 step 2]";
    a backwards run → "buf[0..512] reverse". Anything else → "first … last".
    """
    if not labels:
        return ""
    if len(labels) == 1:
        return labels[0]
    matches = [_INDEXED.match(label) for label in labels]
    names = {m.group("name") for m in matches if m}
    if all(matches) and len(names) == 1:
        name = names.pop()
        idx = [int(m.group("index")) for m in matches if m]
        stride = idx[1] - idx[0]
        if stride != 0 and all(b - a == stride for a, b in zip(idx, idx[1:], strict=False)):
            lo, hi = min(idx), max(idx)
            step = f" step {abs(stride)}" if abs(stride) > 1 else ""
            reverse = " reverse" if stride < 0 else ""
            return f"{name}[{lo}..{hi + abs(stride)}{step}]{reverse}"
    if not labels[0] and not labels[-1]:
        return ""
    return f"{labels[0]} {g.ellipsis} {labels[-1]}"


def values_text(values: Sequence[Optional[int]], g: Glyphs = UNICODE) -> str:
    """Summarise the values of a run: one value, "1–512" for a +1 progression,
    else the first few and a count."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    if len(set(known)) == 1:
        return str(known[0])
    pairs = zip(known, known[1:], strict=False)
    if len(known) == len(values) and all(b - a == 1 for a, b in pairs):
        return f"{known[0]}{g.dash}{known[-1]}"
    head = ", ".join(str(v) for v in known[:3])
    return f"{head}, {g.ellipsis} ({len(set(known))} distinct)"


def number_range(first: int, last: int, g: Glyphs = UNICODE, fmt: str = "d") -> str:
    if first == last:
        return format(first, fmt)
    return f"{format(first, fmt)}{g.dash}{format(last, fmt)}"
