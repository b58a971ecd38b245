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
from faultlang.lang.lexical import UFFD_FEATURES
from faultlang.lang.printer import format_statement
from faultlang.runtime.support import unsupported
from faultlang.verify.files import FileState, c_name, cached_ranges, is_hugetlbfs

__all__ = ["Layout", "Planned", "Program", "UffdHost", "generate", "plan_processes",
           "runtime_source"]

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
_UFFD_MODES = {"missing": "UFFDIO_REGISTER_MODE_MISSING", "wp": "UFFDIO_REGISTER_MODE_WP",
               "minor": "UFFDIO_REGISTER_MODE_MINOR"}
_UFFD_REASONS = {"missing": "FV_UFFD_MISSING", "wp": "FV_UFFD_WP", "minor": "FV_UFFD_MINOR"}
_UFFD_ACTIONS = {"manual": "FV_UFFD_MANUAL", "copy": "FV_UFFD_BY_COPY",
                 "zeropage": "FV_UFFD_BY_ZEROPAGE", "continue": "FV_UFFD_BY_CONTINUE",
                 "unprotect": "FV_UFFD_BY_UNPROTECT"}
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
    # statement index → why it cannot run on the real kernel although the engine ran
    # it: an access that blocked in handle_userfault, or what completed one
    blocking: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UffdHost:
    """userfaultfd(2) on the machine that runs the program: the UFFDIO_API features it
    offers (language names), and why the program cannot open one ("" when it can)."""

    features: frozenset[str] = frozenset(UFFD_FEATURES)
    missing: str = ""


@dataclass(frozen=True)
class Planned:
    """One statement as the program treats it. kind: skip measure fork observe spawn exit
    control (run by the program's controller, outside every window: files)."""

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
    # setting key → why the machine cannot run what depends on it (host.unavailable)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    files: FileState = field(default_factory=FileState)
    uffd: UffdHost = field(default_factory=UffdHost)

    def need(self, *keys: str) -> None:
        """Skip the statement when a setting it depends on is not the scenario's here."""
        for key in keys:
            if key in self.unavailable:
                raise _SkipStatement(self.unavailable[key])

    def pages(self, target: ast.Target) -> range:
        """The addresses a target touches, in order: Machine.addresses, from the layout."""
        if isinstance(target, ast.Absolute):
            for name in _mappings_at(self.layout, target.address):
                if name in self.tainted:
                    raise _SkipStatement(self.tainted[name])
                self._disk_read(name)
            return range(target.address, target.address + 1)
        if target.mapping in self.tainted:
            raise _SkipStatement(self.tainted[target.mapping])
        self._disk_read(target.mapping)
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

    def _disk_read(self, mapping: str) -> None:
        # A fault on a cold disk file reads what readahead decides: read_ahead_kb.
        if self.files.reads_disk(mapping):
            self.need("read_ahead")

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
    if stmt.kind == "file" or (stmt.kind == "shmem" and not shared):
        return _emit_file_map(stmt, ctx, placed, shared)
    # MAP_SHARED|MAP_ANONYMOUS is shmem; a private shmem mapping needs a file, as do the rest.
    if stmt.kind not in ("anon", "shmem", "hugetlb") or (stmt.kind == "shmem" and not shared):
        kind = "private shmem" if stmt.kind == "shmem" else stmt.kind
        raise _SkipStatement(f"verify does not translate {kind} mappings yet")
    start, size = placed
    flags = ["MAP_SHARED" if shared else "MAP_PRIVATE", "MAP_ANONYMOUS"]
    if stmt.kind == "hugetlb":
        flags += _hugetlb_flags(ctx)
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


# --- files and memfd (the program's side: runtime.c, files section) ----------------------


def _emit_file_map(stmt: ast.Map, ctx: _Context, placed: tuple[int, int],
                   shared: bool) -> _Emitted:
    start, size = placed
    flags = ["MAP_SHARED" if shared else "MAP_PRIVATE"]
    flags += [_MAP_OPTIONS[o] for o in stmt.options if o in _MAP_OPTIONS]
    place = "FV_PLACE_SIM" if stmt.at is None else "FV_PLACE_USER"
    if stmt.kind == "shmem":
        # a private shmem mapping maps a tmpfs file of its own
        call = f"fv_map_memfd({start:#x}UL, {size:#x}UL, {_prot(stmt.prot)}, " \
               f"{' | '.join(flags)}, {place});"
    else:
        declared = ctx.files.decls.get(stmt.file or "")
        if declared is None:
            raise _SkipStatement(f"the file '{stmt.file}' was not created on the real kernel")
        if is_hugetlbfs(declared[1]):
            # a hugetlb mapping of the file (no MAP_HUGETLB: the file is on hugetlbfs);
            # mmap reserves pool pages (ENOMEM), so the pool must be the scenario's
            ctx.need("hugepages")
        ctx.files.mapped[stmt.name] = declared[1].name
        if {"populate", "locked", "willneed", "populate_read", "populate_write"} \
                & set(stmt.options):
            ctx._disk_read(stmt.name)
        call = f"fv_map_file({start:#x}UL, {size:#x}UL, {_prot(stmt.prot)}, " \
               f"{' | '.join(flags)}, {place}, {declared[0]}, {stmt.offset:#x}UL);"
    body = [f"\tuintptr_t a = {call}"]
    advice = [o for o in stmt.options if o in _ADVICE]
    if advice:
        body += ["", "\tif (!a)", "\t\treturn;"]
        body += [f"\tfv_range_call(SYS_madvise, a, {size:#x}UL, {_ADVICE[o]});" for o in advice]
    else:
        body.append("\t(void)a;")
    return _Emitted("measure", "\n".join(body))


@_emits(ast.FileDecl)
def _emit_file(stmt: ast.FileDecl, ctx: _Context) -> _Emitted:
    if stmt.name not in ctx.files.decls:
        if stmt.dax:
            raise _SkipStatement("verify does not translate DAX files: an ext4 dax file needs "
                                 "a persistent-memory (pmem) device, which this machine "
                                 "does not have")
        raise _SkipStatement(f"verify does not translate files on {stmt.fs} yet")
    number, _ = ctx.files.decls[stmt.name]
    if is_hugetlbfs(stmt):
        # memfd_create(MFD_HUGETLB | MFD_HUGE_2MB): `cached` is fallocate from the pool
        ctx.need("hugepages")
    ctx.files.declared(stmt)
    ranges = cached_ranges(stmt)
    fs = {"tmpfs": "FV_FS_TMPFS", "hugetlbfs": "FV_FS_HUGETLBFS"}.get(stmt.fs, "FV_FS_DISK")
    body = []
    if ranges:
        pairs = ", ".join(f"{a:#x}, {b:#x}" for a, b in ranges)
        body.append(f"\tstatic const uint64_t cached[] = {{ {pairs} }};\t/* [first, end) pages */")
    body.append(f"\tfv_file_create({number}, \"{c_name(stmt.name)}\", {fs}, {stmt.size:#x}UL, "
                f"{stmt.folio:#x}UL, {'cached' if ranges else 'NULL'}, {len(ranges)});")
    return _Emitted("control", "\n".join(body))


@_emits(ast.Truncate)
def _emit_truncate(stmt: ast.Truncate, ctx: _Context) -> _Emitted:
    declared = ctx.files.decls.get(stmt.file)
    if declared is None:
        raise _SkipStatement(f"the file '{stmt.file}' was not created on the real kernel")
    if is_hugetlbfs(declared[1]):
        ctx.need("hugepages")           # its `file` statement was skipped without the pool
    ctx.files.truncated(stmt.file, stmt.size)
    return _Emitted("control", f"\tfv_file_truncate({declared[0]}, {stmt.size:#x}UL);")


@_emits(ast.DropCaches)
def _emit_drop_caches(stmt: ast.DropCaches, ctx: _Context) -> _Emitted:
    # The engine's drop_caches is fs/drop_caches.c (drop clean, unmapped page-cache
    # folios of every file, writing nothing back): `echo 1 > drop_caches` exactly.
    # POSIX_FADV_DONTNEED would first start writeback of dirty pages, which it is not.
    ctx.files.dropped()
    return _Emitted("control", "\tfv_drop_caches();")


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


# --- swap and hugetlb ---------------------------------------------------------------


def _hugetlb_flags(ctx: _Context) -> list[str]:
    # The language's hugetlb pages are the 2 MiB pool (`set hugepages`): no 1 GiB option.
    ctx.need("hugepages")
    return ["MAP_HUGETLB", "MAP_HUGE_2MB"]


@_emits(ast.Swapout)
def _emit_swapout(stmt: ast.Swapout, ctx: _Context) -> _Emitted:
    # The engine's swapout is MADV_PAGEOUT on the span; the program also counts the
    # pages of the span whose PTE became a swap entry (pagemap), which the engine counts
    # the same way. Without the scenario's swap device, MADV_PAGEOUT would do something
    # else (keep anonymous pages), so it is skipped.
    ctx.need("swap", "swap_device")
    lo, hi = ctx.span(stmt.target)
    return _Emitted("measure", f"\tfv_swapout({lo:#x}UL, {hi - lo:#x}UL);")


@_emits(ast.Reclaim)
def _emit_reclaim(stmt: ast.Reclaim, ctx: _Context) -> _Emitted:
    raise _SkipStatement("the real kernel has no call that reclaims N chosen pages "
                         "(swapout RANGE is MADV_PAGEOUT)")


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


# --- userfaultfd: the runtime's "userfaultfd" section does the work ----------------------


def _uffd_call(ctx: _Context, call: str, target: ast.Target, *args: str) -> _Emitted:
    if ctx.uffd.missing:
        raise _SkipStatement(ctx.uffd.missing)
    lo, hi = ctx.span(target)
    return _Emitted("measure", f"\t{call}({', '.join((f'{lo:#x}UL', f'{hi - lo:#x}UL', *args))});")


@_emits(ast.UffdRegister)
def _emit_uffd_register(stmt: ast.UffdRegister, ctx: _Context) -> _Emitted:
    if "event_fork" in stmt.features:
        raise _SkipStatement("event_fork: the handler would have to take over every fork "
                             "child's new userfaultfd (UFFD_EVENT_FORK), which verify does "
                             "not translate")
    lacking = [f for f in stmt.features if f not in ctx.uffd.features]
    if lacking and not ctx.uffd.missing:
        raise _SkipStatement(f"this kernel's userfaultfd lacks {', '.join(lacking)} "
                             "(UFFDIO_API features)")
    modes = " | ".join(_UFFD_MODES[m] for m in dict.fromkeys(stmt.modes))
    features = " | ".join(f"UFFD_FEATURE_{f.upper()}" for f in dict.fromkeys(stmt.features))
    return _uffd_call(ctx, "fv_uffd_register", stmt.target, modes, features or "0")


@_emits(ast.UffdHandle)
def _emit_uffd_handle(stmt: ast.UffdHandle, ctx: _Context) -> _Emitted:
    if ctx.uffd.missing:
        raise _SkipStatement(ctx.uffd.missing)
    return _Emitted("measure", f"\tfv_uffd_handle({_UFFD_REASONS[stmt.mode]}, "
                               f"{_UFFD_ACTIONS[stmt.action]}, {stmt.value or 0});")


def _uffd_mode(stmt: ast.Statement, ioctl: str, *bits: str) -> str:
    """The ioctl's mode: fixed bits, then one per mode word (dontwake → ..._MODE_DONTWAKE)."""
    words = [*bits, *(f"{ioctl}_MODE_{w.upper()}" for w in getattr(stmt, "flags", ()))]
    return " | ".join(words) or "0"


@_emits(ast.UffdUnregister, ast.UffdWake)
def _emit_uffd_range(stmt: ast.UffdWake, ctx: _Context) -> _Emitted:
    call = "fv_uffd_unregister" if isinstance(stmt, ast.UffdUnregister) else "fv_uffd_wake"
    return _uffd_call(ctx, call, stmt.target)


@_emits(ast.UffdZeropage, ast.UffdContinue, ast.UffdPoison)
def _emit_uffd_fill(stmt: ast.UffdZeropage, ctx: _Context) -> _Emitted:
    name = type(stmt).__name__[len("Uffd"):].upper()
    return _uffd_call(ctx, f"fv_uffd_{name.lower()}", stmt.target,
                      _uffd_mode(stmt, f"UFFDIO_{name}"))


@_emits(ast.UffdCopy)
def _emit_uffd_copy(stmt: ast.UffdCopy, ctx: _Context) -> _Emitted:
    return _uffd_call(ctx, "fv_uffd_copy", stmt.target, str(stmt.value or 0),
                      _uffd_mode(stmt, "UFFDIO_COPY"))


@_emits(ast.UffdWriteprotect)
def _emit_uffd_writeprotect(stmt: ast.UffdWriteprotect, ctx: _Context) -> _Emitted:
    on = ("UFFDIO_WRITEPROTECT_MODE_WP",) if stmt.on else ()
    return _uffd_call(ctx, "fv_uffd_writeprotect", stmt.target,
                      _uffd_mode(stmt, "UFFDIO_WRITEPROTECT", *on))


@_emits(ast.UffdMove)
def _emit_uffd_move(stmt: ast.UffdMove, ctx: _Context) -> _Emitted:
    src, _ = ctx.span(stmt.source)
    return _uffd_call(ctx, "fv_uffd_move", stmt.target, f"{src:#x}UL",
                      _uffd_mode(stmt, "UFFDIO_MOVE"))


@_emits(ast.Migrate, ast.MigrateRelease)
def _emit_migrate(stmt: ast.Statement, ctx: _Context) -> _Emitted:
    # move_pages(2) to another node fails with ENODEV on a machine with one NUMA node
    # (this one), and `hold` has no real counterpart: the kernel's window is microseconds.
    raise _SkipStatement("NUMA migration is not compared: this machine has one NUMA node "
                         "(move_pages would fail with ENODEV)")


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
           tainted: dict[str, str], resumed: bool = False) -> None:
    """A statement the engine ran but the program skips: from here on the real memory of
    what it touched differs from the simulated one, so what uses that memory is skipped.
    resumed: it completed an access that had blocked (a `uffd handle` can, on any mapping)."""
    if isinstance(inner, _NO_EFFECT) and not resumed:
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
    source = getattr(inner, "source", None)     # uffd move: its pages leave the source
    if isinstance(source, ast.Absolute):
        names = names + _mappings_at(layout, source.address)
    elif source is not None:
        names = names + [source.mapping]
    for name in names:
        tainted.setdefault(name, f"mapping '{name}' was changed by line {line}, which does not "
                                 "run on the real kernel")


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


def generate(scenario: ast.Scenario, layout: Layout,
             unavailable: Optional[Mapping[str, str]] = None,
             uffd: Optional[UffdHost] = None) -> Program:
    """The C program for `scenario` with the simulation's `layout`. unavailable: setting
    key → why this machine cannot run what depends on it (host.unavailable); uffd: what
    its userfaultfd offers (host.userfaultfd; by default everything)."""
    processes = ["main"]
    files = FileState.of(scenario, layout.skipped)
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
        emitted = _emit(inner, stmt, _Context(layout, index, tainted, unavailable or {},
                                              files, uffd=uffd or UffdHost()))
        if emitted.kind not in ("skip", "spawn", "control") and process not in processes:
            emitted = _Emitted("skip", reason=f"process '{process}' does not exist")
        if emitted.child and emitted.child not in processes:
            if len(processes) == MAX_PROCESSES:
                emitted = _Emitted("skip", reason=f"more than {MAX_PROCESSES} processes")
            else:
                processes.append(emitted.child)
        if isinstance(inner, ast.Map):
            mapped.append(inner.name)
        if emitted.kind == "skip" and not unsupported(stmt) and index not in layout.skipped:
            _taint(inner, stmt.span.line, layout, mapped, tainted,
                   resumed=index in layout.blocking and not isinstance(inner, ast.Access))
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
    if ctx.index in ctx.layout.blocking:
        return _Emitted("skip", reason=ctx.layout.blocking[ctx.index])
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
