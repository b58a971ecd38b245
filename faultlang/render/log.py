"""LogView: the event log, one line per access (or per run of identical accesses).

A range access makes one StepRecord per page, so `write buf[0..512]` is 512 records.
Compact mode folds consecutive records of the same statement that ended the same way
into one line; the full log (`show log`) prints every record.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from faultlang.render._fmt import (
    Glyphs,
    glyphs,
    hexaddr,
    number_range,
    range_label,
    values_text,
)
from faultlang.render._tables import add_rows
from faultlang.render._trim import natural_width, trimmed
from faultlang.render.theme import outcome_style
from faultlang.snapshots import StepRecord

__all__ = ["LogView", "group_steps", "outcome_text"]

StepGroup = tuple[StepRecord, ...]


def _group_key(step: StepRecord) -> tuple[object, ...]:
    return (step.line, step.process, step.op, step.outcome, step.si_code, step.handler)


def group_steps(steps: Iterable[StepRecord]) -> list[StepGroup]:
    """Split steps into runs of consecutive step numbers that share statement line,
    process, op, outcome, si_code and deciding handler."""
    groups: list[list[StepRecord]] = []
    for step in steps:
        if groups:
            prev = groups[-1][-1]
            if step.n == prev.n + 1 and _group_key(step) == _group_key(prev):
                groups[-1].append(step)
                continue
        groups.append([step])
    return [tuple(g) for g in groups]


def outcome_text(step: StepRecord, count: int = 1, g: Glyphs | None = None) -> Text:
    """"minor", "SIGSEGV SEGV_MAPERR", or "512× minor" for a run, styled by outcome."""
    label = step.outcome if not step.si_code else f"{step.outcome} {step.si_code}"
    if count > 1:
        label = f"{count}{(g.times if g else '×')} {label}"
    return Text(label, style=outcome_style(step.outcome))


class LogView:
    """The event log of some steps.

    Args:
        steps: the records to show, in step order.
        compact: fold runs of identical consecutive records into one line.
        show_header: print a column header row; without it each line starts with
            "step N" / "steps A–B" so it still reads on its own.
        show_process: print the process column; None shows it only when some step
            ran in a process other than "main".
    """

    def __init__(self, steps: Sequence[StepRecord], compact: bool = True,
                 show_header: bool = False, show_process: Optional[bool] = None) -> None:
        self.steps = tuple(steps)
        self.compact = compact
        self.show_header = show_header
        if show_process is None:
            show_process = any(step.process != "main" for step in self.steps)
        self.show_process = show_process

    def _groups(self) -> list[StepGroup]:
        if self.compact:
            return group_steps(self.steps)
        return [(step,) for step in self.steps]

    def _row(self, group: StepGroup, g: Glyphs, with_address: bool) -> list[Text]:
        first, last = group[0], group[-1]
        numbers = number_range(first.n, last.n, g)
        if not self.show_header:
            numbers = f"{'step' if len(group) == 1 else 'steps'} {numbers}"
        address = hexaddr(first.address)
        if len(group) > 1 and not first.target:
            address = f"{address}{g.dash}{hexaddr(last.address)}"
        # The handler and the extras share the last column: one is often empty,
        # and a 100-column line has no room for both as separate columns.
        detail = Text(first.handler or "", style="kfunc.name")
        extra: list[str] = []
        around = sum(step.around for step in group)
        if around:
            extra.append(f"+{around} around")
        if first.op == "read":
            values = values_text([step.value for step in group], g)
            if values:
                extra.append(f"value {values}")
        if extra:
            detail = Text("  ").join([detail, Text("  ".join(extra))] if detail else
                                     [Text("  ".join(extra))])
        target = Text(range_label([step.target for step in group], g))
        if with_address:
            where = [Text(address, style="addr"), target]
        else:
            where = [target if target.plain else Text(address, style="addr")]
        return [
            Text(numbers),
            *([Text(first.process)] if self.show_process else []),
            Text(first.op),
            *where,
            outcome_text(first, len(group), g),
            detail,
        ]

    def _table(self, g: Glyphs, with_address: bool) -> Table:
        table = Table.grid(padding=(0, 2))
        if self.show_header:
            table.show_header = True
            table.header_style = "header"
        headers = ["step", "process", "op", "address", "target", "outcome", "handler"]
        if not self.show_process:
            headers.remove("process")
        if not with_address:
            headers.remove("address")
        for header in headers:
            table.add_column(header, no_wrap=header in ("step", "address", "outcome"))
        return add_rows(table, [self._row(group, g, with_address) for group in self._groups()])

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.steps:
            yield Text("no accesses", style="dim")
            return
        g = glyphs(options)
        table = self._table(g, with_address=True)
        # Too wide: the scenario's own name for the page (heap[3]) stands in for its
        # address, which `show path` and `show pagetable` still give.
        if natural_width(console, options, table) > options.max_width:
            table = self._table(g, with_address=False)
        yield from trimmed(console, options, [table])
