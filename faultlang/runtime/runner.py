"""Run a scenario's statements on a Machine and collect a RunReport (plain data).

The Runner is also the REPL's engine: `execute(statement)` runs one statement and
returns its StatementRecord. `set` statements configure the machine until the first
statement that needs it; the machine is built then.
"""

from __future__ import annotations

import gc
from typing import Optional

from faultlang.errors import FaultlangError, NotSupportedYet, ScenarioError
from faultlang.kernel.settings import Settings
from faultlang.lang.lexical import format_size
from faultlang.lang.settings import check_setting
from faultlang.lang import ast
from faultlang.lang.printer import format_statement
from faultlang.runtime import inspect, uffd
from faultlang.runtime.expect import evaluate
from faultlang.runtime.machine import DEFAULT_MAX_STEPS, Machine
from faultlang.runtime.support import unsupported
from faultlang.snapshots import ProcessView, RunReport, Snapshot, StatementRecord

KERNEL_LABEL = "Linux {}"
_OBSERVING = (ast.Title, ast.Show, ast.ExpectCounter, ast.ExpectOutcome, ast.ExpectPath,
              ast.ExpectState, ast.ExpectValue)
_EXPECTS = (ast.ExpectCounter, ast.ExpectOutcome, ast.ExpectPath, ast.ExpectState,
            ast.ExpectValue)


class Runner:
    def __init__(self, *, record: bool = True, max_steps: int = DEFAULT_MAX_STEPS,
                 source_name: str = "<input>", source_text: str = ""):
        self.settings = Settings()
        self.record = record
        self.max_steps = max_steps
        self.machine: Optional[Machine] = None
        self.title = ""
        self.source_name = source_name
        self.source_text = source_text
        self.statements: list[StatementRecord] = []
        self.expects = []
        self.before: dict[str, int] = {}
        self.actions: list[tuple[ast.Statement, Optional[str]]] = []
        self.after: dict[str, int] = {}
        # the scenario's statements and the index of the one running (run_scenario):
        # the future that `set policy opt` needs (runtime/policies.py)
        self.script: list[ast.Statement] = []
        self.script_pos = -1

    # --- machine ------------------------------------------------------------------

    def ensure_machine(self) -> Machine:
        if self.machine is None:
            self.machine = Machine(self.settings, record=self.record, max_steps=self.max_steps)
            self.after = self.before = self.machine.counter_values()
        return self.machine

    def apply_set(self, stmt: ast.Set) -> list[str]:
        if self.machine is not None and self.machine.step:
            raise ScenarioError(f"'set {stmt.key}' comes after the first access",
                                "move every `set` before the first access", stmt.span)
        problem = check_setting(stmt.key, stmt.value)
        if problem:
            raise ScenarioError(problem[0], problem[1], stmt.span)
        value = stmt.value
        if stmt.key == "mthp" and isinstance(value, int):
            value = format_size(value)
        self.settings = self.settings.with_value(stmt.key, value)
        if self.machine is not None:
            # `set` may come anywhere before the first access: build the machine again
            # with the new setting and replay what it had done (no access yet, so
            # nothing observable depended on the old value).
            self.machine = None
            machine = self.ensure_machine()
            for done, process in self.actions:
                self.run_action(machine, done, process)
        return []

    # --- one statement ----------------------------------------------------------------

    def execute(self, stmt: ast.Statement) -> StatementRecord:
        """Run one statement. Raises FaultlangError (with the statement's span) for
        errors in the scenario; simulated outcomes are in the record, never raised."""
        reason = unsupported(stmt)
        if reason:
            raise NotSupportedYet(f"this statement is not simulated yet: it needs {reason}",
                                  "remove it for now; it runs once that part of the engine lands",
                                  stmt.span)
        process, inner = (stmt.process, stmt.statement) if isinstance(stmt, ast.As) else (None, stmt)
        if isinstance(inner, ast.Title):
            self.title = inner.text
            return self._record(stmt, inner, process, [], None)
        if isinstance(inner, ast.Set):
            return self._record(stmt, inner, process, self.apply_set(inner), None)
        machine = self.ensure_machine()
        machine.line = stmt.span.line
        machine.statement_index = len(self.statements)
        proc = process or machine.current
        if not isinstance(inner, _OBSERVING):
            self.before = machine.counter_values()
        first = machine.step + 1
        snapshot = None
        expect = None
        if isinstance(inner, _EXPECTS):
            expect = evaluate(machine, inner, proc, self.before, self.after,
                              format_statement(stmt))
            self.expects.append(expect)
            notes: list[str] = []
        elif isinstance(inner, ast.Show):
            snapshot = self.show(inner, proc)
            notes = []
        else:
            if isinstance(inner, (ast.Access, ast.Trace)) and machine.system.policy is not None \
                    and machine.system.policy.name == "opt":
                from faultlang.runtime.policies import set_future
                later = self.script[self.script_pos + 1:] if self.script_pos >= 0 else []
                set_future(machine, [stmt, *later], self.source_name)
            notes = self.run_action(machine, inner, process)
            notes += machine.oom_notes()
            self.actions.append((inner, process))
        if not isinstance(inner, _OBSERVING):
            self.after = machine.counter_values()
        return self._record(stmt, inner, proc, notes, snapshot, expect, first, machine.step + 1)

    def _record(self, stmt, inner, process, notes, snapshot, expect=None, first=0, last=0):
        rec = StatementRecord(index=len(self.statements), line=stmt.span.line,
                              text=format_statement(stmt), process=process or "main",
                              kind=type(inner).__name__, first_step=first, last_step=last,
                              notes=tuple(notes), snapshot=snapshot, expect=expect)
        self.statements.append(rec)
        return rec

    def run_action(self, machine: Machine, stmt: ast.Statement, process: Optional[str]) -> list[str]:
        if machine.held:
            from faultlang.runtime.migrate import check_hold
            check_hold(machine, stmt)
        if isinstance(stmt, ast.Access):
            machine.access(stmt.op, stmt.target, stmt.value, stmt, process)
            return uffd.blocked_notes(machine, process)
        if isinstance(stmt, uffd.STATEMENTS):
            return uffd.run_uffd(machine, stmt, process)
        if isinstance(stmt, ast.Map):
            notes = machine.map(stmt, process)
            machine.drain_gup(machine.task(process))
            return notes
        if isinstance(stmt, (ast.Munmap, ast.Mprotect, ast.Madvise, ast.Mlock, ast.Munlock,
                             ast.Msync)):
            notes = machine.syscall(stmt, process)
            machine.drain_gup(machine.task(process))
            return notes + uffd.blocked_notes(machine, process)
        if isinstance(stmt, (ast.Swapout, ast.Reclaim, ast.DropCaches)):
            from faultlang.runtime.swap import run_swap_statement
            return run_swap_statement(machine, stmt, process)
        if isinstance(stmt, ast.NumaScan):
            from faultlang.runtime.swap import run_numa_scan
            return run_numa_scan(machine, stmt, process)
        if isinstance(stmt, ast.Migrate):
            from faultlang.runtime.migrate import run_migrate
            return run_migrate(machine, stmt, process)
        if isinstance(stmt, ast.MigrateRelease):
            from faultlang.runtime.migrate import run_release
            return run_release(machine, stmt)
        if isinstance(stmt, ast.Trace):
            from faultlang.runtime.trace import run_trace
            return run_trace(machine, stmt, process, self.source_name)
        if isinstance(stmt, ast.FileDecl):
            return machine.file(stmt)
        if isinstance(stmt, ast.Truncate):
            return machine.truncate(stmt)
        if isinstance(stmt, ast.Fork):
            return machine.fork(stmt.parent or process, stmt.child, stmt)
        if isinstance(stmt, ast.Exit):
            return machine.exit(stmt.name, stmt)
        if isinstance(stmt, ast.ProcessDecl):
            machine.new_process(stmt.name, stmt.node, stmt)
            return [f"{stmt.name} created (pid {machine.processes[stmt.name].pid})"]
        if isinstance(stmt, ast.Switch):
            machine.live_task(stmt.name, stmt)
            machine.current = stmt.name
            return [f"now running {stmt.name}"]
        raise NotSupportedYet(f"'{type(stmt).__name__}' is not simulated yet",
                              "remove it for now", stmt.span)

    # --- show ---------------------------------------------------------------------------

    def show(self, stmt: ast.Show, process: str) -> Snapshot:
        machine = self.ensure_machine()
        task = machine.task(process)
        view = stmt.view
        line = stmt.span.line
        if view == "pagetable":
            lo, hi = 0, 1 << 57
            if stmt.arg is not None and not isinstance(stmt.arg, (int, str)):
                lo, hi = machine.span_of(stmt.arg)
            snap = inspect.pagetable_snapshot(task.mm, process, machine.label, lo, hi)
            return Snapshot(view=view, process=process, line=line, pagetable=snap)
        if view == "vmas":
            return Snapshot(view=view, process=process, line=line,
                            vmas=inspect.vma_views(task.mm))
        if view == "counters":
            return Snapshot(view=view, process=process, line=line,
                            processes=self.process_views(),
                            vmstat=self.vmstat())
        if view == "memory":
            return Snapshot(view=view, process=process, line=line,
                            memory=inspect.memory_view(machine.system))
        if view == "settings":
            return Snapshot(view=view, process=process, line=line,
                            settings=inspect.settings_view(self.settings))
        if view == "path":
            n = stmt.arg if isinstance(stmt.arg, int) else None
            from faultlang.runtime.expect import find_step
            step = find_step(machine.steps, n, True, process, stmt)
            return Snapshot(view=view, process=process, line=line, step=step)
        if view == "pagecache":
            name = stmt.arg if isinstance(stmt.arg, str) else None
            if name is not None and name not in machine.system.files:
                raise ScenarioError(f"there is no file '{name}'",
                                    "declare it with `file` first", stmt.span)
            text = machine.pagecache_text(name)
            return Snapshot(view=view, process=process, line=line, text=text)
        if view == "uffd":
            return Snapshot(view=view, process=process, line=line,
                            text=uffd.show_text(machine, task))
        if view == "log":
            return Snapshot(view=view, process=process, line=line, log=tuple(machine.steps))
        if view == "swap":
            from faultlang.runtime.swap import swap_text
            return Snapshot(view=view, process=process, line=line, text=swap_text(machine))
        if view == "lru":
            from faultlang.runtime.policies import lru_text
            return Snapshot(view=view, process=process, line=line, text=lru_text(machine))
        raise NotSupportedYet(f"`show {view}` is not available yet", "try `show pagetable`",
                              stmt.span)

    # --- the whole run --------------------------------------------------------------------

    def process_views(self) -> tuple[ProcessView, ...]:
        machine = self.ensure_machine()
        return tuple(ProcessView(name=name, pid=t.pid, counters=inspect.counters(t),
                                 vmas=inspect.vma_views(t.mm), alive=t.alive, node=t.numa_node)
                     for name, t in machine.processes.items())

    def vmstat(self) -> tuple[tuple[str, int], ...]:
        """pgfault and pgmajfault always; the other events once they happened."""
        items = self.ensure_machine().system.vmstat.items()
        return tuple((k, v) for k, v in items if v or k in ("pgfault", "pgmajfault"))

    def report(self, error: Optional[str] = None) -> RunReport:
        machine = self.ensure_machine()
        return RunReport(scenario=self.source_name, title=self.title,
                         kernel=KERNEL_LABEL.format(self.settings.kernel),
                         settings=inspect.settings_view(self.settings),
                         statements=list(self.statements), steps=list(machine.steps),
                         processes=self.process_views(),
                         vmstat=self.vmstat(),
                         expects=list(self.expects), error=error)


def run_scenario(scenario: ast.Scenario, *, record: bool = True,
                 max_steps: int = DEFAULT_MAX_STEPS) -> RunReport:
    """Run every statement. A FaultlangError stops the run and propagates, located."""
    runner = Runner(record=record, max_steps=max_steps, source_name=scenario.source_name,
                    source_text=scenario.source_text)
    # The engine makes many small long-lived objects and no reference cycles that
    # matter during a run: the cyclic collector would only cost time. They live as
    # long as the report, so afterwards they are frozen (gc.freeze) rather than left
    # in the youngest generation, where each of the next three collections would walk
    # them all (half a second each after 262,144 faults). The previous run's objects
    # are unfrozen first, so that a process running many scenarios still collects them.
    enabled = gc.isenabled()
    gc.disable()
    gc.unfreeze()
    runner.script = scenario.statements
    try:
        for k, stmt in enumerate(scenario.statements):
            runner.script_pos = k
            try:
                runner.execute(stmt)
            except FaultlangError as err:
                raise err.located(scenario.source_name, scenario.source_text)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    return runner.report()
