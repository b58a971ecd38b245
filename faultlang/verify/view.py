"""VerifyView: the `faultlang verify` text, drawn from a Verification (plain data only).

A counter cell shows the simulated value when the real kernel agreed, `S ≠ R` when
it did not (fault.sigsegv), and `S ~ A..B` when the runs disagreed among themselves
(fault.major: noisy, not a verdict). Nothing here imports the engine.
"""

from __future__ import annotations

from typing import Iterable, Optional

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from faultlang.render._tables import add_rows, plain_table
from faultlang.verify.result import (
    AGREE, DIFFER, NA, NOISY, SKIPPED, Cell, StatementResult, Verification,
)

__all__ = ["VerifyView"]

SHOWN = ("minflt", "majflt", "pgfault", "page_faults")
OTHER = ("perf_minor", "perf_major", "pgmajfault")
DETAIL = ("outcome", "state", "value", "expect", "result", "cached", "pool")
_VERDICT = {AGREE: ("ok", "expect.ok"), DIFFER: ("DIFF", "fault.sigsegv"),
            NOISY: ("noisy", "fault.major"), SKIPPED: ("skipped", "fault.none"),
            NA: ("—", "fault.none")}
LEGEND = ("cells: the simulated value when the real kernel agreed; S ≠ R where it did not; "
          "S ~ R where the real runs disagreed among themselves (noisy)")


def cell_text(cell: Optional[Cell]) -> Text:
    if cell is None:
        return Text("")
    sim = "" if cell.sim is None else str(cell.sim)
    if cell.status == AGREE:
        return Text(sim)
    if cell.status == DIFFER:
        return Text(f"{sim} ≠ {cell.real_text}", style="fault.sigsegv")
    if cell.status == NOISY:
        return Text(f"{sim} ~ {cell.real_text}", style="fault.major")
    return Text(f"{sim} (?)" if sim else "?", style="fault.none")


def _detail(result: StatementResult) -> Text:
    if result.status == SKIPPED:
        return Text(result.reason, style="fault.none")
    text = Text()
    for name in DETAIL:
        cell = result.cell(name)
        if cell is None or (name == "result" and cell.status == AGREE and cell.sim == "ok"):
            continue
        if cell.status != NA or cell.sim is not None:
            text.append("  " if text else "")
            text.append_text(cell_text(cell))
    for name in OTHER:
        cell = result.cell(name)
        if cell is not None and cell.status in (DIFFER, NOISY):
            text.append(f"  {name} ", style=cell_text(cell).style)
            text.append_text(cell_text(cell))
    if result.reason:
        text.append(("  " if text else "") + result.reason, style="fault.none")
    return text


class VerifyView:
    """Header, settings, one row per statement, process totals, notes and a summary."""

    def __init__(self, verification: Verification):
        self.v = verification

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        v = self.v
        yield Text.assemble(("faultlang verify", "header"), f" · {v.scenario}")
        yield Text(f"real kernel  Linux {v.kernel} · simulated {v.simulated} · "
                   f"{v.runs} run{'s' if v.runs != 1 else ''}")
        if v.title:
            yield Text(f"title        {v.title}")
        yield Text("")
        yield self._settings()
        yield Text("")
        yield self._statements()
        yield Text(LEGEND, style="fault.none")
        yield Text("")
        yield self._totals()
        for note in v.notes:
            yield Text(f"note: {note}", style="fault.major")
        yield self._summary()

    def _settings(self) -> Table:
        table = plain_table("setting", "scenario", "machine", title="settings")
        rows = []
        for row in self.v.settings:
            style = "fault.sigsegv" if row.differs and row.relevant else (
                "fault.major" if row.differs else "")
            rows.append((row.key, row.scenario, Text(row.machine, style=style)))
        return add_rows(table, rows)

    def _statements(self) -> Table:
        several = len({s.process for s in self.v.statements}) > 1
        # The verdict comes second so that narrow consoles squeeze other columns, not it.
        headers = ("line", "verdict", *(("process",) if several else ()), "statement", *SHOWN,
                   "outcome / state")
        table = plain_table(*headers, right=("line", *SHOWN), keep=("line", "verdict"))
        for column in table.columns:
            if column.header in ("statement", "outcome / state"):
                column.overflow = "fold"      # these give way on narrow consoles
        for s in self.v.statements:
            verdict, style = _VERDICT[s.status]
            counters = [cell_text(s.cell(name)) for name in SHOWN]
            table.add_row(str(s.line), Text(verdict, style=style),
                          *((s.process,) if several else ()), s.text, *counters, _detail(s))
        return table

    def _totals(self) -> Table:
        table = plain_table("process", "counter", "simulated", "real", "verdict",
                            title="totals (sums of the measured statements)", right=("simulated",))
        rows = []
        for name, cells in self.v.totals:
            for cell in cells:
                verdict, style = _VERDICT[cell.status]
                rows.append((name, cell.name, str(cell.sim), cell.real_text,
                             Text(verdict, style=style)))
        return add_rows(table, rows)

    def _summary(self) -> Text:
        v = self.v
        parts: Iterable[tuple[str, str]] = (
            (f"{v.count(AGREE)} agree", "expect.ok"),
            (f"{v.count(DIFFER)} differ", "fault.sigsegv" if v.count(DIFFER) else ""),
            (f"{v.count(NOISY)} noisy", "fault.major" if v.count(NOISY) else ""),
            (f"{v.count(SKIPPED)} skipped", ""),
            (f"{v.count(NA)} not compared", ""),
        )
        text = Text("")
        for i, (words, style) in enumerate(parts):
            text.append(", " if i else "statements: ")
            text.append(words, style=style)
        verdict = ("the real kernel agrees with the simulation" if v.ok else
                   "the real kernel and the simulation differ")
        text.append(f" — {verdict}", style="expect.ok" if v.ok else "expect.fail")
        return text
