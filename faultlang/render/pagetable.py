"""PageTableView: the radix tree a hardware walk follows, PGD down to the leaves.

Layout (x86-64, 4 KiB pages): each table has 512 entries, and an entry at each level
covers
    PGD 512 GiB (256 TiB with 5 levels) · P4D 512 GiB · PUD 1 GiB · PMD 2 MiB · PTE 4 KiB
With 4 levels the P4D is folded into the PGD: it exists in the code, not in memory.

Leaves of a PTE table are rows; long runs of alike entries (a 512-page write, the
zero page mapped 512 times) fold into one row so a whole mapping fits on a screen.
"""

from __future__ import annotations

from typing import Sequence

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from faultlang.render._fmt import (
    PAGE_SIZE,
    Glyphs,
    glyphs,
    hexaddr,
    number_range,
    range_label,
    size_text,
    values_text,
)
from faultlang.render._trim import natural_width, trimmed
from faultlang.render.theme import state_style
from faultlang.snapshots import PageTableSnapshot, PteView, TableView

__all__ = ["PageTableView", "flag_letters", "leaf_runs", "table_span"]

ENTRIES = 512
COMPRESS_AFTER = 16

_ENTRY_SHIFT = {"PTE": 12, "PMD": 21, "PUD": 30, "P4D": 39}
# Positional letters, like `ls -l`: a dash means the bit is clear.
_FLAG_LETTERS = (("present", "P"), ("rw", "W"), ("user", "U"),
                 ("accessed", "A"), ("dirty", "D"), ("nx", "N"))
_LETTERED = {name for name, _ in _FLAG_LETTERS}
LEGEND = "flags: P present  W writable  U user  A accessed  D dirty  N no-execute"


def entry_span(level: str, levels: int) -> int:
    """Bytes mapped by one entry of a table at `level`."""
    if level == "PGD":
        return 1 << (48 if levels == 5 else 39)
    return 1 << _ENTRY_SHIFT[level]


def table_span(table: TableView, levels: int) -> int:
    """Bytes a whole table covers; a folded P4D is the single PGD entry it stands for."""
    span = entry_span(table.level, levels)
    return span if table.folded else span * ENTRIES


def flag_letters(flags: Sequence[str]) -> str:
    """("present", "rw", "user", "nx", "special") → "PWU--N special"."""
    letters = "".join(letter if name in flags else "-" for name, letter in _FLAG_LETTERS)
    extras = [name for name in flags if name not in _LETTERED]
    return " ".join([letters, *extras])


def _stem(mapping: str) -> str:
    return mapping.split("[", 1)[0]


def _pfn_step(a: PteView, b: PteView) -> int | None:
    """0 when both share a frame (the zero page), 1 when consecutive, None otherwise;
    two frameless entries (swapped, none) count as 0."""
    if a.pfn is None or b.pfn is None:
        return 0 if a.pfn is None and b.pfn is None else None
    diff = b.pfn - a.pfn
    return diff if diff in (0, 1) else None


def leaf_runs(leaves: Sequence[PteView]) -> list[list[PteView]]:
    """Group leaves into maximal runs of adjacent entries with the same level, state,
    flags and mapping, whose PFNs are all equal or all consecutive."""
    runs: list[list[PteView]] = []
    step: int | None = None
    for leaf in leaves:
        if runs:
            run = runs[-1]
            prev = run[-1]
            alike = (leaf.index == prev.index + 1 and leaf.level == prev.level
                     and leaf.state == prev.state and leaf.flags == prev.flags
                     and _stem(leaf.mapping) == _stem(prev.mapping))
            pfn_step = _pfn_step(prev, leaf)
            if alike and pfn_step is not None and (len(run) == 1 or pfn_step == step):
                run.append(leaf)
                step = pfn_step
                continue
        runs.append([leaf])
        step = None
    return runs


class PageTableView:
    """The page-table tree of one process.

    Args:
        snapshot: the tables and leaves to draw.
        full: print every leaf, never fold runs.
        compress_after: fold runs longer than this many entries.
    """

    def __init__(self, snapshot: PageTableSnapshot, full: bool = False,
                 compress_after: int = COMPRESS_AFTER) -> None:
        self.snapshot = snapshot
        self.full = full
        self.compress_after = compress_after

    def _table_label(self, table: TableView, g: Glyphs) -> Text:
        span = table_span(table, self.snapshot.levels)
        label = Text()
        if table.index >= 0:
            label.append(f"[{table.index:03d}] ")
        label.append(table.level, style="header")
        if table.folded:
            label.append(" (folded)", style="dim")
        label.append("  ")
        label.append(f"{hexaddr(table.address)}{g.dash}{hexaddr(table.address + span - 1)}",
                     style="addr")
        label.append(f"  {size_text(span)}", style="dim")
        used = sum(1 for leaf in table.leaves if leaf.state != "none")
        if table.level == "PTE":
            label.append(f"  {used}/{ENTRIES} used", style="dim")
        return label

    def _huge_label(self, leaf: PteView, g: Glyphs) -> Text:
        span = entry_span(leaf.level, self.snapshot.levels)
        pages = span // PAGE_SIZE
        label = Text.assemble(f"[{leaf.index:03d}] ", (leaf.level, "header"), " leaf  ",
                              (hexaddr(leaf.address), "addr"), "  ")
        if leaf.mapping:
            label.append(f"{leaf.mapping}  ")
        label.append(leaf.state, style=state_style(leaf.state))
        label.append("\n")
        label.append(f"{size_text(span)} huge page, covers {pages} pages", style="pte.huge")
        if leaf.pfn is not None:
            label.append(f"  pfn {number_range(leaf.pfn, leaf.pfn + pages - 1, g, '#x')}")
        label.append(f"  {flag_letters(leaf.flags)}")
        if leaf.value is not None:
            label.append(f"  value {leaf.value}")
        return label

    def _leaf_row(self, run: list[PteView], g: Glyphs, with_address: bool) -> list[Text]:
        first, last = run[0], run[-1]
        # A folded run reads "[000–255] … 0x1000–0x10ff": the index and PFN ranges
        # carry the count, so the state stays one word.
        index = f"[{number_range(first.index, last.index, g, '03d')}]"
        pfn = ""
        if first.pfn is not None and last.pfn is not None:
            pfn = number_range(first.pfn, last.pfn, g, "#x")
        row = [
            Text(index),
            Text(hexaddr(first.address), style="addr"),
            Text(range_label([leaf.mapping for leaf in run], g)),
            Text(flag_letters(first.flags)),
            Text(pfn),
            Text(first.state, style=state_style(first.state)),
            Text(values_text([leaf.value for leaf in run], g)),
        ]
        return row if with_address else row[:1] + row[2:]

    def _leaf_table(self, leaves: Sequence[PteView], g: Glyphs,
                    with_address: bool = True) -> Table:
        table = Table.grid(padding=(0, 1))
        table.show_header = True
        table.header_style = "dim"
        for header in ("index", "address", "mapping", "flags", "pfn", "state", "value"):
            if header != "address" or with_address:
                # Only flags (a space before extra names) may wrap: cut names mislead.
                table.add_column(header, no_wrap=header != "flags",
                                 min_width=6 if header == "flags" else None)
        runs = [[leaf] for leaf in leaves] if self.full else leaf_runs(leaves)
        for run in runs:
            if len(run) > self.compress_after:
                table.add_row(*self._leaf_row(run, g, with_address))
            else:
                for leaf in run:
                    table.add_row(*self._leaf_row([leaf], g, with_address))
        return table

    def _fitting_leaf_table(self, leaves: Sequence[PteView], g: Glyphs, depth: int,
                            console: Console, options: ConsoleOptions) -> Table:
        """The leaf table, without its address column when that would make rows wrap
        (the address is the table's base plus index × 4 KiB, so nothing is lost)."""
        table = self._leaf_table(leaves, g)
        room = options.max_width - 4 * depth
        if natural_width(console, options, table) > room:
            table = self._leaf_table(leaves, g, with_address=False)
        return table

    def _node(self, table: TableView, g: Glyphs, depth: int, console: Console,
              options: ConsoleOptions) -> Tree:
        """A tree node for `table` (depth 0 is the root), with its subtree attached."""
        label: RenderableType = self._table_label(table, g)
        small = [leaf for leaf in table.leaves if leaf.level == "PTE"]
        if small:
            label = Group(label, self._fitting_leaf_table(small, g, depth, console, options))
        node = Tree(label, guide_style="dim")
        # Tables and huge leaves in entry order, so the tree reads in address order.
        items: list[tuple[int, TableView | PteView]] = [(c.index, c) for c in table.children]
        items += [(leaf.index, leaf) for leaf in table.leaves if leaf.level != "PTE"]
        for _, item in sorted(items, key=lambda pair: pair[0]):
            if isinstance(item, TableView):
                node.children.append(self._node(item, g, depth + 1, console, options))
            else:
                node.add(self._huge_label(item, g))
        return node

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        g = glyphs(options)
        snap = self.snapshot
        title = Text.assemble(("page table of ", "header"), (snap.process, "header"),
                              f"  ({snap.levels} levels)")
        # The root table is the tree's root, so nested leaves lose as little width as possible.
        tree = self._node(snap.root, g, 0, console, options)
        yield from trimmed(console, options, [title, tree, Text(LEGEND, style="dim")])


if __name__ == "__main__":
    # python -m faultlang.render.pagetable [--full] : draw the sample table.
    import sys

    from faultlang.render._samples import sample_pagetable
    from faultlang.render.console import make_console

    make_console().print(PageTableView(sample_pagetable(), full="--full" in sys.argv))
