"""The simulated side (the engine, statement by statement) and its comparison with runs.

`simulate` runs a scenario on a Runner one statement at a time and keeps, per
statement, the deltas of the counters of the process that ran it, the outcomes of its
accesses and the `expect` values: the same quantities the C program measures.
`compare` lines them up with the measured runs into a Verification (result.py).
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field, replace
from typing import Optional

from faultlang.errors import FaultlangError, NotSupportedYet
from faultlang.kernel.settings import Settings
from faultlang.lang import ast
from faultlang.lang.printer import format_statement
from faultlang.runtime import inspect
from faultlang.runtime.machine import Machine
from faultlang.runtime.runner import KERNEL_LABEL, Runner
from faultlang.runtime.uffd import STATEMENTS as UFFD_STATEMENTS
from faultlang.snapshots import ExpectResult, StepRecord
from faultlang.verify import files
from faultlang.verify.cgen import Layout, Program, plan_processes
from faultlang.verify.measure import COUNTERS, KIND_STATEMENT, OUTCOMES, Record, Run
from faultlang.verify.result import (
    AGREE, DIFFER, NA, NOISY, SKIPPED, Cell, SettingRow, StatementResult, Verification,
)

__all__ = ["SimStatement", "Simulation", "compare", "outcome_summary", "simulate"]

PROCESS_COUNTERS = ("minflt", "majflt", "page_faults", "perf_minor", "perf_major")
MACHINE_COUNTERS = ("pgfault", "pgmajfault")
TOTALS = ("minflt", "majflt", "page_faults")
_OBSERVING = (ast.Title, ast.Show, ast.ExpectCounter, ast.ExpectOutcome, ast.ExpectPath,
              ast.ExpectState, ast.ExpectValue, ast.Set)
_ERRNO = re.compile(r"failed: (E[A-Z0-9]+)")


@dataclass(frozen=True)
class SimStatement:
    index: int
    line: int
    text: str
    process: str
    kind: str                                   # the statement's AST class (`as` unwrapped)
    skipped: str = ""                           # why the engine did not run it
    counters: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    expect: Optional[ExpectResult] = None
    error: Optional[str] = None                 # errno a system call failed with
    address: Optional[int] = None               # map: where the engine placed it
    node: Optional[ast.Statement] = None
    swapped: Optional[int] = None               # swapout: pages of the span now in swap
    cached: Optional[int] = None                # file, truncate, drop_caches: pages cached
    pool: Optional[int] = None                  # hugetlbfs file, truncate: free pool pages gained


@dataclass(frozen=True)
class Simulation:
    title: str
    settings: Settings
    statements: tuple[SimStatement, ...]
    layout: Layout


def _counters(machine: Optional[Machine], process: str) -> dict[str, int]:
    if machine is None:
        return dict.fromkeys(PROCESS_COUNTERS + MACHINE_COUNTERS, 0)
    task = machine.processes.get(process)
    c = inspect.counters(task) if task is not None else None
    out = {name: getattr(c, name) if c is not None else 0 for name in PROCESS_COUNTERS}
    vmstat = dict(machine.system.vmstat.items())
    out.update({name: vmstat.get(name, 0) for name in MACHINE_COUNTERS})
    return out


def _outcome_key(step: StepRecord) -> str:
    if step.outcome in ("SIGSEGV", "SIGBUS") and step.si_code in (
            "SEGV_MAPERR", "SEGV_ACCERR", "BUS_ADRERR"):
        return f"{step.outcome} {step.si_code}"
    return step.outcome


def outcome_summary(outcomes: dict[str, int]) -> str:
    """{"minor": 512} → "512× minor", in a fixed order."""
    order = {name: i for i, name in enumerate(OUTCOMES)}
    items = sorted(outcomes.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
    return ", ".join(f"{n}× {name}" for name, n in items if n) or "no access"


def simulate(scenario: ast.Scenario) -> Simulation:
    """Run `scenario` statement by statement. Statements the engine does not simulate yet
    are skipped with their reason (and so are later ones that fail because of them);
    any other scenario error is raised, located, as `faultlang run` would."""
    runner = Runner(source_name=scenario.source_name, source_text=scenario.source_text)
    processes = plan_processes(scenario.statements)
    out: list[SimStatement] = []
    first_steps: dict[int, int] = {}
    skipped: dict[int, str] = {}
    blocking: dict[int, str] = {}
    blocked_at: dict[str, int] = {}            # process → line of its access that blocked
    for index, stmt in enumerate(scenario.statements):
        process = processes[index]
        inner = stmt.statement if isinstance(stmt, ast.As) else stmt
        base = SimStatement(index, stmt.span.line, format_statement(stmt), process,
                            type(inner).__name__, node=stmt)
        machine = runner.machine
        before = _counters(machine, process)
        pool_before = files.free_huge_pages(machine)
        first = len(machine.steps) if machine is not None else 0
        try:
            rec = runner.execute(stmt)
        except NotSupportedYet as err:
            skipped[index] = err.message
        except FaultlangError as err:
            if not skipped:
                raise err.located(scenario.source_name, scenario.source_text) from None
            skipped[index] = f"it depends on a skipped statement: {err.message}"
        if index in skipped:
            out.append(replace(base, skipped=skipped[index]))
            continue
        machine = runner.machine
        after = _counters(machine, process)
        steps = [s for s in (machine.steps[first:] if machine else []) if s.op != "gup"]
        outcomes: dict[str, int] = {}
        for step in steps:
            outcomes[_outcome_key(step)] = outcomes.get(_outcome_key(step), 0) + 1
        first_steps[index] = rec.first_step
        why_blocking = _blocking(inner, outcomes, blocked_at.get(process))
        if why_blocking:
            blocking[index] = why_blocking
            if isinstance(inner, ast.Access):
                blocked_at[process] = stmt.span.line
        found = next((m.group(1) for note in rec.notes for m in [_ERRNO.search(note)] if m),
                     None)
        placed = (machine.mappings.get(inner.name)
                  if isinstance(inner, ast.Map) and machine is not None else None)
        out.append(replace(base, counters={k: after[k] - before[k] for k in after},
                           outcomes=outcomes, expect=rec.expect, error=found,
                            address=placed.start if placed else None,
                           swapped=_swapped(machine, process, inner),
                           cached=files.cached_pages(machine, inner),
                           pool=files.pool_change(pool_before, machine, inner)))
    machine = runner.ensure_machine()
    layout = Layout({name: (m.start, m.size) for name, m in machine.mappings.items()},
                    first_steps, skipped, blocking=blocking)
    return Simulation(runner.title, runner.settings, tuple(out), layout)


def _blocking(inner: ast.Statement, outcomes: dict[str, int],
              blocked_line: Optional[int]) -> str:
    """Why a statement the engine ran cannot run on the real kernel: an access that ends
    asleep in handle_userfault (manual handling), or a uffd statement that completes one."""
    if isinstance(inner, ast.Access) and "blocked" in outcomes:
        return ("it blocks in handle_userfault until a later statement answers: verify runs "
                "a process's accesses on its one thread, which cannot answer its own fault")
    if isinstance(inner, UFFD_STATEMENTS) and outcomes and blocked_line is not None:
        return f"it completes the access of line {blocked_line}, which blocked"
    return ""


def _swapped(machine: Optional[Machine], process: str, inner: ast.Statement) -> Optional[int]:
    """After `swapout`: the pages of its span whose PTE is a swap entry, as the program
    counts them in pagemap."""
    if not isinstance(inner, ast.Swapout) or machine is None:
        return None
    task = machine.processes.get(process)
    if task is None:
        return None
    start, end = machine.span_of(inner.target)
    return sum(inspect.page_state(task.mm, a) in ("swapped", "swapcache")
               for a in range(start, end, 4096))


# --- comparison -------------------------------------------------------------------------


def _errno_name(err: int) -> str:
    return errno.errorcode.get(-err, str(err)) if err else "ok"


def _measured(sim: SimStatement, recs: list[Optional[Record]], kind: str,
              background: bool) -> list[Cell]:
    cells = [Cell.of(name, sim.counters.get(name, 0),
                     tuple(r.counters.get(name) if r else None for r in recs),
                     one_sided=name in MACHINE_COUNTERS, background=background)
             for name in COUNTERS]
    if any(c.status == NOISY for c in cells if c.name in PROCESS_COUNTERS):
        # The machine-wide counters hold the process's own faults, which moved between
        # runs (a cold file read racing with the disk): they cannot be judged more strictly.
        cells = [replace(c, status=NOISY) if c.name in MACHINE_COUNTERS and c.status == DIFFER
                 else c for c in cells]
    if sim.kind == "Access":
        cells.append(Cell.of("outcome", outcome_summary(sim.outcomes),
                             tuple(outcome_summary(r.outcomes) if r else None for r in recs)))
    elif sim.kind == "Swapout":
        cells.append(Cell.of("outcome", f"{sim.swapped} swapped out", tuple(
            f"{r.value} swapped out" if r and r.value is not None else None for r in recs)))
    if sim.kind == "Map":
        where = hex(sim.address) if sim.address is not None else sim.error
        cells.append(Cell.of("result", where, tuple(
            (hex(r.addr) if not r.err else _errno_name(r.err)) if r else None for r in recs)))
    elif kind == "measure" or kind == "fork":
        cells.append(Cell.of("result", sim.error or "ok",
                             tuple(_errno_name(r.err) if r else None for r in recs)))
    return cells


def _controlled(sim: SimStatement, recs: list[Optional[Record]]) -> list[Cell]:
    """file, truncate, drop_caches: the program's controller ran them, outside every
    window; what they left in the page cache is compared (cachestat on the real side).
    A hugetlbfs file's page cache is pool pages, which cachestat cannot count: what its
    `file` and `truncate` took from the pool or gave back is compared instead."""
    cells = [Cell.of("result", sim.error or "ok",
                     tuple(_errno_name(r.err) if r else None for r in recs))]
    if sim.cached is not None:
        cells.append(Cell.of("cached", f"{sim.cached} pages cached", tuple(
            f"{r.value} pages cached" if r and r.value is not None else None for r in recs)))
    if sim.pool is not None:
        cells.append(Cell.of("pool", _pool_text(sim.pool), tuple(
            _pool_text(r.value) if r and r.value is not None else None for r in recs)))
    return cells


def _pool_text(change: int) -> str:
    """A change in the hugetlb pool's free pages: "2 huge pages taken", "1 freed"."""
    if change == 0:
        return "pool unchanged"
    noun = "huge page" if abs(change) == 1 else "huge pages"
    return f"{-change} {noun} taken from the pool" if change < 0 else \
        f"{change} {noun} freed to the pool"


def _observed(sim: SimStatement, recs: list[Optional[Record]]) -> list[Cell]:
    actual = sim.expect.actual if sim.expect else None
    if sim.kind == "ExpectState":
        real = tuple(r.state if r else None for r in recs)
        if "present" in real and actual in ("zero", "resident", "cow"):
            return [Cell("state", actual, real, NA,
                         "telling zero, cow and resident apart needs root (/proc/kpageflags)")]
        return [Cell.of("state", actual, real)]
    real_values = tuple((("unmapped" if r.state == "unmapped" else r.value) if r else None)
                        for r in recs)
    return [Cell.of("value", actual, real_values)]


def _inner(node: Optional[ast.Statement]) -> Optional[ast.Statement]:
    return node.statement if isinstance(node, ast.As) else node


def _is_action(sim: SimStatement) -> bool:
    """Run by the engine and not observing: it moves the Runner's before/after pair."""
    return not sim.skipped and sim.node is not None and not isinstance(_inner(sim.node),
                                                                       _OBSERVING)


def _previous_action(sims: tuple[SimStatement, ...], index: int) -> Optional[SimStatement]:
    """The statement an `expect delta` looks at."""
    return next((s for s in reversed(sims[:index]) if _is_action(s)), None)


def _expect_counter(stmt: ast.ExpectCounter, sim: SimStatement,
                    sims: tuple[SimStatement, ...], run: Run) -> Optional[int]:
    """The real value of `expect [delta] [P.]COUNTER`: the delta of the previous action,
    or the sum of every measured statement before (of that process, for its counters)."""
    per_process = stmt.counter not in MACHINE_COUNTERS
    owner = stmt.process or sim.process
    if stmt.delta:
        prev = _previous_action(sims, sim.index)
        rec = run.statement(prev.index) if prev else None
        if rec is None or (per_process and prev is not None and prev.process != owner):
            return 0
        return rec.counters.get(stmt.counter)
    total = 0
    for other in sims[:sim.index]:
        rec = run.statement(other.index)
        if rec is None or rec.kind != KIND_STATEMENT or (per_process and other.process != owner):
            continue
        value = rec.counters.get(stmt.counter)
        if value is None:
            return None
        total += value
    return total


def _last_access(sims: tuple[SimStatement, ...], index: int) -> Optional[SimStatement]:
    """The statement `expect outcome last` looks at: the last one that accessed a page."""
    return next((s for s in reversed(sims[:index]) if s.outcomes), None)


def _expect_outcome(last: Optional[SimStatement], run: Run) -> Optional[str]:
    rec = run.statement(last.index) if last is not None else None
    if rec is None or rec.last is None:
        return "no access yet"
    return rec.last.split()[0]


def _evaluated(sim: SimStatement, sims: tuple[SimStatement, ...], runs: list[Run],
               unrun: set[int]) -> list[Cell]:
    """`expect` statements the C program does not run: their real value is worked out
    from the measured records, as the engine works it out from its counters."""
    inner = _inner(sim.node)
    actual = sim.expect.actual if sim.expect else None
    if isinstance(inner, ast.ExpectCounter):
        if inner.counter not in TOTALS + MACHINE_COUNTERS:
            return [Cell("expect", None, (), NA, f"{inner.counter} is not measured")]
        prev = _previous_action(sims, sim.index)
        if inner.delta:
            counts_unrun = prev is not None and prev.index in unrun
        else:
            counts_unrun = any(i < sim.index for i in unrun)
        if counts_unrun:
            return [Cell("expect", None, (), NA,
                         "it counts a statement that did not run on the real kernel")]
        return [Cell.of("expect", actual,
                        tuple(_expect_counter(inner, sim, sims, r) for r in runs))]
    if isinstance(inner, ast.ExpectOutcome):
        if inner.step is not None:
            return [Cell("expect", None, (), NA, "step numbers are the simulation's own")]
        last = _last_access(sims, sim.index)
        if last is not None and last.index in unrun:
            return [Cell("expect", None, (), NA,
                         "its access did not run on the real kernel")]
        return [Cell.of("expect", actual, tuple(_expect_outcome(last, r) for r in runs))]
    if isinstance(inner, ast.ExpectPath):
        return [Cell("expect", None, (), NA, "call paths cannot be seen from user space")]
    return []


def _status(cells: list[Cell]) -> str:
    statuses = {c.status for c in cells}
    for status in (DIFFER, NOISY, AGREE):
        if status in statuses:
            return status
    return NA


def compare(sim: Simulation, program: Program, runs: list[Run],
            settings: tuple[SettingRow, ...], kernel: str, scenario_name: str, binary: str = "",
            notes: tuple[str, ...] = (), idle_faults: int = 0) -> Verification:
    """Line up the simulation with the runs. idle_faults: page faults the machine made
    while verify was idle (measure.background_faults), a sign of machine-wide noise."""
    background = idle_faults > 0 or _background(runs)
    unrun = {s.index for s, p in zip(sim.statements, program.statements, strict=True)
             if p.kind == "skip" and _is_action(s)}
    results = []
    for s, planned in zip(sim.statements, program.statements, strict=True):
        reason = s.skipped or planned.reason
        if reason:
            results.append(StatementResult(s.index, s.line, s.text, s.process, planned.kind,
                                           SKIPPED, reason))
            continue
        recs = [r.statement(s.index) for r in runs]
        if planned.kind in ("measure", "fork"):
            cells = _measured(s, recs, planned.kind, background)
        elif planned.kind == "control":
            cells = _controlled(s, recs)
        elif planned.kind == "observe":
            cells = _observed(s, recs)
        else:
            cells = _evaluated(s, sim.statements, runs, unrun)
        mode = planned.kind if planned.kind != "skip" or not cells else "evaluate"
        missing = planned.kind in ("measure", "fork", "observe", "control") and \
            any(r is None for r in recs)
        results.append(StatementResult(
            s.index, s.line, s.text, s.process, mode, _status(cells),
            "not run: its process had exited" if missing else
            next((c.note for c in cells if c.note), ""), tuple(cells)))
    totals = _totals(sim, program, runs, background)
    return Verification(scenario=scenario_name, title=sim.title, kernel=kernel,
                        simulated=KERNEL_LABEL.format(sim.settings.kernel), runs=len(runs),
                        statements=tuple(results), totals=totals, settings=settings,
                        notes=notes + _baseline_notes(runs, idle_faults), binary=binary,
                        extra={"outside_windows": _outside(program, runs),
                               "idle_faults": idle_faults})


def _totals(sim: Simulation, program: Program, runs: list[Run],
            background: bool) -> tuple[tuple[str, tuple[Cell, ...]], ...]:
    """Per process, and machine-wide: the sums over the statements that were measured,
    simulated and real (a skipped statement counts on neither side)."""
    measured = [s for s, p in zip(sim.statements, program.statements, strict=True)
                if p.kind in ("measure", "fork") and not s.skipped]
    out = []
    for wid, name in enumerate(program.processes):
        mine = [s for s in measured if s.process == name]
        if not mine:
            continue
        sums = [_sum(run, TOTALS, wid) for run in runs]
        out.append((name, tuple(Cell.of(c, sum(s.counters.get(c, 0) for s in mine),
                                        tuple(x[c] for x in sums)) for c in TOTALS)))
    sums = [_sum(run, MACHINE_COUNTERS) for run in runs]
    out.append(("vmstat", tuple(Cell.of(c, sum(s.counters.get(c, 0) for s in measured),
                                        tuple(x[c] for x in sums), one_sided=True,
                                        background=background) for c in MACHINE_COUNTERS)))
    return tuple(out)


def _sum(run: Run, names: tuple[str, ...], wid: Optional[int] = None) -> dict[str, Optional[int]]:
    """The measured statements' counters added up (of worker `wid` only, if given)."""
    out: dict[str, Optional[int]] = dict.fromkeys(names, 0)
    for rec in run.records:
        if rec.kind != KIND_STATEMENT or (wid is not None and rec.wid != wid):
            continue
        for name in names:
            value, total = rec.counters.get(name), out[name]
            out[name] = None if value is None or total is None else total + value
    return out


def _background(runs: list[Run]) -> bool:
    """Did other processes fault during this verify? Then machine-wide counters carry
    their faults too: an empty window counted some, or a statement's runs disagree."""
    if any(rec.counters.get(name) for run in runs for rec in run.baselines
           for name in MACHINE_COUNTERS):
        return True
    for index in {rec.stmt for run in runs for rec in run.records if rec.kind == KIND_STATEMENT}:
        for name in MACHINE_COUNTERS:
            values = {rec.counters.get(name) for run in runs
                      for rec in [run.statement(index)] if rec is not None}
            if len(values) > 1:
                return True
    return False


def _baseline_notes(runs: list[Run], idle_faults: int) -> tuple[str, ...]:
    """Each process measures one empty window when it starts: what it counts is noise."""
    worst: dict[str, int] = {}
    for run in runs:
        for rec in run.baselines:
            for name, value in rec.counters.items():
                if value:
                    worst[name] = max(worst.get(name, 0), value)
    notes = []
    if idle_faults or set(worst) & set(MACHINE_COUNTERS):
        seen = [f"{idle_faults} page faults in 0.1 s while verify was idle"] * bool(idle_faults)
        seen += [f"{n} in an empty window" for name, n in worst.items()
                 if name in MACHINE_COUNTERS]
        notes.append(f"other processes fault on this machine ({', '.join(seen)}): "
                     "pgfault and pgmajfault, which are machine-wide, are noisy here")
    own = {name: n for name, n in worst.items() if name not in MACHINE_COUNTERS}
    if own:
        counted = ", ".join(f"{name} up to {n}" for name, n in sorted(own.items()))
        notes.append(f"empty measurement windows counted {counted}: the measurement itself "
                     "is not clean")
    return tuple(notes)


def _outside(program: Program, runs: list[Run]) -> dict[str, list[int]]:
    """Per process, minflt counted between its windows (pre-touching after fork, the
    worker's own start): not the scenario's, and left out of every comparison."""
    out: dict[str, list[int]] = {}
    for run in runs:
        for wid, name in enumerate(program.processes):
            recs = [r for r in run.records if r.wid == wid and r.kind == KIND_STATEMENT]
            if recs:
                start = recs[0].cum_minflt - (recs[0].counters["minflt"] or 0)
                inside = sum(r.counters["minflt"] or 0 for r in recs)
                span = recs[-1].cum_minflt - start
                out.setdefault(name, []).append(span - inside)
    return out
