"""ReplSession: everything the REPL does, as a pure object (no terminal, no printing).

`execute(text)` takes what the user submitted (statements, possibly several lines, or
one `:command`) and returns a CommandResult: the rich renderables to show, or the error
text (with a caret under what was typed). The prompt, completion and toolbar only read
from the session; app.py prints what it returns.

Statement lines are numbered across the session, as `:save` will write them, so
"line 7" in an echo or an error is line 7 of the saved file. After each statement the
state is recorded in a Timeline (:undo, :forward, :diff), which also lets an error or
a Ctrl-C part-way through a statement put the machine back as it was before it.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from faultlang.errors import FaultlangError
from faultlang.lang import ast
from faultlang.repl._input import join_continuations, sigint_deferred
from faultlang.repl._timeline import Timeline
from faultlang.repl.commands import COMMANDS, CommandError, CommandRegistry
from faultlang.repl.toolbar import ToolbarStatus

if TYPE_CHECKING:
    from rich.console import RenderableType

    from faultlang.runtime.runner import Runner

__all__ = ["CommandResult", "ReplOptions", "ReplSession", "SessionNames", "join_continuations"]

HISTORY_LIMIT = 200


@dataclass
class ReplOptions:
    trace: bool = False           # the whole call tree after every fault
    keys: str = "emacs"           # or "vi"
    max_steps: Optional[int] = None   # page operations a statement may take (None: default)


@dataclass(frozen=True)
class CommandResult:
    """What one input produced. `output` is shown first, then `error` (already rendered:
    file:line:col, the typed line, a caret, the hint)."""

    output: tuple[Any, ...] = ()      # rich renderables
    error: Optional[str] = None
    quit: bool = False
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted

    def renderables(self) -> list[RenderableType]:
        from rich.text import Text

        out: list[RenderableType] = list(self.output)
        if self.error:
            head, _, rest = self.error.partition("\n")
            out.append(Text.assemble((head, "expect.fail"), "\n" + rest if rest else ""))
        return out

    def text(self, width: int = 100) -> str:
        """Plain text, no colour, trailing spaces removed (for tests and transcripts)."""
        from faultlang.render.console import make_console

        buffer = StringIO()
        console = make_console(file=buffer, width=width, color=False)
        for renderable in self.renderables():
            console.print(renderable)
        return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


@dataclass(frozen=True)
class SessionNames:
    """Names the session knows, for completion."""

    mappings: tuple[tuple[str, str], ...] = ()      # (name, "anon 64K")
    processes: tuple[str, ...] = ("main",)          # alive ones
    files: tuple[str, ...] = ()
    current: str = "main"


def message(text: str, style: str = "") -> CommandResult:
    from rich.text import Text

    return CommandResult((Text(text, style=style),))


def failure(message: str, hint: str = "") -> CommandResult:
    return CommandResult(error=CommandError(message, hint, source_name="<repl>").render())


@dataclass(eq=False)
class ReplSession:
    """One REPL session: a machine, the statements run on it and their history."""

    cwd: Path = field(default_factory=Path.cwd)
    options: ReplOptions = field(default_factory=ReplOptions)
    history_limit: int = HISTORY_LIMIT
    commands: CommandRegistry = COMMANDS

    def __post_init__(self) -> None:
        self.runner: Optional[Runner] = None
        self.statements: tuple[ast.Statement, ...] = ()
        self.timeline = Timeline(self._new_runner, self.history_limit)
        self.timeline.start((None, ()))

    # --- input ------------------------------------------------------------------------

    def execute(self, text: str) -> CommandResult:
        """Run one submitted input: blank, a `:command` line, or statements."""
        stripped = text.strip()
        if not stripped:
            return CommandResult()
        if stripped.startswith(":"):
            if "\n" in stripped:
                return failure("a command takes one line",
                               "submit statements and commands separately")
            try:
                command, args = self.commands.parse(stripped)
                return command.handler(self, args)
            except FaultlangError as err:
                return CommandResult(error=err.render())
        return self.run_text(text)

    def needs_more(self, text: str) -> bool:
        """True when the input stops inside a statement, so Enter should start a new line."""
        if not text.strip() or text.lstrip().startswith(":"):
            return False
        from faultlang.lang.grammar import is_incomplete

        return is_incomplete(join_continuations(text))

    def run_text(self, text: str) -> CommandResult:
        """Parse typed statements (numbered from the session's next line) and run them."""
        from faultlang.lang.parse import parse_statements

        source = "\n" * len(self.statements) + join_continuations(text)
        try:
            statements = parse_statements(source, "<repl>")
        except FaultlangError as err:
            return CommandResult(error=err.render())
        return self.run_statements(statements, "<repl>", source)

    def run_statements(self, statements: Sequence[ast.Statement], source_name: str,
                       source_text: str, header: bool = False) -> CommandResult:
        """Check the statements against the session, then run them one by one. An error
        or Ctrl-C stops the run; the statement it hit is undone, earlier ones stay."""
        from faultlang.lang.checker import check_all

        statements = tuple(statements)
        if not statements:
            return CommandResult()
        scenario = ast.Scenario(self.statements + statements, source_name=source_name,
                                source_text=source_text)
        errors = check_all(scenario)
        if errors:
            return CommandResult(error=errors[0].render())
        header = header or len(statements) > 1
        shown: list[Any] = []
        for k, stmt in enumerate(statements):
            try:
                shown.append(self._run_one(stmt, header))
            except FaultlangError as err:
                error = err.located(source_name, source_text).render()
                left = len(statements) - k - 1
                if left:
                    plural = "s" if left > 1 else ""
                    error += f"\n  the {left} statement{plural} after it did not run"
                return CommandResult(tuple(shown), error=error)
            except KeyboardInterrupt:
                return CommandResult(tuple(shown) + (self._interrupted(stmt),),
                                     interrupted=True)
        return CommandResult(tuple(shown))

    def _interrupted(self, stmt: ast.Statement) -> RenderableType:
        from rich.text import Text

        if self.statements and self.statements[-1] is stmt:
            what = "ran, but its output was cut short"
        else:
            what = "stopped part-way and was undone: the machine is as it was before it"
        return Text(f"interrupted: line {stmt.span.line} {what}", style="expect.fail")

    # --- one statement ------------------------------------------------------------------

    def ensure_runner(self) -> Runner:
        if self.runner is None:
            self.runner = self._new_runner()
        return self.runner

    def _run_one(self, stmt: ast.Statement, header: bool) -> RenderableType:
        from faultlang.render.report import statement_steps
        from faultlang.repl._views import PteChange, statement_echo

        runner = self.ensure_runner()
        probe = self._probe(stmt)
        enabled = gc.isenabled()
        gc.disable()    # as run_scenario: many small long-lived objects, no cycles to find
        try:
            try:
                began = time.perf_counter()
                record = runner.execute(stmt)
            except (FaultlangError, KeyboardInterrupt):
                self._restore(self.timeline.cursor)
                raise
            self.statements += (stmt,)
            with sigint_deferred(reraise=True):
                self.timeline.push((runner, self.statements), record.text, stmt,
                                   time.perf_counter() - began)
        finally:
            if enabled:
                gc.enable()
        machine = runner.machine
        steps = statement_steps(machine.steps, record) if machine is not None else ()
        change = None
        if probe is not None and len(steps) == 1 and steps[0].frames:
            process, address, target, before = probe
            change = PteChange(process, address, steps[0].target, before,
                               self._leaf(process, target, address))
        return statement_echo(record, steps, trace=self.options.trace, pte=change,
                              header=header)

    def _probe(self, stmt: ast.Statement) -> Optional[tuple[str, int, ast.Target, Any]]:
        """For an access to exactly one page: (process, address, target, its PTE now)."""
        process, inner = (stmt.process, stmt.statement) if isinstance(stmt, ast.As) \
            else (None, stmt)
        if not isinstance(inner, ast.Access) or self.runner is None:
            return None
        machine = self.runner.ensure_machine()
        try:
            addresses = machine.addresses(inner.target)
        except FaultlangError:
            return None
        name = process or machine.current
        if len(addresses) != 1 or name not in machine.processes:
            return None
        return name, addresses[0], inner.target, self._leaf(name, inner.target, addresses[0])

    def _leaf(self, process: str, target: ast.Target, address: int) -> Any:
        from faultlang.repl._views import leaf_at

        assert self.runner is not None
        snapshot = self.runner.show(ast.Show(view="pagetable", arg=target), process)
        return leaf_at(snapshot.pagetable, address)

    # --- time travel ------------------------------------------------------------------------

    def _restore(self, index: int) -> None:
        # A second Ctrl-C must not stop the restore half-way: that would leave a machine
        # that matches no statement list.
        with sigint_deferred(reraise=False):
            self.runner, self.statements = self.timeline.state(index)
            self.timeline.cursor = index

    def _travel_target(self, delta: int) -> int:
        """The entry `delta` changes away: `show` and `expect` lines change nothing, so
        they go along with the change before them rather than counting as a step."""
        timeline, index = self.timeline, self.timeline.cursor
        last = len(timeline) - 1
        for _ in range(abs(delta)):
            if delta < 0:
                change = index
                while change > 0 and not _changes(timeline.statement_at(change)):
                    change -= 1
                if change == 0:
                    break
                index = change - 1
            else:
                change = index + 1
                while change <= last and not _changes(timeline.statement_at(change)):
                    change += 1
                index = min(change, last)
                while index < last and not _changes(timeline.statement_at(index + 1)):
                    index += 1
        return index

    def travel(self, delta: int) -> CommandResult:
        """:undo (delta < 0) and :forward (delta > 0)."""
        timeline = self.timeline
        target = self._travel_target(delta)
        if target == timeline.cursor:
            return failure("nothing to undo" if delta < 0 else "nothing to redo",
                           "" if delta < 0 else ":forward only redoes what :undo undid")
        moved = range(target + 1, timeline.cursor + 1) if delta < 0 else \
            range(timeline.cursor + 1, target + 1)
        labels = [timeline.label_at(i) for i in moved]
        self._restore(target)
        from rich.text import Text

        verb = "undid" if delta < 0 else "redid"
        lines = [Text(f"{verb}: {label}", style="dim") for label in labels]
        now = timeline.label_at(target)
        lines.append(Text(f"now after line {len(self.statements)}: {now}" if now
                          else "now at the start of the session"))
        return CommandResult(tuple(lines))

    def reset(self) -> CommandResult:
        self.runner, self.statements = None, ()
        self.timeline.start((None, ()))
        return message("a fresh machine (Linux 6.18 defaults); nothing has run")

    # --- meta-commands (the larger ones are in _meta) -------------------------------------

    def resolve(self, name: str) -> Path:
        path = Path(name).expanduser()
        return path if path.is_absolute() else self.cwd / path

    def set_trace(self, state: Optional[str]) -> CommandResult:
        if state is not None:
            self.options.trace = state == "on"
        return message(f"trace is {'on' if self.options.trace else 'off'}")

    def set_keys(self, mode: Optional[str]) -> CommandResult:
        if mode is not None:
            self.options.keys = mode
        return message(f"{self.options.keys} key bindings")

    # --- what the prompt reads -------------------------------------------------------------

    def status(self) -> ToolbarStatus:
        runner = self.runner
        common = dict(line=len(self.statements) + 1, history=self.timeline.position(),
                      trace=self.options.trace, keys=self.options.keys)
        if runner is None or runner.machine is None:
            from faultlang.lang.settings import DEFAULTS

            ram, swap = (runner.settings.ram, runner.settings.swap) if runner else \
                (int(DEFAULTS["ram"]), int(DEFAULTS["swap"]))
            kernel = runner.settings.kernel if runner else str(DEFAULTS["kernel"])
            # Slot 0 of a swap area is its header, as swapon counts (kernel/mm/swapfile.py).
            slots = max(2, swap >> 12) - 1 if swap else 0
            return ToolbarStatus(free=ram >> 12, swap_total=slots, kernel=kernel,
                                 **common)  # type: ignore[arg-type]
        from faultlang.runtime.inspect import swap_used

        machine = runner.machine
        counters = machine.counters(machine.current)
        return ToolbarStatus(process=machine.current, minflt=counters.minflt,
                             majflt=counters.majflt, rss=counters.rss,
                             free=machine.system.phys.nr_free(),
                             swap_used=swap_used(machine.system),
                             swap_total=machine.system.swap.total() if machine.system.swap else 0,
                             kernel=runner.settings.kernel, **common)  # type: ignore[arg-type]

    def current_process(self) -> str:
        machine = self.runner.machine if self.runner is not None else None
        return machine.current if machine is not None else "main"

    def names(self) -> SessionNames:
        """Names for completion, from the session's machine (files from the statements:
        a declaration is all a file is until it is mapped)."""
        from faultlang.lang.lexical import format_size

        files = tuple(dict.fromkeys(
            inner.name for inner in (s.statement if isinstance(s, ast.As) else s
                                     for s in self.statements)
            if isinstance(inner, ast.FileDecl)))
        machine = self.runner.machine if self.runner is not None else None
        if machine is None:
            return SessionNames(files=files)
        mappings = tuple((name, f"{m.kind} {format_size(m.size)}")
                         for name, m in machine.mappings.items())
        processes = tuple(name for name, task in machine.processes.items() if task.alive)
        return SessionNames(mappings, processes, files, machine.current)

    def warm_up(self) -> None:
        """Import and build what the first statement needs (called while the user types)."""
        from faultlang.lang.grammar import build_parser

        build_parser()
        import faultlang.lang.checker  # noqa: F401
        import faultlang.repl._views  # noqa: F401
        import faultlang.runtime.runner  # noqa: F401

    def _new_runner(self) -> Runner:
        from faultlang.runtime.runner import Runner

        if self.options.max_steps is None:
            return Runner(source_name="<repl>")
        return Runner(source_name="<repl>", max_steps=self.options.max_steps)


_OBSERVING = (ast.Title, ast.Show, ast.ExpectCounter, ast.ExpectOutcome, ast.ExpectPath,
              ast.ExpectState, ast.ExpectValue)


def _changes(stmt: Optional[ast.Statement]) -> bool:
    """Whether a statement can change the machine (`show` and `expect` only look)."""
    inner = stmt.statement if isinstance(stmt, ast.As) else stmt
    return inner is not None and not isinstance(inner, _OBSERVING)
