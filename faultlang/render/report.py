"""RunReportView: the whole text output of `faultlang run`, in statement order.

    header
    line N: statement text
      its steps (compact log), notes, what a `show` showed
    line M: expect ...  ok | FAIL  expected X, actual Y
    final counters, the expects summary, the error if the run stopped
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Iterator, Sequence

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.text import Text

from faultlang.render._trim import trimmed
from faultlang.render.callpath import CallPathView
from faultlang.render.counters import CountersView
from faultlang.render.expects import ExpectsView, expect_line
from faultlang.render.header import HeaderView
from faultlang.render.log import LogView, group_steps
from faultlang.render.memory import MemoryView
from faultlang.render.pagetable import PageTableView
from faultlang.render.settings import SettingsView
from faultlang.render.vmas import VmasView
from faultlang.snapshots import RunReport, Snapshot, StatementRecord, StepRecord

__all__ = ["RunReportView", "snapshot_view", "statement_steps"]

INDENT = 2


def snapshot_view(snapshot: Snapshot) -> RenderableType:
    """The view for what a `show` statement looked at (dispatch on snapshot.view)."""
    view = snapshot.view
    if view == "pagetable":
        if snapshot.pagetable is None:
            return Text(f"{snapshot.process} has no page table yet", style="dim")
        return PageTableView(snapshot.pagetable)
    if view == "path":
        if snapshot.step is None:
            return Text("no fault yet", style="dim")
        return CallPathView(snapshot.step)
    if view == "counters":
        return CountersView(snapshot.processes, snapshot.vmstat)
    if view == "vmas":
        return VmasView(snapshot.vmas, snapshot.process)
    if view == "memory":
        if snapshot.memory is None:
            return Text("no memory information", style="dim")
        return MemoryView(snapshot.memory)
    if view == "settings":
        return SettingsView(snapshot.settings)
    if view == "log":
        return LogView(snapshot.log, compact=False, show_header=True)
    # pagecache, swap, lru, uffd, ...: the runtime preformats these.
    return Text(snapshot.text) if snapshot.text else Text(f"nothing to show for {view}",
                                                          style="dim")


def statement_steps(steps: Sequence[StepRecord],
                    statement: StatementRecord) -> Sequence[StepRecord]:
    """The steps with first_step <= n < last_step; `steps` is sorted by n."""
    if statement.last_step <= statement.first_step:
        return ()
    numbers = [step.n for step in steps]
    lo = bisect_left(numbers, statement.first_step)
    hi = bisect_left(numbers, statement.last_step)
    return steps[lo:hi]


class RunReportView:
    """Everything `faultlang run` prints for one scenario.

    Args:
        report: the run.
        verbose: list every step instead of folding runs, and draw the call path
            once for each run of identical faulting steps.
    """

    def __init__(self, report: RunReport, verbose: bool = False) -> None:
        self.report = report
        self.verbose = verbose
        # One process column rule for the whole run, so the log lines align.
        self._many_processes = len({step.process for step in report.steps}) > 1

    def _body(self, statement: StatementRecord,
              steps: Sequence[StepRecord]) -> list[RenderableType]:
        body: list[RenderableType] = []
        if steps:
            body.append(LogView(steps, compact=not self.verbose,
                                show_process=self._many_processes))
            if self.verbose:
                body += [CallPathView(group[0]) for group in group_steps(steps)
                         if group[0].frames]
        body += [Text(f"note: {note}", style="dim") for note in statement.notes]
        if statement.snapshot is not None:
            body.append(snapshot_view(statement.snapshot))
        return body

    def _statements(self) -> Iterator[RenderableType]:
        report = self.report
        for statement in report.statements:
            if statement.expect is not None:
                yield expect_line(statement.expect)
                continue
            yield Text.assemble((f"line {statement.line}: ", "dim"), (statement.text, "header"))
            body = self._body(statement, statement_steps(report.steps, statement))
            if body:
                yield Padding(Group(*body), (0, 0, 0, INDENT), expand=False)
            if statement.snapshot is not None:
                yield Text("")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        report = self.report
        parts: list[RenderableType] = [HeaderView(report), Text("")]
        parts += self._statements()
        parts += [Text(""), Text("final counters", style="header"),
                  Padding(CountersView(report.processes, report.vmstat), (0, 0, 0, INDENT),
                          expand=False),
                  Text(""), ExpectsView(report.expects)]
        if report.error:
            parts.append(Text.assemble(("error: ", "expect.fail"), report.error))
        yield from trimmed(console, options, parts)
