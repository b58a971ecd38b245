"""The scenario AST: one frozen dataclass per statement of language v0.

Text (`.fault`) and YAML both lower to these nodes. Every node carries a `span`
(where it came from) that is left out of equality, so the same scenario written in
both syntaxes gives equal ASTs. Sizes and addresses are plain ints (bytes);
protections are normalised to three characters ("rw-"); names are strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union


@dataclass(frozen=True)
class Span:
    """Where a node came from: 1-based line and column, end exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int


NO_SPAN = Span(0, 0, 0, 0)


@dataclass(frozen=True)
class Node:
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# --- targets: addresses and ranges (spec section 2) -------------------------


@dataclass(frozen=True)
class PageIndex(Node):
    """`heap[3]`: the first byte of page 3 of mapping `heap`."""

    mapping: str
    index: int


@dataclass(frozen=True)
class PageRange(Node):
    """`heap[0..16 step 2]`, `heap[*]` (start and stop None), optionally `reverse`."""

    mapping: str
    start: Optional[int] = None
    stop: Optional[int] = None
    step: int = 1
    reverse: bool = False


@dataclass(frozen=True)
class ByteOffset(Node):
    """`heap+0x1800`: a byte offset into a mapping."""

    mapping: str
    offset: int


@dataclass(frozen=True)
class Absolute(Node):
    """`0x7f0000003000`: an absolute virtual address."""

    address: int


Target = Union[PageIndex, PageRange, ByteOffset, Absolute]


# --- declarations and machine set-up (sections 3, 4, 5) ----------------------


@dataclass(frozen=True)
class Title(Node):
    text: str


@dataclass(frozen=True)
class Set(Node):
    """`set KEY VALUE`; VALUE is an int for sizes and numbers, else the word."""

    key: str
    value: Union[int, str]


@dataclass(frozen=True)
class FileDecl(Node):
    """`file NAME size S [on FS [dax]] [cached|uncached|cached PAGES] [folio S]`.

    `memfd NAME size S` is the same declaration with fs="tmpfs" and memfd=True.
    `cached_pages` lists half-open page ranges; `cached_all` puts every page in.
    `written` names the clauses that were written although they only restate a default
    ("uncached", "folio"): equal meaning, so left out of equality, but a file system
    where the clause means nothing (hugetlbfs) is told so.
    """

    name: str
    size: int
    fs: str = "ext4"
    dax: bool = False
    cached_all: bool = False
    cached_pages: tuple[tuple[int, int], ...] = ()
    folio: int = 4096
    memfd: bool = False
    written: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ProcessDecl(Node):
    name: str
    node: int = 0


@dataclass(frozen=True)
class Fork(Node):
    """`fork PARENT -> CHILD`, or `fork CHILD` (parent None: the current process)."""

    child: str
    parent: Optional[str] = None


@dataclass(frozen=True)
class Exit(Node):
    name: str


@dataclass(frozen=True)
class Switch(Node):
    name: str


@dataclass(frozen=True)
class As(Node):
    """`as NAME: STATEMENT`."""

    process: str
    statement: "Statement"


@dataclass(frozen=True)
class Map(Node):
    """`map NAME KIND ...`; KIND is anon, file, shmem, hugetlb or device.

    prot None means the default ("rw-"); shared None means the kind's default
    (shmem: shared, others: private). `options` keeps source order and holds
    populate, locked, noreserve, growsdown and madvise advice words.
    """

    name: str
    kind: str
    size: int
    file: Optional[str] = None
    offset: int = 0
    at: Optional[int] = None
    prot: Optional[str] = None
    shared: Optional[bool] = None
    options: tuple[str, ...] = ()
    mapped: Optional[int] = None


@dataclass(frozen=True)
class Munmap(Node):
    target: Target


@dataclass(frozen=True)
class Mprotect(Node):
    target: Target
    prot: str


@dataclass(frozen=True)
class Madvise(Node):
    target: Target
    advice: str


@dataclass(frozen=True)
class Mlock(Node):
    target: Target


@dataclass(frozen=True)
class Munlock(Node):
    target: Target


@dataclass(frozen=True)
class Msync(Node):
    target: Target


@dataclass(frozen=True)
class Truncate(Node):
    file: str
    size: int


# --- accesses (section 6) ----------------------------------------------------


@dataclass(frozen=True)
class Access(Node):
    """read, write, exec, kread or kwrite of a target; `value` only for writes."""

    op: str
    target: Target
    value: Optional[int] = None


@dataclass(frozen=True)
class Trace(Node):
    path: str
    format: Optional[str] = None


# --- swap, reclaim, NUMA (section 7) -----------------------------------------


@dataclass(frozen=True)
class Swapout(Node):
    target: Target


@dataclass(frozen=True)
class Reclaim(Node):
    count: int


@dataclass(frozen=True)
class DropCaches(Node):
    pass


@dataclass(frozen=True)
class NumaScan(Node):
    target: Target


@dataclass(frozen=True)
class Migrate(Node):
    """`migrate TARGET to node N [hold]`: move_pages(2); `hold` stops every page after its
    migration entries are installed, until `migrate release`."""
    target: Target
    node: int
    hold: bool = False


@dataclass(frozen=True)
class MigrateRelease(Node):
    """`migrate release`: finish the held migration (copy, PTEs back, wake the waiters)."""


# --- userfaultfd (section 8) ---------------------------------------------------


@dataclass(frozen=True)
class UffdRegister(Node):
    target: Target
    modes: tuple[str, ...]
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class UffdUnregister(Node):
    target: Target


@dataclass(frozen=True)
class UffdHandle(Node):
    """`uffd handle MODE by ACTION [VALUE]` or `uffd handle MODE manually` (action "manual")."""

    mode: str
    action: str
    value: Optional[int] = None


@dataclass(frozen=True)
class UffdCopy(Node):
    """`uffd copy TARGET [= VALUE] [dontwake] [wp]`; flags: the ioctl's mode words."""

    target: Target
    value: Optional[int] = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class UffdZeropage(Node):
    target: Target
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class UffdContinue(Node):
    target: Target
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class UffdWriteprotect(Node):
    target: Target
    on: bool
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class UffdMove(Node):
    """`uffd move SOURCE to TARGET [allow_src_holes] [dontwake]` (UFFDIO_MOVE)."""

    source: Target
    target: Target
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class UffdPoison(Node):
    """`uffd poison TARGET [dontwake]` (UFFDIO_POISON)."""

    target: Target
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class UffdWake(Node):
    target: Target


# --- observing and checking (section 10) -------------------------------------


@dataclass(frozen=True)
class Show(Node):
    """`show VIEW [ARG]`. ARG: a target (pagetable), a step number or "last"
    (path), a file name (pagecache), or None."""

    view: str
    arg: Union[Target, int, str, None] = None


@dataclass(frozen=True)
class ExpectCounter(Node):
    """`expect [delta] [PROC.]COUNTER OP N`.

    COUNTER: minflt majflt pgfault pgmajfault page_faults rss free swap_used.
    process None means the current process (for per-process counters).
    """

    counter: str
    op: str
    value: int
    process: Optional[str] = None
    delta: bool = False


@dataclass(frozen=True)
class ExpectOutcome(Node):
    """`expect outcome [N|last] OP VALUE`; step None means last."""

    op: str
    value: str
    step: Optional[int] = None


@dataclass(frozen=True)
class ExpectPath(Node):
    """`expect path [N|last] contains FUNCTION`; step None means last."""

    function: str
    step: Optional[int] = None


@dataclass(frozen=True)
class ExpectState(Node):
    target: Target
    op: str
    value: str


@dataclass(frozen=True)
class ExpectValue(Node):
    target: Target
    op: str
    value: int


Expect = Union[ExpectCounter, ExpectOutcome, ExpectPath, ExpectState, ExpectValue]

Statement = Union[
    Title, Set, FileDecl, ProcessDecl, Fork, Exit, Switch, As, Map,
    Munmap, Mprotect, Madvise, Mlock, Munlock, Msync, Truncate,
    Access, Trace, Swapout, Reclaim, DropCaches, NumaScan, Migrate, MigrateRelease,
    UffdRegister, UffdUnregister, UffdHandle, UffdCopy, UffdZeropage,
    UffdContinue, UffdWriteprotect, UffdWake,
    Show, ExpectCounter, ExpectOutcome, ExpectPath, ExpectState, ExpectValue,
]


@dataclass(frozen=True)
class Scenario(Node):
    """A whole scenario: its statements in order, and where it came from."""

    statements: tuple[Statement, ...]
    source_name: str = field(default="<input>", compare=False)
    source_text: str = field(default="", compare=False, repr=False)
