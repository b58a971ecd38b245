"""The larger meta-commands (:help, :load, :save, :diff, :explain, :why), as functions
of a ReplSession. The handlers in commands.py call these; the session itself keeps only
what changes its state (running statements, :undo, :forward, :reset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from faultlang.errors import FaultlangError, ScenarioSyntaxError
from faultlang.lang import ast
from faultlang.repl.commands import CommandError, Token
from faultlang.repl.session import CommandResult, failure, message

if TYPE_CHECKING:
    from faultlang.repl.session import ReplSession
    from faultlang.runtime.runner import Runner
    from faultlang.snapshots import PageTableSnapshot

__all__ = ["diff", "explain", "help", "load", "save", "why"]


def help(session: ReplSession, topic: Optional[str]) -> CommandResult:
    from faultlang.lang.lexical import suggestion
    from faultlang.repl._help import overview, topic_help

    if topic is None:
        return CommandResult((overview(session.commands),))
    shown = topic_help(session.commands, topic)
    if shown is None:
        from faultlang.repl.commands import help_topics

        return failure(f"no help on '{topic}'",
                       suggestion(topic, help_topics(), ":help lists the commands"))
    return CommandResult((shown,))


def load(session: ReplSession, name: str) -> CommandResult:
    from rich.text import Text

    from faultlang.lang.parse import parse_path

    path = session.resolve(name)
    if not path.is_file():
        return failure(f"cannot read '{name}': no such file",
                       "scenarios end in .fault or .yaml; paths are relative to "
                       f"{session.cwd}")
    try:
        scenario = parse_path(path)
    except FaultlangError as err:
        err.source_name = name              # as typed: the full path is long and known
        return CommandResult(error=err.render())
    result = session.run_statements(scenario.statements, name, scenario.source_text,
                                    header=True)
    heading = Text(f"loading {name}: {len(scenario.statements)} statements",
                   style="header")
    return CommandResult((heading,) + result.output, result.error,
                         interrupted=result.interrupted)


def save(session: ReplSession, name: str) -> CommandResult:
    from faultlang.lang.printer import format_statement

    if not session.statements:
        return failure("nothing to save: no statement has run yet")
    path = session.resolve(name)
    if path.suffix in (".yaml", ".yml"):
        return failure("the session is saved as .fault text",
                       f"name the file {path.stem}.fault")
    text = "".join(format_statement(stmt) + "\n" for stmt in session.statements)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        return failure(f"cannot write '{name}': {err.strerror or err}",
                       "check the folder exists and is writable")
    count = len(session.statements)
    return message(f"saved {count} statement{'s' if count != 1 else ''} to {name} "
                    f"(replay it with: faultlang run {name})")


def _pagetables(runner: Optional[Runner]) -> dict[str, PageTableSnapshot]:
    if runner is None or runner.machine is None:
        return {}
    return {name: runner.show(ast.Show(view="pagetable"), name).pagetable  # type: ignore[misc]
            for name in runner.machine.processes}


def diff(session: ReplSession, line: Optional[int]) -> CommandResult:
    from faultlang.render.counters import CountersView
    from faultlang.repl._views import PteDiffView, pte_changes
    from faultlang.snapshots import Snapshot

    count = len(session.statements)
    if count == 0 or session.runner is None:
        return failure("nothing has run yet")
    line = count if line is None else line
    if not 1 <= line <= count:
        return failure(f"there is no line {line}", f"lines run so far: 1 to {count}")
    index = session.timeline.find(line - 1)
    if index is None:
        return failure(f"line {line} is older than the history kept",
                       f"the REPL keeps the last {session.history_limit} states")
    before = session.timeline.state(index)[0]
    old, new = _pagetables(before), _pagetables(session.runner)
    changes = [c for name in dict.fromkeys([*old, *new])
               for c in pte_changes(name, old.get(name), new.get(name))]
    since = f"line {line} ran" if line == count else f"before line {line}"
    process = session.runner.ensure_machine().current
    after_counters = session.runner.show(ast.Show(view="counters"), process)
    before_counters = Snapshot(view="counters", process=process)
    if before is not None and before.machine is not None:
        before_counters = before.show(ast.Show(view="counters"), process)
    return CommandResult((PteDiffView(changes, since),
                          CountersView(after_counters.processes, after_counters.vmstat,
                                       before=before_counters)))


def explain(session: ReplSession, function: str) -> CommandResult:
    from faultlang.lang.lexical import suggestion
    from faultlang.repl._explain import ExplainView, explain, kernel_functions

    steps = session.runner.machine.steps if session.runner and session.runner.machine else []
    found = explain(function, steps)
    if found is None:
        return failure(f"'{function}' is not a kernel function faultlang mirrors",
                       suggestion(function, kernel_functions(),
                                  "press Tab after :explain to list them"))
    return CommandResult((ExplainView(found),))


def why(session: ReplSession, target: Token, line: str) -> CommandResult:
    from faultlang.lang.parse import parse_statement
    from faultlang.repl._views import DecisionsView

    # Parse as the target of `read`, padded so columns match the typed line.
    source = "read".ljust(target.column - 1) + target.text
    try:
        stmt = parse_statement(source)
        if not isinstance(stmt, ast.Access):
            raise CommandError("expected a target", "write e.g. :why heap[3]")
        if session.runner is None or session.runner.machine is None:
            return failure("nothing has run yet")
        machine = session.runner.machine
        address = machine.addresses(stmt.target)[0]
    except FaultlangError as err:
        err.source_name, err.source_text = "<repl>", line
        if isinstance(err, ScenarioSyntaxError):
            err.hint = "write an address or a target, e.g. :why heap[3] or :why 0x7f0000003000"
        return CommandResult(error=err.render())
    page = address & ~0xFFF
    touched = [s for s in machine.steps if s.address & ~0xFFF == page]
    faults = [s for s in touched if s.frames]
    if faults:
        return CommandResult((DecisionsView(faults[-1]),))
    if touched:
        return message(f"no fault at {target.text} yet: step {touched[-1].n} found it "
                        "mapped already")
    return message(f"nothing has touched {target.text} yet", "dim")
