"""VmasView: a process's mappings, read like /proc/PID/maps."""

from __future__ import annotations

from typing import Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from faultlang.render._fmt import PAGE_SIZE, size_text
from faultlang.render._tables import Cell, add_rows, plain_table
from faultlang.render._trim import trimmed
from faultlang.snapshots import VmaView

__all__ = ["VmasView", "maps_perms"]


def maps_perms(vma: VmaView) -> str:
    """"rw-" + "p" or "s", as in the second column of /proc/PID/maps."""
    return f"{vma.prot}{'s' if vma.shared else 'p'}"


class VmasView:
    """One row per VMA: range, perms, offset (bytes, hex), size, name, backing (kind and
    file), flags."""

    def __init__(self, vmas: Sequence[VmaView], process: str) -> None:
        self.vmas = tuple(vmas)
        self.process = process

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.vmas:
            yield Text(f"{self.process} has no mappings", style="dim")
            return
        table = plain_table("start-end", "perms", "offset", "size", "name", "backing", "flags",
                            title=f"mappings of {self.process}", right=("size",),
                            keep=("start-end", "perms", "offset", "size"),
                            ascii_only=options.ascii_only)
        rows: list[list[Cell]] = []
        for vma in self.vmas:
            flags = list(vma.flags) + (["anon_vma"] if vma.anon_vma else [])
            rows.append([
                Text(f"{vma.start:012x}-{vma.end:012x}", style="addr"),
                maps_perms(vma),
                f"{vma.pgoff * PAGE_SIZE:08x}",
                size_text(vma.end - vma.start),
                vma.name,
                " ".join([vma.kind, vma.file]) if vma.file else vma.kind,
                " ".join(flags),
            ])
        add_rows(table, rows)
        yield from trimmed(console, options, [table])
