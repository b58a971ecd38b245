"""Static checks on a parsed Scenario, before anything runs.

Catches what the grammar cannot: unknown or twice-declared names, indices outside a
mapping, sizes and alignments the kernel would refuse, bad `set` values, `set` after the
first access, and word values the YAML form cannot constrain (advice, prot, outcome...).
Each problem is a ScenarioError at the node's span with a one-sentence hint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Callable, Iterable, Optional

from faultlang.errors import ScenarioError
from faultlang.lang import ast
from faultlang.lang.lexical import (
    ACCESS_OPS,
    ADVICE,
    CMP_OPS,
    COUNTERS,
    EQ_OPS,
    FS_TYPES,
    MAP_KINDS,
    MAP_OPTIONS,
    OUTCOMES,
    PAGE_STATES,
    PROCESS_COUNTERS,
    SHOW_VIEWS,
    TRACE_FORMATS,
    UFFD_FEATURES,
    UFFD_MODES,
    format_size,
    is_name,
    one_of,
    suggestion,
)
from faultlang.lang.settings import check_setting

__all__ = ["check", "check_all", "PAGE_SIZE", "HUGE_PAGE_SIZE"]

PAGE_SIZE = 4096
HUGE_PAGE_SIZE = 2 << 20
UFFD_ACTIONS_BY_MODE = {"missing": ("copy", "zeropage"), "wp": ("unprotect",),
                        "minor": ("continue",)}
# which mode words each ioctl has (include/uapi/linux/userfaultfd.h)
UFFD_FLAGS_BY_IOCTL = {"copy": ("dontwake", "wp"), "zeropage": ("dontwake",),
                       "continue": ("dontwake", "wp"), "writeprotect": ("dontwake",),
                       "move": ("allow_src_holes", "dontwake"), "poison": ("dontwake",)}


def check(scenario: ast.Scenario) -> None:
    """Raise the first problem found in `scenario`, if any."""
    errors = check_all(scenario)
    if errors:
        raise errors[0]


def check_all(scenario: ast.Scenario) -> list[ScenarioError]:
    """Every problem found in `scenario`, in source order."""
    checker = _Checker(scenario)
    for statement in scenario.statements:
        checker.statement(statement)
    return checker.errors


@dataclass
class _Checker:
    scenario: ast.Scenario
    errors: list[ScenarioError] = field(default_factory=list)
    files: dict[str, ast.FileDecl] = field(default_factory=dict)
    mappings: dict[str, ast.Map] = field(default_factory=dict)
    processes: dict[str, int] = field(default_factory=lambda: {"main": 0})
    exited: set[str] = field(default_factory=set)
    numa_nodes: int = 1
    migration_held: bool = False
    accessed: bool = False

    # --- reporting ---------------------------------------------------------------

    def fail(self, node: ast.Node, message: str, hint: str) -> None:
        self.errors.append(ScenarioError(message, hint, node.span, self.scenario.source_name,
                                         self.scenario.source_text))

    def unknown(self, node: ast.Node, what: str, name: str, known: Iterable[str],
                declare: str) -> None:
        self.fail(node, f"unknown {what} '{name}'", suggestion(name, known, declare))

    def word(self, node: ast.Node, what: str, value: str, allowed: Iterable[str]) -> bool:
        choices = tuple(allowed)
        if value in choices:
            return True
        self.fail(node, f"unknown {what} '{value}'",
                  suggestion(value, choices, f"use one of {one_of(choices)}"))
        return False

    # --- dispatch ------------------------------------------------------------------

    def statement(self, node: ast.Statement) -> None:
        handler: Optional[Callable] = getattr(self, f"_{type(node).__name__}", None)
        if handler is not None:
            handler(node)

    def _As(self, node: ast.As) -> None:
        self.process_ref(node, node.process)
        if isinstance(node.statement, ast.As):
            self.fail(node.statement, "'as' cannot be nested",
                      "give one statement after 'as NAME:', or use 'switch NAME' for several")
            return
        self.statement(node.statement)

    # --- set-up --------------------------------------------------------------------

    def _Title(self, node: ast.Title) -> None:
        if not node.text.strip():
            self.fail(node, "the title is empty", 'write a short sentence, e.g. title "COW"')

    def _Set(self, node: ast.Set) -> None:
        if self.accessed:
            self.fail(node, f"'set {node.key}' comes after the first access",
                      "move every set to the top of the scenario, before any read or write")
        problem = check_setting(node.key, node.value)
        if problem is not None:
            self.fail(node, *problem)
        elif node.key == "numa_nodes" and isinstance(node.value, int):
            self.numa_nodes = node.value

    def _FileDecl(self, node: ast.FileDecl) -> None:
        if node.name in self.files:
            self.fail(node, f"the file '{node.name}' is declared twice",
                      "give each file its own name")
        self.files[node.name] = node
        if not self.word(node, "file system", node.fs, FS_TYPES):
            return
        if node.dax and node.fs != "ext4":
            self.fail(node, f"dax is only possible on ext4, not {node.fs}",
                      "write 'on ext4 dax', or drop 'dax'")
        if node.dax and (node.cached_all or node.cached_pages):
            self.fail(node, "a DAX file has no page cache: its pages live on the DAX device",
                      "drop 'cached' (every page of a DAX file is mapped straight from "
                      "the device)")
        if node.dax and node.folio != PAGE_SIZE:
            self.fail(node, f"a DAX file has no page-cache folios of {format_size(node.folio)}",
                      "drop 'folio' (a DAX fault maps 4 KiB pages or 2 MiB PMDs)")
        if node.fs == "hugetlbfs" and node.size % HUGE_PAGE_SIZE:
            self.fail(node, f"a hugetlbfs file of {format_size(node.size)} is not a whole "
                      "number of 2 MiB pages", "use a multiple of 2M, e.g. 4M")
        self.file_pages(node)
        self.folio(node)
        if node.fs == "hugetlbfs":
            self.hugetlbfs_file(node)

    def hugetlbfs_file(self, node: ast.FileDecl) -> None:
        """A hugetlbfs file has no backing store: its pages exist only in the hugetlb
        pool, allocated in whole 2 MiB pages (`cached` is fallocate(2) from the pool)."""
        if "uncached" in node.written:
            self.fail(node, "'uncached' means nothing on hugetlbfs: the file has no backing "
                      "store, its contents exist only in hugetlb pool pages",
                      "drop 'uncached' (a page never allocated is a hole that its first "
                      "fault fills with a zeroed huge page), or write 'cached' to allocate "
                      "every page from the pool")
        if node.folio != HUGE_PAGE_SIZE and ("folio" in node.written or node.folio != PAGE_SIZE):
            self.fail(node, f"a hugetlbfs file is cached in 2 MiB huge pages, not "
                      f"{format_size(node.folio)} folios", "drop 'folio'")
        for start, stop in node.cached_pages:
            if start % 512 or stop % 512:
                self.fail(node, f"cached pages {start}..{stop} cover part of a 2 MiB huge "
                          "page: a hugetlbfs file is allocated in whole huge pages",
                          "cache whole huge pages of 512 pages each, e.g. cached [0..512]")

    def file_pages(self, node: ast.FileDecl) -> None:
        pages = -(-node.size // PAGE_SIZE)
        for start, stop in node.cached_pages:
            if start >= stop:
                self.fail(node, f"the cached range {start}..{stop} is empty",
                          "write the smaller page number first, e.g. cached [0..4]")
            elif stop > pages:
                self.fail(node, f"cached pages up to {stop} are beyond the end of "
                          f"'{node.name}' ({pages} pages)", f"cache pages below {pages}")

    def folio(self, node: ast.FileDecl) -> None:
        size = node.folio
        if size < PAGE_SIZE or size > HUGE_PAGE_SIZE or size & (size - 1):
            self.fail(node, f"a folio of {format_size(size)} is not possible",
                      "use a power of two from 4K to 2M, e.g. folio 64K")

    def _ProcessDecl(self, node: ast.ProcessDecl) -> None:
        self.new_process(node, node.name)
        if node.node < 0 or node.node >= self.numa_nodes:
            self.fail(node, f"NUMA node {node.node} does not exist "
                      f"(there {'is' if self.numa_nodes == 1 else 'are'} {self.numa_nodes})",
                      "raise 'set numa_nodes' first, or pick a node below it")

    def new_process(self, node: ast.Node, name: str) -> None:
        if not is_name(name):
            self.fail(node, f"'{name}' is not a process name", "use letters, digits and _")
        elif name in self.processes:
            self.fail(node, f"the process '{name}' already exists", "choose another name")
        self.processes[name] = 0

    def process_ref(self, node: ast.Node, name: str) -> None:
        if name in self.exited:
            self.fail(node, f"the process '{name}' has exited", "use a running process")
        elif name not in self.processes:
            self.unknown(node, "process", name, self.processes,
                         f"create it first with 'process {name}' or 'fork {name}'")

    def _Fork(self, node: ast.Fork) -> None:
        if node.parent is not None:
            self.process_ref(node, node.parent)
        self.new_process(node, node.child)

    def _Exit(self, node: ast.Exit) -> None:
        self.process_ref(node, node.name)
        self.exited.add(node.name)

    def _Switch(self, node: ast.Switch) -> None:
        self.process_ref(node, node.name)

    # --- mappings --------------------------------------------------------------------

    def _Map(self, node: ast.Map) -> None:
        if node.name in self.mappings:
            self.fail(node, f"the mapping '{node.name}' is already declared",
                      "mapping names are shared by all processes: choose another name")
        if not self.word(node, "mapping kind", node.kind, MAP_KINDS):
            return
        self.mappings[node.name] = node
        unit = HUGE_PAGE_SIZE if node.kind == "hugetlb" or self.on_hugetlbfs(node.file) \
            else PAGE_SIZE
        self.aligned_size(node, node.size, unit, "mapping size")
        if node.at is not None and node.at % unit:
            self.fail(node, f"address {node.at:#x} is not aligned to {format_size(unit)}",
                      f"use a multiple of {unit:#x}, e.g. {node.at - node.at % unit:#x}")
        self.map_file(node)
        if node.mapped is not None:
            self.map_device(node)
        if node.prot is not None:
            self.prot(node, node.prot)
        for option in node.options:
            self.word(node, "mapping option", option, MAP_OPTIONS)

    def aligned_size(self, node: ast.Node, size: int, unit: int, what: str) -> None:
        if size <= 0:
            self.fail(node, f"a {what} of {size} bytes is not possible",
                      f"give a positive multiple of {format_size(unit)}, e.g. {format_size(unit)}")
        elif size % unit:
            rounded = format_size(-(-size // unit) * unit)
            self.fail(node, f"a {what} of {format_size(size)} is not a multiple of "
                      f"{format_size(unit)}", f"round it up to {rounded}")

    def map_file(self, node: ast.Map) -> None:
        if node.kind != "file":
            if node.offset:
                self.fail(node, "only a file mapping takes an offset", "drop 'offset'")
            return
        if node.file is None or node.file not in self.files:
            name = node.file or ""
            self.unknown(node, "file", name, self.files,
                         f"declare it first, e.g. file {name or 'data'} size 64K")
        if node.offset % PAGE_SIZE or node.offset < 0:
            self.fail(node, f"file offset {node.offset:#x} is not page aligned",
                      "use a multiple of 4K, e.g. offset 4K")
        elif self.on_hugetlbfs(node.file) and node.offset % HUGE_PAGE_SIZE:
            self.fail(node, f"file offset {node.offset:#x} is not 2 MiB aligned: a hugetlbfs "
                      "file is mapped in whole huge pages (mmap fails with EINVAL)",
                      "use a multiple of 2M, e.g. offset 2M")

    def on_hugetlbfs(self, name: Optional[str]) -> bool:
        decl = self.files.get(name) if name is not None else None
        return decl is not None and decl.fs == "hugetlbfs"

    def map_device(self, node: ast.Map) -> None:
        mapped = node.mapped or 0
        if node.kind != "device":
            self.fail(node, "only a device mapping takes 'mapped'", "drop 'mapped'")
        elif mapped % PAGE_SIZE or mapped < 0 or mapped > node.size:
            self.fail(node, f"'mapped {format_size(mapped)}' does not fit the mapping",
                      f"use a multiple of 4K up to {format_size(node.size)}")

    def prot(self, node: ast.Node, prot: str) -> None:
        if not re.fullmatch(r"[r-][w-][x-]", prot):
            self.fail(node, f"'{prot}' is not a protection",
                      "write the letters r, w and x in that order, e.g. rw, r-x or ---")

    def _Munmap(self, node: ast.Munmap) -> None:
        self.target(node.target)

    _Mlock = _Munlock = _Msync = _Swapout = _NumaScan = _Munmap

    def _Migrate(self, node: ast.Migrate) -> None:
        self.target(node.target)
        if node.node < 0 or node.node >= self.numa_nodes:
            self.fail(node, f"NUMA node {node.node} does not exist "
                      f"(there {'is' if self.numa_nodes == 1 else 'are'} {self.numa_nodes})",
                      "raise 'set numa_nodes' first, or pick a node below it")
        if node.hold:
            if self.migration_held:
                self.fail(node, "a migration is already held",
                          "finish it with 'migrate release' first")
            self.migration_held = True

    def _MigrateRelease(self, node: ast.MigrateRelease) -> None:
        if not self.migration_held:
            self.fail(node, "no migration is held", "hold one with 'migrate TARGET to node N "
                      "hold' first")
        self.migration_held = False
    _UffdUnregister = _UffdWake = _Munmap

    def _Mprotect(self, node: ast.Mprotect) -> None:
        self.target(node.target)
        self.prot(node, node.prot)

    def _Madvise(self, node: ast.Madvise) -> None:
        self.target(node.target)
        self.word(node, "madvise advice", node.advice, ADVICE)

    def _Truncate(self, node: ast.Truncate) -> None:
        if node.file not in self.files:
            self.unknown(node, "file", node.file, self.files, "declare it with 'file' first")
        if node.size < 0:
            self.fail(node, "a file cannot have a negative size", "give a size such as 8K")
        elif self.on_hugetlbfs(node.file) and node.size % HUGE_PAGE_SIZE:
            self.fail(node, f"a hugetlbfs file cannot be truncated to {format_size(node.size)}"
                      ": its size is a whole number of 2 MiB pages (EINVAL)",
                      "truncate to a multiple of 2M, e.g. 2M")

    # --- targets ------------------------------------------------------------------------

    def target(self, target: ast.Target, single: str = "") -> None:
        if isinstance(target, ast.Absolute):
            return
        mapping = self.mappings.get(target.mapping)
        if mapping is None:
            self.unknown(target, "mapping", target.mapping, self.mappings,
                         f"declare it first, e.g. map {target.mapping} anon size 64K")
            return
        pages = -(-mapping.size // PAGE_SIZE)
        if isinstance(target, ast.PageIndex):
            self.index(target, target.index, pages, target.mapping)
        elif isinstance(target, ast.PageRange):
            self.page_range(target, pages, single)
        elif not 0 <= target.offset < mapping.size:
            self.fail(target, f"offset {target.offset:#x} is outside '{target.mapping}' "
                      f"({format_size(mapping.size)})",
                      f"use an offset below {mapping.size:#x}")

    def index(self, node: ast.Node, index: int, pages: int, name: str) -> None:
        if not 0 <= index < pages:
            self.fail(node, f"page {index} is outside '{name}', which has {pages} pages",
                      f"use a page index from 0 to {pages - 1}")

    def page_range(self, target: ast.PageRange, pages: int, single: str) -> None:
        start = 0 if target.start is None else target.start
        stop = pages if target.stop is None else target.stop
        if target.step <= 0:
            self.fail(target, f"a range step of {target.step} never advances",
                      "use a positive step, e.g. step 2")
        elif start >= stop:
            self.fail(target, f"the range {target.mapping}[{start}..{stop}] is empty",
                      f"write the smaller page first (heap[{stop}..{start}] reverse goes "
                      "backwards)" if start > stop else "give at least one page")
        elif stop > pages:
            self.fail(target, f"the range ends at page {stop}, beyond '{target.mapping}' "
                      f"({pages} pages)", f"end it at {pages} or below, or write "
                      f"{target.mapping}[*]")
        elif single and len(range(start, stop, target.step)) > 1:
            self.fail(target, f"expect {single} checks one page, not a range",
                      f"name one page, e.g. {target.mapping}[{start}]")

    # --- accesses ------------------------------------------------------------------------

    def _Access(self, node: ast.Access) -> None:
        self.accessed = True
        self.word(node, "access", node.op, ACCESS_OPS)
        self.target(node.target)
        if node.value is not None and node.op not in ("write", "kwrite"):
            self.fail(node, f"only a write stores a value, not {node.op}",
                      "drop '= VALUE', or use write")

    def _Trace(self, node: ast.Trace) -> None:
        self.accessed = True
        path = PurePosixPath(node.path.replace("\\", "/"))
        if not node.path or path.is_absolute() or ".." in path.parts:
            self.fail(node, f"the trace '{node.path}' is not beside the scenario",
                      "put the trace in the scenario's folder and name it relative to it")
        if node.format is not None:
            self.word(node, "trace format", node.format, TRACE_FORMATS)

    def _Reclaim(self, node: ast.Reclaim) -> None:
        if node.count <= 0:
            self.fail(node, "reclaim needs a positive number of pages", "e.g. reclaim 64")

    # --- userfaultfd -----------------------------------------------------------------------

    def _UffdRegister(self, node: ast.UffdRegister) -> None:
        self.target(node.target)
        if not node.modes:
            self.fail(node, "uffd register needs a mode", "add missing, wp or minor")
        for mode in node.modes:
            self.word(node, "userfaultfd mode", mode, UFFD_MODES)
        if len(set(node.modes)) != len(node.modes):
            self.fail(node, "a userfaultfd mode is listed twice", "list each mode once")
        for feature in node.features:
            self.word(node, "userfaultfd feature", feature, UFFD_FEATURES)

    def _UffdHandle(self, node: ast.UffdHandle) -> None:
        if not self.word(node, "userfaultfd mode", node.mode, UFFD_MODES):
            return
        allowed = UFFD_ACTIONS_BY_MODE[node.mode] + ("manual",)
        if node.action not in allowed:
            self.fail(node, f"a {node.mode} fault cannot be resolved by {node.action}",
                      f"use {one_of(allowed[:-1])}, or 'manually'")
        elif node.value is not None and node.action != "copy":
            self.fail(node, "only 'by copy' takes a value", "drop the value")

    def uffd_flags(self, node: ast.Node, ioctl: str, flags: tuple[str, ...]) -> None:
        allowed = UFFD_FLAGS_BY_IOCTL[ioctl]
        for flag in flags:
            if flag not in allowed:
                self.fail(node, f"uffd {ioctl} has no '{flag}' mode",
                          f"use {one_of(allowed)}" if len(allowed) > 1 else f"use {allowed[0]}")
        if len(set(flags)) != len(flags):
            self.fail(node, "a uffd mode word is given twice", "give each once")

    def _UffdCopy(self, node: ast.UffdCopy) -> None:
        self.target(node.target)
        self.uffd_flags(node, "copy", node.flags)

    def _UffdZeropage(self, node: ast.UffdZeropage) -> None:
        self.target(node.target)
        self.uffd_flags(node, "zeropage", node.flags)

    def _UffdContinue(self, node: ast.UffdContinue) -> None:
        self.target(node.target)
        self.uffd_flags(node, "continue", node.flags)

    def _UffdWriteprotect(self, node: ast.UffdWriteprotect) -> None:
        self.target(node.target)
        self.uffd_flags(node, "writeprotect", node.flags)

    def _UffdMove(self, node: ast.UffdMove) -> None:
        self.target(node.source)
        self.target(node.target)
        self.uffd_flags(node, "move", node.flags)

    def _UffdPoison(self, node: ast.UffdPoison) -> None:
        self.target(node.target)
        self.uffd_flags(node, "poison", node.flags)

    # --- observing and checking ---------------------------------------------------------

    def _Show(self, node: ast.Show) -> None:
        if not self.word(node, "view", node.view, SHOW_VIEWS):
            return
        arg = node.arg
        if node.view == "pagetable" and isinstance(arg, ast.Node):
            self.target(arg)
        elif node.view == "path" and arg not in (None, "last") and not isinstance(arg, int):
            self.fail(node, "show path takes a step number or 'last'", "e.g. show path last")
        elif node.view == "pagecache" and isinstance(arg, str):
            if arg not in self.files:
                self.unknown(node, "file", arg, self.files, "declare it with 'file' first")
        elif arg is not None and node.view not in ("pagetable", "path", "pagecache"):
            self.fail(node, f"show {node.view} takes no argument", f"write show {node.view}")

    def _ExpectCounter(self, node: ast.ExpectCounter) -> None:
        self.word(node, "counter", node.counter, COUNTERS)
        self.word(node, "comparison", node.op, CMP_OPS)
        if node.process is None:
            return
        if node.counter not in PROCESS_COUNTERS:
            self.fail(node, f"{node.counter} is machine-wide, not per process",
                      f"write expect {node.counter} {node.op} {node.value}")
        self.process_ref(node, node.process)

    def _ExpectOutcome(self, node: ast.ExpectOutcome) -> None:
        self.word(node, "comparison", node.op, EQ_OPS)
        self.word(node, "outcome", node.value, OUTCOMES)
        self.step(node, node.step)

    def _ExpectPath(self, node: ast.ExpectPath) -> None:
        if not is_name(node.function):
            self.fail(node, f"'{node.function}' is not a kernel function name",
                      "e.g. expect path last contains do_anonymous_page")
        self.step(node, node.step)

    def step(self, node: ast.Node, step: Optional[int]) -> None:
        if step is not None and step < 1:
            self.fail(node, f"there is no step {step}", "steps are numbered from 1")

    def _ExpectState(self, node: ast.ExpectState) -> None:
        self.target(node.target, single="state")
        self.word(node, "comparison", node.op, EQ_OPS)
        self.word(node, "page state", node.value, PAGE_STATES)

    def _ExpectValue(self, node: ast.ExpectValue) -> None:
        self.target(node.target, single="value")
        self.word(node, "comparison", node.op, CMP_OPS)

