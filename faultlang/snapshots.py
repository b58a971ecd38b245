"""Plain-data views of a run: what the engine reports and the renderers draw.

Nothing here refers to engine objects. CallFrame and StepRecord are made in the
millions, so they are plain slotted classes rather than frozen ones: treat them as
read-only all the same. The runtime fills these from the engine;
`faultlang.render` and the JSON output read only these (and never import
faultlang.kernel). Every class converts to JSON-ready data with `to_data()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence


def _data(obj: Any) -> Any:
    return asdict(obj)


@dataclass(slots=True)
class CallFrame:
    """One kernel function entered during a fault.

    depth: nesting (0 = exc_page_fault or the GUP entry); symbol: kernel name;
    file: kernel source file; why: the reason the caller took this branch, or what
    the function decided; ret: the VM_FAULT_* names it returned ("" = 0), or None
    for functions that return no fault bits.
    """

    depth: int
    symbol: str
    file: str
    why: str = ""
    ret: Optional[str] = None


@dataclass(slots=True)
class StepRecord:
    """One access to one page (a range access gives one record per page touched),
    or one GUP fault (op "gup": populate, mlock, madvise populate_*)."""

    n: int
    line: int
    process: str
    op: str
    address: int
    outcome: str              # none minor major SIGSEGV SIGBUS blocked oom
    si_code: Optional[str] = None       # SEGV_MAPERR SEGV_ACCERR BUS_ADRERR ...
    error_code: Optional[int] = None    # x86 #PF error code, None when no fault
    value: Optional[int] = None         # value read or written
    handler: Optional[str] = None       # the function that decided the outcome
    frames: Sequence[CallFrame] = ()    # the call path, retried attempt included (a CallPath)
    around: int = 0                     # extra pages mapped by fault-around
    target: str = ""                    # how the scenario named it: "heap[3]"
    statement: int = 0                  # index of the statement that made it

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(f.symbol for f in self.frames)

    def to_data(self) -> dict:
        d = {"n": self.n, "line": self.line, "process": self.process, "op": self.op,
             "address": f"{self.address:#x}", "outcome": self.outcome,
             "path": list(self.path)}
        if self.target:
            d["target"] = self.target
        if self.si_code:
            d["si_code"] = self.si_code
        if self.error_code is not None:
            d["error_code"] = f"{self.error_code:#x}"
        if self.value is not None:
            d["value"] = self.value
        if self.handler:
            d["handler"] = self.handler
        if self.around:
            d["around"] = self.around
        return d


@dataclass(frozen=True)
class Counters:
    """Per-process counters as /proc/PID/stat and perf would show them."""

    minflt: int = 0
    majflt: int = 0
    page_faults: int = 0      # perf PERF_COUNT_SW_PAGE_FAULTS
    perf_minor: int = 0       # perf minor-faults
    perf_major: int = 0       # perf major-faults
    rss: int = 0              # pages (anon + file + shmem)
    rss_anon: int = 0
    rss_file: int = 0
    rss_shmem: int = 0
    swap: int = 0             # swap entries (MM_SWAPENTS)


@dataclass(frozen=True)
class VmaView:
    start: int
    end: int
    name: str
    kind: str                 # anon, file, shmem, hugetlb, device, stack
    prot: str                 # "rw-"
    shared: bool
    flags: tuple[str, ...]    # VM_* names beyond the protections
    pgoff: int = 0
    file: Optional[str] = None
    anon_vma: bool = False


@dataclass(frozen=True)
class PteView:
    """A present or non-present leaf entry (PTE, or a huge PMD)."""

    index: int                # index in its table
    address: int              # virtual address it maps
    level: str                # "PTE" or "PMD"
    raw: int
    flags: tuple[str, ...]    # present rw user accessed dirty nx special soft-dirty ...
    pfn: Optional[int]
    state: str                # resident zero cow swapped huge protnone marker ...
    value: Optional[int] = None
    mapping: str = ""         # the scenario name of the mapping, with page index
    file_offset: Optional[int] = None


@dataclass(frozen=True)
class TableView:
    """A page-table page at some level and the entries that lead to the leaves."""

    level: str                # PGD P4D PUD PMD PTE
    index: int                # index of this table's entry in its parent (-1 for the root)
    address: int              # first virtual address it covers
    folded: bool = False
    children: tuple["TableView", ...] = ()
    leaves: tuple[PteView, ...] = ()


@dataclass(frozen=True)
class PageTableSnapshot:
    process: str
    levels: int
    root: TableView

    def to_data(self) -> dict:
        return _data(self)


@dataclass(frozen=True)
class ProcessView:
    name: str
    pid: int
    counters: Counters
    vmas: tuple[VmaView, ...]
    alive: bool = True
    node: int = 0


@dataclass(frozen=True)
class MemoryView:
    total_frames: int
    free_frames: int
    used_frames: int
    anon_pages: int
    file_pages: int
    shmem_pages: int
    swap_total: int = 0
    swap_used: int = 0
    swap_cache: int = 0
    hugepages_total: int = 0
    hugepages_free: int = 0
    extra: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """What a `show` statement (or the REPL) looked at: exactly one field is set."""

    view: str
    process: str
    line: int = 0
    pagetable: Optional[PageTableSnapshot] = None
    vmas: tuple[VmaView, ...] = ()
    processes: tuple[ProcessView, ...] = ()
    vmstat: tuple[tuple[str, int], ...] = ()
    memory: Optional[MemoryView] = None
    settings: tuple[tuple[str, str, str], ...] = ()   # (key, value, default)
    step: Optional[StepRecord] = None
    log: tuple[StepRecord, ...] = ()
    text: str = ""                                      # preformatted views (pagecache, swap, ...)

    def to_data(self) -> dict:
        return _data(self)


@dataclass(frozen=True)
class ExpectResult:
    line: int
    ok: bool
    text: str
    expected: Any
    actual: Any

    def to_data(self) -> dict:
        return {"line": self.line, "ok": self.ok, "text": self.text,
                "expected": self.expected, "actual": self.actual}


@dataclass(frozen=True)
class StatementRecord:
    """One statement as run: its text, the steps it made, notes, and what it showed."""

    index: int
    line: int
    text: str
    process: str
    kind: str
    first_step: int = 0       # steps [first_step, last_step) belong to it
    last_step: int = 0
    notes: tuple[str, ...] = ()
    snapshot: Optional[Snapshot] = None
    expect: Optional[ExpectResult] = None


@dataclass
class RunReport:
    scenario: str
    title: str
    kernel: str
    settings: tuple[tuple[str, str, str], ...]
    statements: list[StatementRecord] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    processes: tuple[ProcessView, ...] = ()
    vmstat: tuple[tuple[str, int], ...] = ()
    expects: list[ExpectResult] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(e.ok for e in self.expects)

    def to_data(self) -> dict:
        """The JSON result of spec section 12 (keys are added, never renamed)."""
        return {
            "scenario": self.scenario,
            "title": self.title,
            "kernel": self.kernel,
            "ok": self.ok,
            "steps": [s.to_data() for s in self.steps],
            "processes": {p.name: {"minflt": p.counters.minflt, "majflt": p.counters.majflt,
                                   "rss": p.counters.rss, "swap": p.counters.swap,
                                   "page_faults": p.counters.page_faults,
                                   "alive": p.alive}
                          for p in self.processes},
            "vmstat": dict(self.vmstat),
            "expects": [e.to_data() for e in self.expects],
            "settings": {k: v for k, v, _ in self.settings},
            **({"error": self.error} if self.error else {}),
        }
