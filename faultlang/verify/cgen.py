"""Scenario AST + the simulation's layout → a C program doing the same on the real kernel.

The program is the C runtime (runtime.c, shipped in this package) followed by a
generated part: one function per statement that the runtime measures, and a table
saying, for every statement, which process runs it and how (measure, fork, observe,
spawn, exit, or skip). Each statement kind has one small emitter below; a kind
without an emitter, or a statement the engine does not simulate yet
(runtime.support.unsupported), is skipped with its reason.

Addresses come from the simulation (Layout): mappings are placed with
MAP_FIXED_NOREPLACE where the engine put them, so alignment and neighbours match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Callable, Mapping, Optional, TypeVar

from faultlang.lang import ast
from faultlang.lang.printer import format_statement
from faultlang.runtime.support import unsupported

__all__ = ["Layout", "Planned", "Program", "generate", "plan_processes", "runtime_source"]

PAGE = 4096
MAX_PROCESSES = 64

_PROT = {"r": "PROT_READ", "w": "PROT_WRITE", "x": "PROT_EXEC"}
_MAP_OPTIONS = {"populate": "MAP_POPULATE", "locked": "MAP_LOCKED",
                "noreserve": "MAP_NORESERVE", "growsdown": "MAP_GROWSDOWN"}
_ADVICE = {
    "normal": "MADV_NORMAL", "random": "MADV_RANDOM", "sequential": "MADV_SEQUENTIAL",
    "willneed": "MADV_WILLNEED", "dontneed": "MADV_DONTNEED", "free": "MADV_FREE",
    "dontfork": "MADV_DONTFORK", "dofork": "MADV_DOFORK", "hugepage": "MADV_HUGEPAGE",
    "nohugepage": "MADV_NOHUGEPAGE", "wipeonfork": "MADV_WIPEONFORK",
    "keeponfork": "MADV_KEEPONFORK", "cold": "MADV_COLD", "pageout": "MADV_PAGEOUT",
    "populate_read": "MADV_POPULATE_READ", "populate_write": "MADV_POPULATE_WRITE",
}
_ACCESS = {"read": "FV_READ", "write": "FV_WRITE", "exec": "FV_EXEC", "kread": "FV_KREAD",
           "kwrite": "FV_KWRITE"}
_RANGE_CALLS = {ast.Munmap: "SYS_munmap", ast.Mprotect: "SYS_mprotect",
                ast.Madvise: "SYS_madvise", ast.Mlock: "SYS_mlock",
                ast.Munlock: "SYS_munlock", ast.Msync: "SYS_msync"}


@lru_cache(maxsize=1)
def runtime_source() -> str:
    """The C runtime every generated program starts with."""
    return resources.files("faultlang.verify").joinpath("runtime.c").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Layout:
    """What the simulation decided that the C program must repeat.

    mappings: name → (start, size) where the engine placed each mapping;
    first_steps: statement index → number of its first step (a write without `= N`
    stores the step number, page by page);
    skipped: statement index → why the simulation could not run it.
    """

    mappings: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    first_steps: Mapping[int, int] = field(default_factory=dict)
    skipped: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Planned:
    """One statement as the program treats it. kind: skip measure fork observe spawn exit."""

    index: int
    line: int
    text: str
    process: str
    kind: str
    reason: str = ""          # why a statement is skipped
    child: str = ""           # fork and spawn: the new process


@dataclass(frozen=True)
class Program:
    source: str               # runtime + scenario part: what gets compiled
    scenario_part: str        # the generated part alone (the golden files)
    processes: tuple[str, ...]
    statements: tuple[Planned, ...]


@dataclass(frozen=True)
class _Emitted:
    kind: str
    body: str = ""
    child: str = ""
    addr: int = 0
    reason: str = ""


class _SkipStatement(Exception):
    """An emitter cannot translate this statement: skip it with the message."""


@dataclass
class _Context:
    layout: Layout
    index: int
    # mapping → why the real one differs from the simulated one from here on
    tainted: Mapping[str, str] = field(default_factory=dict)

    def pages(self, target: ast.Target) -> range:
        """The addresses a target touches, in order: Machine.addresses, from the layout."""
        if isinstance(target, ast.Absolute):
            for name in _mappings_at(self.layout, target.address):
                if name in self.tainted:
                    raise _SkipStatement(self.tainted[name])
            return range(target.address, target.address + 1)
        if target.mapping in self.tainted:
            raise _SkipStatement(self.tainted[target.mapping])
        placed = self.layout.mappings.get(target.mapping)
        if placed is None:
            raise _SkipStatement(f"mapping '{target.mapping}' was not placed by the simulation")
        start, size = placed
        if isinstance(target, ast.ByteOffset):
            return range(start + target.offset, start + target.offset + 1)
        if isinstance(target, ast.PageIndex):
            return range(start + target.index * PAGE, start + target.index * PAGE + 1)
        first = 0 if target.start is None else target.start
        stop = size // PAGE if target.stop is None else target.stop
        if target.reverse:
            last = first + ((stop - 1 - first) // target.step) * target.step
            return range(start + last * PAGE, start + first * PAGE - 1, -target.step * PAGE)
        return range(start + first * PAGE, start + stop * PAGE, target.step * PAGE)

    def span(self, target: ast.Target) -> tuple[int, int]:
        """[lo, hi) page-aligned bytes covered by a range target (for system calls)."""
        pages = self.pages(target)
        if not pages:
            raise _SkipStatement("the range is empty")
        lo, hi = min(pages[0], pages[-1]), max(pages[0], pages[-1])
        return lo & ~(PAGE - 1), (hi & ~(PAGE - 1)) + PAGE


_S = TypeVar("_S")
_EMITTERS: dict[type, Callable[..., _Emitted]] = {}


def _emits(*kinds: type) -> Callable[[Callable[[_S, _Context], _Emitted]],
                                     Callable[[_S, _Context], _Emitted]]:
    def register(fn: Callable[[_S, _Context], _Emitted]) -> Callable[[_S, _Context], _Emitted]:
        for kind in kinds:
            _EMITTERS[kind] = fn
        return fn
    return register


def _prot(prot: Optional[str]) -> str:
    flags = [_PROT[c] for c in (prot or "rw-") if c in _PROT]
    return " | ".join(flags) or "PROT_NONE"


@_emits(ast.Map)
def _emit_map(stmt: ast.Map, ctx: _Context) -> _Emitted:
    placed = ctx.layout.mappings.get(stmt.name)
    if placed is None:
        raise _SkipStatement("the simulation could not place this mapping")
    shared = stmt.shared if stmt.shared is not None else stmt.kind == "shmem"
    # MAP_SHARED|MAP_ANONYMOUS is shmem; a private shmem mapping needs a file, as do the rest.
    if stmt.kind not in ("anon", "shmem") or (stmt.kind == "shmem" and not shared):
        kind = "private shmem" if stmt.kind == "shmem" else stmt.kind
        raise _SkipStatement(f"verify does not translate {kind} mappings yet")
    start, size = placed
    flags = ["MAP_SHARED" if shared else "MAP_PRIVATE", "MAP_ANONYMOUS"]
    flags += [_MAP_OPTIONS[o] for o in stmt.options if o in _MAP_OPTIONS]
    place = "FV_PLACE_SIM" if stmt.at is None else "FV_PLACE_USER"
    body = [f"\tuintptr_t a = fv_map({start:#x}UL, {size:#x}UL, {_prot(stmt.prot)},",
            f"\t\t\t     {' | '.join(flags)}, {place});"]
    advice = [o for o in stmt.options if o in _ADVICE]
    if advice:
        body.append("")
        body.append("\tif (!a)")
        body.append("\t\treturn;")
        body += [f"\tfv_range_call(SYS_madvise, a, {size:#x}UL, {_ADVICE[o]});" for o in advice]
    else:
        body.append("\t(void)a;")
    return _Emitted("measure", "\n".join(body))


@_emits(ast.Access)
def _emit_access(stmt: ast.Access, ctx: _Context) -> _Emitted:
    pages = ctx.pages(stmt.target)
    value, value_step = 0, 0
    if stmt.op in ("write", "kwrite"):
        if stmt.value is not None:
            value = stmt.value
        else:
            value, value_step = ctx.layout.first_steps.get(ctx.index, 1), 1
    start = pages[0] if pages else 0
    stride = pages.step if len(pages) > 1 else PAGE
    return _Emitted("measure", f"\tfv_access({_ACCESS[stmt.op]}, {start:#x}UL, {stride}L, "
                               f"{len(pages)}L, {value}, {value_step});")


@_emits(*_RANGE_CALLS)
def _emit_range_call(stmt: ast.Munmap, ctx: _Context) -> _Emitted:
    lo, hi = ctx.span(stmt.target)
    if isinstance(stmt, ast.Mprotect):
        arg = _prot(stmt.prot)
    elif isinstance(stmt, ast.Madvise):
        if stmt.advice not in _ADVICE:
            raise _SkipStatement(f"no madvise advice for '{stmt.advice}'")
        arg = _ADVICE[stmt.advice]
    elif isinstance(stmt, ast.Msync):
        arg = "MS_SYNC"
    else:
        arg = "0"
    call = _RANGE_CALLS[type(stmt)]
    return _Emitted("measure", f"\tfv_range_call({call}, {lo:#x}UL, {hi - lo:#x}UL, {arg});")


@_emits(ast.Fork)
def _emit_fork(stmt: ast.Fork, ctx: _Context) -> _Emitted:
    return _Emitted("fork", child=stmt.child)


@_emits(ast.ProcessDecl)
def _emit_process(stmt: ast.ProcessDecl, ctx: _Context) -> _Emitted:
    return _Emitted("spawn", child=stmt.name)


@_emits(ast.Exit)
def _emit_exit(stmt: ast.Exit, ctx: _Context) -> _Emitted:
    return _Emitted("exit")


@_emits(ast.ExpectState, ast.ExpectValue)
def _emit_observe(stmt: ast.ExpectState, ctx: _Context) -> _Emitted:
    pages = ctx.pages(stmt.target)
    return _Emitted("observe", addr=pages[0])


@_emits(ast.Title, ast.Set, ast.Switch, ast.Show, ast.ExpectCounter, ast.ExpectOutcome,
        ast.ExpectPath)
def _emit_nothing(stmt: ast.Statement, ctx: _Context) -> _Emitted:
    # Observing statements and settings: nothing runs on the real kernel for them.
    return _Emitted("skip")


def _mappings_at(layout: Layout, address: int) -> list[str]:
    return [name for name, (start, size) in layout.mappings.items()
            if start <= address < start + size]


# Statements that change no anonymous or shmem memory (truncate and drop_caches touch
# only files): skipping them leaves the real kernel where the engine is.
_NO_EFFECT = (ast.Title, ast.Set, ast.Show, ast.Switch, ast.FileDecl, ast.Truncate,
              ast.DropCaches, ast.UffdHandle, ast.ExpectCounter, ast.ExpectOutcome,
              ast.ExpectPath, ast.ExpectState, ast.ExpectValue)


def _taint(inner: ast.Statement, line: int, layout: Layout, mapped: list[str],
           tainted: dict[str, str]) -> None:
    """A statement the engine ran but the program skips: from here on the real memory of
    what it touched differs from the simulated one, so what uses that memory is skipped."""
    if isinstance(inner, _NO_EFFECT):
        return
    if isinstance(inner, ast.Map):
        reason = f"mapping '{inner.name}' does not exist on the real kernel (line {line} " \
                 "was skipped)"
        tainted[inner.name] = reason
        return
    target = getattr(inner, "target", None)
    if isinstance(target, ast.Absolute):
        names = _mappings_at(layout, target.address)
    elif target is not None:
        names = [target.mapping]
    else:                                   # reclaim, trace: anything mapped so far
        names = mapped
    for name in names:
        tainted.setdefault(name, f"mapping '{name}' was changed by line {line}, which verify "
                                 "does not translate")


def plan_processes(statements: tuple[ast.Statement, ...]) -> list[str]:
    """The process each statement runs in, as the Runner decides it (fork: the parent)."""
    current = "main"
    out = []
    for stmt in statements:
        inner = stmt.statement if isinstance(stmt, ast.As) else stmt
        process = stmt.process if isinstance(stmt, ast.As) else current
        if isinstance(inner, ast.Fork) and inner.parent:
            process = inner.parent
        elif isinstance(inner, (ast.Exit, ast.ProcessDecl)):
            process = inner.name
        out.append(process)
        if isinstance(inner, ast.Switch):
            current = inner.name
    return out


def _comment(text: str) -> str:
    return text.replace("*/", "* /")


def generate(scenario: ast.Scenario, layout: Layout) -> Program:
    """The C program for `scenario` with the simulation's `layout`."""
    processes = ["main"]
    tainted: dict[str, str] = {}
    mapped: list[str] = []
    planned: list[Planned] = []
    functions: list[str] = []
    table: list[str] = []
    for index, (stmt, process) in enumerate(zip(scenario.statements,
                                               plan_processes(scenario.statements),
                                               strict=True)):
        inner = stmt.statement if isinstance(stmt, ast.As) else stmt
        text = format_statement(stmt)
        emitted = _emit(inner, stmt, _Context(layout, index, tainted))
        if emitted.kind not in ("skip", "spawn") and process not in processes:
            emitted = _Emitted("skip", reason=f"process '{process}' does not exist")
        if emitted.child and emitted.child not in processes:
            if len(processes) == MAX_PROCESSES:
                emitted = _Emitted("skip", reason=f"more than {MAX_PROCESSES} processes")
            else:
                processes.append(emitted.child)
        if isinstance(inner, ast.Map):
            mapped.append(inner.name)
        if emitted.kind == "skip" and not unsupported(stmt) and index not in layout.skipped:
            _taint(inner, stmt.span.line, layout, mapped, tainted)
        fn = "NULL"
        if emitted.body:
            fn = f"st_{index}"
            functions.append(f"/* line {stmt.span.line}: {_comment(text)} */\n"
                             f"static void {fn}(void)\n{{\n{emitted.body}\n}}\n")
        proc_id = processes.index(process) if process in processes else 0
        child_id = processes.index(emitted.child) if emitted.child in processes else 0
        table.append(f"\t{{ FV_{emitted.kind.upper()}, {proc_id}, {child_id}, {fn}, "
                     f"{emitted.addr:#x}UL }},\t/* {stmt.span.line}: {_comment(text)} */")
        planned.append(Planned(index, stmt.span.line, text, process, emitted.kind,
                               emitted.reason, emitted.child))
    part = _scenario_part(scenario, layout, processes, functions, table)
    return Program(source=runtime_source() + part, scenario_part=part,
                   processes=tuple(processes), statements=tuple(planned))


def _emit(inner: ast.Statement, stmt: ast.Statement, ctx: _Context) -> _Emitted:
    reason = unsupported(stmt)
    if reason:
        return _Emitted("skip", reason=f"not simulated yet: needs {reason}")
    if ctx.index in ctx.layout.skipped:
        return _Emitted("skip", reason=ctx.layout.skipped[ctx.index])
    emitter = _EMITTERS.get(type(inner))
    if emitter is None:
        word = format_statement(inner).split()[0]
        return _Emitted("skip", reason=f"verify does not translate `{word}` statements yet")
    try:
        return emitter(inner, ctx)
    except _SkipStatement as err:
        return _Emitted("skip", reason=str(err))


def _scenario_part(scenario: ast.Scenario, layout: Layout, processes: list[str],
                   functions: list[str], table: list[str]) -> str:
    ranges = [f"\t{{ {start:#x}UL, {size:#x}UL }},\t/* {name} */"
              for name, (start, size) in layout.mappings.items()]
    out = [
        "",
        f"/* ---- generated by faultlang verify from {_comment(scenario.source_name)} ---- */",
        "",
        f"const int fv_nprocs = {len(processes)};\t/* {_comment(' '.join(processes))} */",
        "",
        "/* every mapping, as the simulation placed it: never pre-touched */",
        "const struct fv_range fv_ranges[] = {",
        *(ranges or ["\t{ 0, 0 },"]),
        "};",
        f"const int fv_nranges = {len(ranges)};",
        "",
        *functions,
        "/* { kind, process, child, function, address } for every statement, in order */",
        "const struct fv_stmt fv_stmts[] = {",
        *table,
        *([] if table else ["\t{ FV_SKIP, 0, 0, NULL, 0x0UL },"]),
        "};",
        f"const int fv_nstmts = {len(table)};",
        "",
    ]
    return "\n".join(out)
