"""The one table look shared by the counters, VMA, memory and settings views."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from rich import box
from rich.table import Table
from rich.text import Text

Cell = Union[str, Text]

# SIMPLE_HEAD drawn with "-": rich would otherwise swap in its boxed ASCII style
# ("|" between every column) on consoles that cannot print "─".
ASCII_SIMPLE_HEAD = box.Box(
    "    \n"
    "    \n"
    "    \n"
    "    \n"
    " -- \n"
    "    \n"
    "    \n"
    "    \n",
    ascii=True,
)


def plain_table(*headers: str, title: Optional[str] = None, right: tuple[str, ...] = (),
                keep: tuple[str, ...] = (), ascii_only: bool = False) -> Table:
    """A borderless table with an underlined header.

    `right` names numeric (right-aligned) columns; `keep` names columns that must
    never wrap (addresses), so the others give way first at small widths.
    """
    table = Table(box=ASCII_SIMPLE_HEAD if ascii_only else box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, header_style="header", title=title, title_justify="left",
                  title_style="header", padding=(0, 1), collapse_padding=True)
    for header in headers:
        table.add_column(header, justify="right" if header in right else "left",
                         no_wrap=header in keep)
    return table


def add_rows(table: Table, rows: Sequence[Sequence[Cell]]) -> Table:
    """Add rows, and let no column shrink below its longest word, so narrow
    consoles wrap between words ("VM_ACCOUNT anon_vma") and never inside one."""
    for index, column in enumerate(table.columns):
        words = [len(word) for row in rows for word in str(row[index]).split()]
        if words:
            column.min_width = max(column.min_width or 0, *words)
    for row in rows:
        table.add_row(*row)
    return table
