"""The REPL's own renderables: the echo of a statement, a PTE's before/after, the page
table changes of :diff and the decisions of :why.

Everything else is drawn by faultlang.render (LogView, CallPathView, CountersView,
snapshot_view, expect_line); these views add only what a scenario run never prints.
Like the render package, they read snapshots (plain data), never the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from faultlang.render.callpath import CallPathView, describe_error_code
from faultlang.render.expects import expect_line
from faultlang.render.log import LogView, group_steps, outcome_text
from faultlang.render.pagetable import flag_letters
from faultlang.render.report import snapshot_view
from faultlang.render.theme import state_style
from faultlang.snapshots import PageTableSnapshot, PteView, StatementRecord, StepRecord, TableView

__all__ = ["DecisionsView", "PteChange", "PteChangeView", "PteDiffView", "leaf_at",
           "leaves", "leaf_text", "path_line", "statement_echo"]

INDENT = 2
_LEAF_SIZE = {"PTE": 1 << 12, "PMD": 1 << 21, "PUD": 1 << 30}


def leaves(snapshot: Optional[PageTableSnapshot]) -> dict[int, PteView]:
    """Every leaf of a page-table snapshot, by the virtual address it maps."""
    out: dict[int, PteView] = {}
    if snapshot is None:
        return out

    def walk(table: TableView) -> None:
        for leaf in table.leaves:
            out[leaf.address] = leaf
        for child in table.children:
            walk(child)

    walk(snapshot.root)
    return out


def leaf_at(snapshot: Optional[PageTableSnapshot], address: int) -> Optional[PteView]:
    """The leaf (PTE, or a huge PMD) that maps `address`, or None."""
    for leaf in leaves(snapshot).values():
        if leaf.address <= address < leaf.address + _LEAF_SIZE.get(leaf.level, 1 << 12):
            return leaf
    return None


def leaf_text(leaf: Optional[PteView]) -> Text:
    """"none", or "resident  pfn 0x41  PWUAD-  value 3" styled by state."""
    if leaf is None:
        return Text("none", style="pte.none")
    text = Text(leaf.state, style=state_style(leaf.state))
    if leaf.pfn is not None:
        text.append(f"  pfn {leaf.pfn:#x}")
    text.append(f"  {flag_letters(leaf.flags)}")
    if leaf.level != "PTE":
        text.append(f"  ({leaf.level})")
    if leaf.value is not None:
        text.append(f"  value {leaf.value}")
    return text


def _same(a: Optional[PteView], b: Optional[PteView]) -> bool:
    if a is None or b is None:
        return a is b
    return (a.raw, a.state, a.value, a.level) == (b.raw, b.state, b.value, b.level)


@dataclass(frozen=True)
class PteChange:
    """One leaf entry before and after something happened."""

    process: str
    address: int
    label: str
    before: Optional[PteView]
    after: Optional[PteView]

    @property
    def changed(self) -> bool:
        return not _same(self.before, self.after)


class PteChangeView:
    """The PTE of the one page an access touched, before and after it."""

    def __init__(self, change: PteChange) -> None:
        self.change = change

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        c = self.change
        level = c.after.level if c.after is not None else (
            c.before.level if c.before is not None else "PTE")
        title = Text(f"{level} of ", style="header")
        if c.label and c.label != hex(c.address):
            title.append(f"{c.label}  ", style="header")
        title.append(f"{c.address:#x}", style="addr")
        if c.process != "main":
            title.append(f"  (process {c.process})", style="dim")
        if not c.changed:
            title.append("  unchanged: ", style="dim")
            title.append_text(leaf_text(c.after))
            yield title
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_row(Text("before", style="dim"), leaf_text(c.before))
        grid.add_row(Text("after", style="dim"), leaf_text(c.after))
        yield title
        yield Padding(grid, (0, 0, 0, INDENT), expand=False)


def path_line(step: StepRecord) -> Text:
    """The chain of calls from the entry point down to the function that decided:
    "path: exc_page_fault → … → do_anonymous_page" (helpers that ran beside it left out)."""
    frames = step.frames
    index = max((i for i, f in enumerate(frames) if f.symbol == step.handler), default=-1)
    chain = []
    if index >= 0:
        depth = frames[index].depth + 1
        for frame in reversed(frames[:index + 1]):
            if frame.depth < depth:
                chain.append(frame.symbol)
                depth = frame.depth
        chain.reverse()
    else:
        chain = [f.symbol for f in frames if f.depth <= 1]
    text = Text("path: ", style="dim")
    for k, symbol in enumerate(chain):
        if k:
            text.append(" → ", style="dim")
        text.append(symbol, style="kfunc.name")
    return text


def statement_echo(record: StatementRecord, steps: Sequence[StepRecord], *, trace: bool,
                   pte: Optional[PteChange] = None, header: bool = False) -> RenderableType:
    """What the REPL prints for one statement: its steps (compact log), the call path
    (one line, or the whole tree with :trace on), the PTE it changed, notes, and what a
    `show` or `expect` showed. With `header`, a "line N: text" heading over it all."""
    if record.expect is not None:
        return expect_line(record.expect)
    body: list[RenderableType] = []
    if steps:
        body.append(LogView(steps, compact=True))
        faulted = [group[0] for group in group_steps(steps) if group[0].frames]
        if trace:
            body += [CallPathView(step) for step in faulted]
        elif len(steps) == 1 and faulted:
            body.append(path_line(faulted[0]))
    if pte is not None:
        body.append(PteChangeView(pte))
    body += [Text(f"note: {note}", style="dim") for note in record.notes]
    if record.snapshot is not None:
        body.append(snapshot_view(record.snapshot))
    if not header:
        return Group(*body)
    heading = Text.assemble((f"line {record.line}: ", "dim"), (record.text, "header"))
    return Group(heading, Padding(Group(*body), (0, 0, 0, INDENT), expand=False)) \
        if body else heading


class PteDiffView:
    """Page-table entries that differ between two states, one row each."""

    def __init__(self, changes: Sequence[PteChange], since: str) -> None:
        self.changes = tuple(changes)
        self.since = since

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.changes:
            yield Text(f"no page-table entry changed since {self.since}", style="dim")
            return
        many = len({c.process for c in self.changes}) > 1
        yield Text(f"page-table entries changed since {self.since}", style="header")
        table = Table.grid(padding=(0, 2))
        for change in self.changes:
            row = [Text(change.process)] if many else []
            where = Text(change.label) if change.label else Text(f"{change.address:#x}",
                                                                   style="addr")
            row += [where, leaf_text(change.before), Text("→", style="dim"),
                    leaf_text(change.after)]
            table.add_row(*row)
        yield Padding(table, (0, 0, 0, INDENT), expand=False)


def pte_changes(process: str, before: Optional[PageTableSnapshot],
                after: Optional[PageTableSnapshot]) -> Iterator[PteChange]:
    """The leaves that appeared, went away or changed, in address order."""
    old, new = leaves(before), leaves(after)
    for address in sorted(set(old) | set(new)):
        change = PteChange(process, address, (new.get(address) or old[address]).mapping,
                           old.get(address), new.get(address))
        if change.changed:
            yield change


class DecisionsView:
    """:why — the branch each kernel function took for one fault, in call order (only
    the functions that recorded a reason; `show path N` draws the whole tree)."""

    def __init__(self, step: StepRecord) -> None:
        self.step = step

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        step = self.step
        title = Text.assemble((f"step {step.n}: ", "header"),
                              f"{step.op} {step.target or hex(step.address)}  ")
        title.append_text(outcome_text(step))
        if step.process != "main":
            title.append(f"  (process {step.process})", style="dim")
        if step.handler:
            title.append("  decided by ", style="dim")
            title.append(step.handler, style="kfunc.name")
        yield title
        if step.error_code is not None:
            yield Text(f"  x86 error code {describe_error_code(step.error_code)}", style="dim")
        table = Table.grid(padding=(0, 2))
        for frame in step.frames:
            if frame.why:
                table.add_row(Text(frame.symbol, style="kfunc.name"), Text(frame.why))
        if table.row_count:
            yield Padding(table, (0, 0, 0, INDENT), expand=False)
        else:
            yield Text("  no function recorded a reason", style="dim")
