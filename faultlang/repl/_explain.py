""":explain FUNCTION — what a mirrored kernel function is, decides, and how it is reached.

Three sources, none of them written twice:
* the @kfunc registry (faultlang.kernel.trace.KFUNCS): kernel file and docstring;
* a static scan of the faultlang.kernel source (Python's `ast`): every call site of the
  function in another @kfunc, with the `if` conditions around it and the `why(...)`
  text its caller records on that branch;
* the paths recorded so far in the session: which caller, for which reason, how often.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Optional, Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from faultlang.snapshots import CallFrame, StepRecord

__all__ = ["CallSite", "Explanation", "ExplainView", "explain", "kernel_functions"]


@dataclass(frozen=True)
class CallSite:
    """One place in the mirrored source where `caller` calls the function."""

    caller: str
    conditions: tuple[str, ...]   # enclosing `if` tests, outermost first
    why: tuple[str, ...]          # why(...) texts recorded before the call, same branch
    lineno: int


@dataclass(frozen=True)
class Explanation:
    symbol: str
    kernel_file: str
    python_module: str
    doc: str
    call_sites: tuple[CallSite, ...]
    callees: tuple[str, ...]
    reached: tuple[tuple[str, str, int], ...]   # (caller, caller's why, times) this session
    decided: tuple[tuple[str, int], ...]        # (its own why, times) this session


def _load_kernel() -> dict[str, Callable]:
    """Import every faultlang.kernel module, so KFUNCS lists every mirrored function."""
    import faultlang.kernel as kernel
    from faultlang.kernel.trace import KFUNCS

    for info in pkgutil.walk_packages(kernel.__path__, "faultlang.kernel."):
        importlib.import_module(info.name)
    return KFUNCS


def kernel_functions() -> dict[str, str]:
    """Every mirrored kernel function → its kernel source file."""
    return {symbol: getattr(fn, "kernel_file", "") for symbol, fn in _load_kernel().items()}


def _why_text(call: ast.Call) -> Optional[str]:
    if not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):
        return "".join(str(part.value) if isinstance(part, ast.Constant) else
                       "{" + ast.unparse(part.value) + "}"          # type: ignore[attr-defined]
                       for part in arg.values)
    return None


def _callee(call: ast.Call) -> Optional[str]:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


class _Scanner:
    """Walks one function body, keeping the `if` tests and why() texts in force."""

    FALLTHROUGH = "no earlier branch returned"

    def __init__(self, caller: str, wanted: dict[str, list[str]]) -> None:
        self.caller = caller
        self.wanted = wanted          # Python name → kernel symbols it may be
        self.sites: list[tuple[str, CallSite]] = []
        # Once a statement may have returned, a later call is reached only when it did
        # not: say so rather than "always".
        self.returned = False

    def _calls(self, node: ast.AST, conds: tuple[str, ...], whys: list[str]) -> None:
        if self.returned and not conds:
            conds = (self.FALLTHROUGH,)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                for symbol in self.wanted.get(_callee(sub) or "", ()):
                    self.sites.append((symbol, CallSite(self.caller, conds, tuple(whys),
                                                        sub.lineno)))

    def block(self, body: Sequence[ast.stmt], conds: tuple[str, ...]) -> None:
        whys: list[str] = []
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
                    and _callee(stmt.value) == "why":
                text = _why_text(stmt.value)
                if text:
                    whys.append(text)
                continue
            self.statement(stmt, conds, whys)
            self.returned = self.returned or any(isinstance(n, ast.Return)
                                                 for n in ast.walk(stmt))

    def statement(self, stmt: ast.stmt, conds: tuple[str, ...], whys: list[str]) -> None:
        if isinstance(stmt, ast.If):
            test = ast.unparse(stmt.test)
            self._calls(stmt.test, conds, whys)
            self.block(stmt.body, conds + (test,))
            self.block(stmt.orelse, conds + (f"not ({test})",))
            return
        bodies = [getattr(stmt, name) for name in ("body", "orelse", "finalbody")
                  if isinstance(getattr(stmt, name, None), list)]
        if not bodies:
            self._calls(stmt, conds, whys)
            return
        for field in ("test", "iter", "items"):
            value = getattr(stmt, field, None)
            for part in value if isinstance(value, list) else [value]:
                if isinstance(part, ast.AST):
                    self._calls(part, conds, whys)
        for inner in bodies + [h.body for h in getattr(stmt, "handlers", [])]:
            self.block(inner, conds)


@lru_cache(maxsize=1)
def _static_graph() -> tuple[dict[str, tuple[CallSite, ...]], dict[str, tuple[str, ...]]]:
    """(call sites of each symbol, callees of each symbol), from the kernel source."""
    kfuncs = _load_kernel()
    wanted: dict[str, list[str]] = {}
    by_module: dict[str, dict[str, str]] = {}
    for symbol, fn in kfuncs.items():
        wanted.setdefault(fn.__name__, []).append(symbol)
        by_module.setdefault(getattr(fn, "python_module", ""), {})[fn.__name__] = symbol
    sites: dict[str, list[CallSite]] = {}
    callees: dict[str, list[str]] = {}
    for module_name, functions in by_module.items():
        try:
            tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
        except (OSError, TypeError, ImportError):
            continue               # no source (a frozen install): the session paths remain
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in functions:
                scanner = _Scanner(functions[node.name], wanted)
                scanner.block(node.body, ())
                for symbol, site in scanner.sites:
                    if symbol != scanner.caller:
                        sites.setdefault(symbol, []).append(site)
                        callees.setdefault(scanner.caller, []).append(symbol)
    return ({k: tuple(v) for k, v in sites.items()},
            {k: tuple(dict.fromkeys(v)) for k, v in callees.items()})


def _parent(frames: Sequence[CallFrame], index: int) -> Optional[CallFrame]:
    depth = frames[index].depth
    for frame in reversed(frames[:index]):
        if frame.depth == depth - 1:
            return frame
    return None


def _session_paths(symbol: str, steps: Iterable[StepRecord]
                   ) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    # Steps with the same path share one frames tuple (machine.frames_of), so count
    # distinct tuples once each, then weigh by how many steps used them.
    uses: Counter[int] = Counter()
    paths: dict[int, tuple[CallFrame, ...]] = {}
    for step in steps:
        if step.frames:
            uses[id(step.frames)] += 1
            paths[id(step.frames)] = step.frames
    reached: Counter[tuple[str, str]] = Counter()
    decided: Counter[str] = Counter()
    for key, frames in paths.items():
        for index, frame in enumerate(frames):
            if frame.symbol == symbol:
                parent = _parent(frames, index)
                if parent is not None:
                    reached[(parent.symbol, parent.why)] += uses[key]
                if frame.why:
                    decided[frame.why] += uses[key]
    return reached, decided


def explain(symbol: str, steps: Iterable[StepRecord]) -> Optional[Explanation]:
    """What is known about kernel function `symbol`, or None if it is not mirrored."""
    fn = _load_kernel().get(symbol)
    if fn is None:
        return None
    sites, callees = _static_graph()
    reached, decided = _session_paths(symbol, steps)
    return Explanation(
        symbol=symbol, kernel_file=getattr(fn, "kernel_file", ""),
        python_module=getattr(fn, "python_module", ""),
        doc=inspect.cleandoc(fn.__doc__ or "(no docstring)"),
        call_sites=sites.get(symbol, ()), callees=callees.get(symbol, ()),
        reached=tuple((c, w, n) for (c, w), n in reached.most_common()),
        decided=tuple(decided.most_common()))


def _branch(conditions: tuple[str, ...]) -> str:
    if not conditions:
        return "always"
    if conditions == (_Scanner.FALLTHROUGH,):
        return f"when {conditions[0]}"
    return "if " + " and ".join(conditions[-2:])


class ExplainView:
    """The explanation: file, docstring, static call sites, what this session saw."""

    def __init__(self, explanation: Explanation) -> None:
        self.e = explanation

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        e = self.e
        yield Text.assemble((e.symbol, "kfunc.name"), "  ", (e.kernel_file, "kfunc.file"),
                            (f"  (mirrored in {e.python_module.replace('.', '/')}.py)", "dim"))
        yield Text("")
        yield Padding(Text(e.doc), (0, 0, 0, 2), expand=False)
        yield Text("")
        yield Text("reached from (in the source)", style="header")
        if e.call_sites:
            table = Table.grid(padding=(0, 2))
            for site in e.call_sites:
                detail = Text(_branch(site.conditions))
                if site.why:
                    detail.append(f"\nwhy: {'; '.join(site.why)}", style="kfunc.why")
                table.add_row(Text(site.caller, style="kfunc.name"), detail)
            yield Padding(table, (0, 0, 0, 2), expand=False)
        else:
            yield Text("  no other mirrored function calls it (an entry point)", style="dim")
        yield Text("reached in this session", style="header")
        if e.reached:
            table = Table.grid(padding=(0, 2))
            for caller, why, times in e.reached:
                table.add_row(Text(f"{times}×"), Text(caller, style="kfunc.name"),
                              Text(why or "", style="kfunc.why"))
            yield Padding(table, (0, 0, 0, 2), expand=False)
        else:
            yield Text("  not yet: no recorded fault went through it", style="dim")
        if e.decided:
            yield Text("what it decided in this session", style="header")
            table = Table.grid(padding=(0, 2))
            for why, times in e.decided:
                table.add_row(Text(f"{times}×"), Text(why))
            yield Padding(table, (0, 0, 0, 2), expand=False)
        if e.callees:
            yield Text.assemble(("calls: ", "header"), ", ".join(e.callees))
