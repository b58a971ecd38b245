"""`expect` clauses: evaluated into ExpectResult values, never raised (spec section 10)."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Optional

from faultlang.errors import ScenarioError
from faultlang.lang import ast
from faultlang.lang.printer import format_statement
from faultlang.runtime import inspect
from faultlang.snapshots import ExpectResult, StepRecord

if TYPE_CHECKING:
    from faultlang.runtime.machine import Machine

OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
       ">": operator.gt, ">=": operator.ge}
PROCESS_COUNTERS = ("minflt", "majflt", "page_faults", "rss", "swap")
MACHINE_COUNTERS = ("pgfault", "pgmajfault", "free", "swap_used")


def find_step(steps: list[StepRecord], n: Optional[int], faulted: bool, process: str,
              node: ast.Node) -> Optional[StepRecord]:
    """Step N, or the most recent access (that faulted, for `path`), in any process."""
    if n is not None:
        for step in steps:
            if step.n == n:
                return step
        raise ScenarioError(f"there is no step {n}", "step numbers are those the log shows",
                            node.span)
    for step in reversed(steps):
        if step.op == "gup":
            continue
        if not faulted or step.frames:
            return step
    return None


def counter_key(stmt: ast.ExpectCounter, process: str) -> str:
    if stmt.counter in PROCESS_COUNTERS:
        return f"{stmt.process or process}.{stmt.counter}"
    return stmt.counter


def evaluate(machine: "Machine", stmt: Any, process: str, before: dict[str, int],
             after: dict[str, int], text: str = "") -> ExpectResult:
    text = text or format_statement(stmt)
    actual: Any
    if isinstance(stmt, ast.ExpectCounter):
        key = counter_key(stmt, process)
        now = machine.counter_values()
        if key not in now:
            raise ScenarioError(f"there is no process '{stmt.process}'",
                                "name a process the scenario created", stmt.span)
        actual = after.get(key, 0) - before.get(key, 0) if stmt.delta else now[key]
        ok = OPS[stmt.op](actual, stmt.value)
        expected: Any = stmt.value
    elif isinstance(stmt, ast.ExpectOutcome):
        step = find_step(machine.steps, stmt.step, False, process, stmt)
        actual = step.outcome if step else "no access yet"
        ok = OPS[stmt.op](str(actual).lower(), stmt.value.lower())
        expected = stmt.value
    elif isinstance(stmt, ast.ExpectPath):
        step = find_step(machine.steps, stmt.step, True, process, stmt)
        path = step.path if step else ()
        ok = stmt.function in path
        actual = " → ".join(path) if path else "no fault yet"
        expected = stmt.function
    elif isinstance(stmt, (ast.ExpectState, ast.ExpectValue)):
        task = machine.task(process)
        address = machine.addresses(stmt.target)[0]
        if isinstance(stmt, ast.ExpectState):
            actual = inspect.page_state(task.mm, address) if task.alive else "none"
        else:
            actual = inspect.peek_value(task.mm, address) if task.alive else None
            if actual is None:
                actual = "unmapped"
        ok = actual != "unmapped" and OPS[stmt.op](actual, stmt.value)
        expected = stmt.value
    else:
        raise TypeError(stmt)
    return ExpectResult(line=stmt.span.line, ok=bool(ok), text=text, expected=expected,
                        actual=actual)
