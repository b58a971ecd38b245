"""Files for `faultlang verify`: what the generated program needs to know about the
scenario's files, and the scratch directory their real counterparts live in.

On the real kernel a disk file (`file NAME ...`, ext4) is an unnamed file (O_TMPFILE)
in a scratch directory on a disk file system, written with zeros in writes of the
folio size and synced; the pages the scenario leaves uncached are dropped with
POSIX_FADV_DONTNEED and checked with cachestat. A tmpfs file (`memfd`, `on tmpfs`) is
a memfd, a hugetlbfs file a hugetlb memfd (MFD_HUGETLB | MFD_HUGE_2MB) whose cached
pages are fallocate(2)d from the pool. runtime.c does that (its files section); this module chooses and checks the
scratch directory, which must not be tmpfs (a tmpfs file has no disk to read from, so
no major fault and no readahead), and removes it afterwards, also on SIGINT, SIGTERM
and SIGHUP.

read_ahead_kb of the scratch directory's device decides how much a fault on a cold
file reads: it is a relevant setting of every scenario that maps a disk file.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Optional

from faultlang.errors import FaultlangError
from faultlang.lang import ast
from faultlang.runtime.support import unsupported

__all__ = ["FileState", "ScratchDir", "cached_pages", "declares_disk_files",
           "filesystem_type", "free_huge_pages", "is_hugetlbfs", "maps_cold_files",
           "pool_change", "scratch_root"]

PAGE = 4096
# File systems without a disk behind them: their files cannot be cold.
_NO_DISK = {"tmpfs", "ramfs", "devtmpfs", "hugetlbfs", "proc", "sysfs"}
_RUN_PREFIX = "files-"


def _uses_disk(decl: ast.FileDecl) -> bool:
    return decl.fs == "ext4" and not decl.dax


@dataclass
class FileState:
    """What cgen knows about files while it walks the scenario: each file's number (its
    descriptor in the program), which mapping maps which file, and which disk files may
    have pages that a fault reads from the disk (so readahead decides the counts)."""

    decls: dict[str, tuple[int, ast.FileDecl]] = field(default_factory=dict)
    mapped: dict[str, str] = field(default_factory=dict)      # mapping → file
    cold: set[str] = field(default_factory=set)
    sizes: dict[str, int] = field(default_factory=dict)       # file → its size now

    @classmethod
    def of(cls, scenario: ast.Scenario, skipped: Any = ()) -> "FileState":
        """Number the declarations the program will run (not those skipped)."""
        state = cls()
        for index, stmt in enumerate(scenario.statements):
            inner = stmt.statement if isinstance(stmt, ast.As) else stmt
            if isinstance(inner, ast.FileDecl) and inner.name not in state.decls \
                    and index not in skipped and not unsupported(stmt) and translated(inner):
                state.decls[inner.name] = (len(state.decls), inner)
        return state

    def declared(self, decl: ast.FileDecl) -> None:
        self.sizes[decl.name] = decl.size
        if _uses_disk(decl) and not (decl.cached_all or self._covers(decl)):
            self.cold.add(decl.name)

    @staticmethod
    def _covers(decl: ast.FileDecl) -> bool:
        pages = -(-decl.size // PAGE)
        covered: set[int] = set()
        for a, b in decl.cached_pages:
            covered.update(range(a, min(b, pages)))
        return len(covered) == pages

    def dropped(self) -> None:
        """drop_caches: every disk file may have cold pages now."""
        self.cold.update(f for f, (_, decl) in self.decls.items() if _uses_disk(decl))

    def truncated(self, name: str, size: int) -> None:
        """Growing a disk file adds holes, which a fault reads (zero-filled) through
        readahead; shrinking it leaves the rest of its pages as they were."""
        if name in self.decls and _uses_disk(self.decls[name][1]) and \
                size > self.sizes.get(name, 0):
            self.cold.add(name)
        self.sizes[name] = size

    def reads_disk(self, mapping: str) -> bool:
        """May a fault on this mapping read its file from the disk?"""
        return self.mapped.get(mapping) in self.cold


def translated(decl: ast.FileDecl) -> bool:
    """ext4, tmpfs and hugetlbfs files are made on the real kernel; DAX files are not
    (this machine has no persistent memory to put one on)."""
    return decl.fs in ("ext4", "tmpfs", "hugetlbfs") and not decl.dax


def is_hugetlbfs(decl: ast.FileDecl) -> bool:
    return decl.fs == "hugetlbfs"


def cached_ranges(decl: ast.FileDecl) -> list[tuple[int, int]]:
    """The page ranges [a, b) the declaration puts in the page cache, within the file."""
    pages = -(-decl.size // PAGE)
    ranges = [(0, pages)] if decl.cached_all else list(decl.cached_pages)
    return [(a, min(b, pages)) for a, b in ranges if a < min(b, pages)]


def c_name(name: str) -> str:
    """A file name as a C string literal's contents (a label for the memfd)."""
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in name)[:200]


def declares_disk_files(scenario: ast.Scenario) -> bool:
    """Does the program need a scratch directory on a disk?"""
    return any(isinstance(s, ast.FileDecl) and _uses_disk(s) for s in _inners(scenario))


def maps_cold_files(scenario: ast.Scenario) -> bool:
    """Does the scenario map a disk file that may be cold (not all cached when declared,
    dropped or grown later)? Then read_ahead decides what its faults read."""
    state = FileState.of(scenario)
    for stmt in _inners(scenario):
        if isinstance(stmt, ast.FileDecl) and stmt.name in state.decls:
            state.declared(stmt)
        elif isinstance(stmt, ast.DropCaches):
            state.dropped()
        elif isinstance(stmt, ast.Truncate):
            state.truncated(stmt.file, stmt.size)
    return any(isinstance(s, ast.Map) and s.kind == "file" and s.file in state.cold
               for s in _inners(scenario))


def _inners(scenario: ast.Scenario) -> list[ast.Statement]:
    return [s.statement if isinstance(s, ast.As) else s for s in scenario.statements]


def cached_pages(machine: Any, stmt: ast.Statement) -> Optional[int]:
    """After `file`, `truncate` or `drop_caches` in the engine: the pages of that file (of
    every file, for drop_caches) in the page cache, as cachestat(2) counts them."""
    if machine is None:
        return None
    files = machine.system.files
    if isinstance(stmt, ast.FileDecl):
        names = [stmt.name]
    elif isinstance(stmt, ast.Truncate):
        names = [stmt.file]
    elif isinstance(stmt, ast.DropCaches):
        # hugetlbfs files: drop_caches leaves them, cachestat(2) cannot count them
        names = [n for n in files if files[n].fs != "hugetlbfs"]
        return sum(len(files[n].i_pages) for n in names)
    else:
        return None
    if any(n in files and files[n].fs == "hugetlbfs" for n in names):
        return None                     # compared as pool pages (pool_change) instead
    return sum(len(files[n].i_pages) for n in names if n in files)


def free_huge_pages(machine: Any) -> Optional[int]:
    """The engine's free hugetlb pool pages (HugePages_Free); None before the machine
    exists (its pool is then all free once made)."""
    if machine is None:
        return None
    h = machine.system.hstate
    return h.free_huge_pages if h is not None else 0


def pool_change(before: Optional[int], machine: Any, stmt: ast.Statement) -> Optional[int]:
    """After `file` or `truncate` of a hugetlbfs file: how many free pool pages it
    gained (negative: took), which the program reads in /proc/meminfo (cachestat(2)
    refuses hugetlbfs files). None for every other statement."""
    if machine is None or not isinstance(stmt, (ast.FileDecl, ast.Truncate)):
        return None
    name = stmt.name if isinstance(stmt, ast.FileDecl) else stmt.file
    inode = machine.system.files.get(name)
    if inode is None or inode.fs != "hugetlbfs":
        return None
    after = free_huge_pages(machine)
    if before is None:                  # the machine was made by this statement
        h = machine.system.hstate
        before = h.nr_huge_pages if h is not None else 0
    return (after or 0) - before


# --- the scratch directory -----------------------------------------------------------


def filesystem_type(path: Path) -> Optional[str]:
    """The type of the file system holding `path` (/proc/self/mountinfo: the mount of its
    device whose mount point is the longest prefix of the path)."""
    try:
        real = os.path.realpath(path)
        dev = os.stat(real).st_dev
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    best: tuple[int, Optional[str]] = (-1, None)
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, after = left.split(), right.split()
        if len(fields) < 5 or not after:
            continue
        major, _, minor = fields[2].partition(":")
        point = fields[4].replace("\\040", " ")
        if (int(major), int(minor)) != (os.major(dev), os.minor(dev)):
            continue
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best[0]:
            best = (len(point), after[0])
    return best[1]


def scratch_root(option: str, default: Path) -> Path:
    """--scratch DIR, or the verify cache directory: where the disk files go."""
    root = Path(option).expanduser() if option else default
    if not root.is_dir():
        raise FaultlangError(f"the scratch directory {root} does not exist",
                             "give --scratch an existing directory on a disk file system")
    return root


class _Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGHUP while the scratch directory exists: unwind so it is removed."""


class ScratchDir:
    """Context manager: a fresh directory under `root` for one verify's disk files (the
    program creates them unnamed, so it stays empty), removed at the end. Directories
    left by a verify that was killed are removed first."""

    def __init__(self, root: Path, needed: bool):
        self.root, self.needed = root, needed
        self.path: Optional[Path] = None
        self.fs: Optional[str] = None
        self._handlers: dict[int, Any] = {}

    def __enter__(self) -> "ScratchDir":
        _remove_stale(self.root)
        if not self.needed:
            return self
        self.fs = filesystem_type(self.root)
        if self.fs in _NO_DISK:
            raise FaultlangError(
                f"the scratch directory {self.root} is on {self.fs}, which has no disk: "
                "a cold file could not be read from it",
                "give --scratch a directory on a disk file system such as ext4")
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                self._handlers[sig] = signal.signal(sig, self._interrupt)
        self.path = Path(tempfile.mkdtemp(prefix=f"{_RUN_PREFIX}{os.getpid()}-", dir=self.root))
        return self

    def __exit__(self, kind: Optional[type], value: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        try:
            if self.path is not None:
                shutil.rmtree(self.path, ignore_errors=True)
        finally:
            for sig, handler in self._handlers.items():
                signal.signal(sig, handler)

    @property
    def environment(self) -> dict[str, str]:
        """What the program reads: FV_SCRATCH, the directory for its disk files."""
        return {"FV_SCRATCH": str(self.path)} if self.path is not None else {}

    @property
    def note(self) -> str:
        if self.path is None or self.fs in (None, "ext4"):
            return ""
        return f"the scenario's files are on ext4; here they are on {self.fs} ({self.root})"

    @staticmethod
    def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
        raise _Interrupted(f"signal {signum}")


def _remove_stale(root: Path) -> None:
    """Remove scratch directories whose verify process is gone."""
    try:
        entries = list(root.glob(f"{_RUN_PREFIX}*-*"))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(_RUN_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(entry, ignore_errors=True)
