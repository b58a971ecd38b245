"""The Machine: a simulated computer running the engine, in the scenario's own terms.

It owns one kernel System, knows the scenario's names (processes, mappings), turns
targets into addresses, runs accesses through the CPU model one page at a time and
records each as a StepRecord. Everything it hands out is plain data (snapshots).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

from faultlang.errors import ScenarioError, StepLimitExceeded
from faultlang.kernel.arch.x86.cpu import cpu_access, mmu_pte_table
from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.sched import Task
from faultlang.kernel.kernel.exit import do_exit
from faultlang.kernel.kernel.fork import copy_process
from faultlang.kernel.mm import gup, madvise, mlock, mmap, mprotect
from faultlang.kernel.settings import Settings
from faultlang.kernel.system import System
from faultlang.kernel.trace import recorder
from faultlang.lang import ast
from faultlang.runtime import inspect
from faultlang.runtime.callpath import decider, path_of
from faultlang.snapshots import Counters, StepRecord

DEFAULT_MAX_STEPS = 5_000_000
PAGE = 4096
_P, _RW, _PFN = pt._PAGE_PRESENT, pt._PAGE_RW, pt.PFN_MASK
_A, _A_D = pt._PAGE_ACCESSED, pt._PAGE_ACCESSED | pt._PAGE_DIRTY


@dataclass
class Mapping:
    """A scenario name for a range: where `map NAME` put it and how big it was."""

    name: str
    start: int
    size: int
    kind: str
    process: str

    @property
    def pages(self) -> int:
        return self.size // PAGE


class Machine:
    def __init__(self, settings: Optional[Settings] = None, *, record: bool = True,
                 max_steps: int = DEFAULT_MAX_STEPS):
        self.settings = settings or Settings()
        self.system = System(self.settings)
        self.record = record
        self.max_steps = max_steps
        self.processes: dict[str, Task] = {}
        self.mappings: dict[str, Mapping] = {}
        self.steps: list[StepRecord] = []
        self.step = 0
        self.line = 0
        self.statement_index = 0
        self.oom_reported: set[int] = set()      # pids whose OOM kill has been noted
        self.held: list = []     # migrations stopped after their unmap phase (runtime/migrate.py)
        policy = self.system.policy
        if policy is not None:           # textbook reclaim: see runtime/policies.py
            from faultlang.runtime.policies import page_key
            policy.now = lambda: self.step
            policy.key_of = lambda folio: page_key(self.system, folio)
        main = self.system.new_task("main", self.system.new_mm())
        self.processes["main"] = main
        self.current = "main"

    # --- names ----------------------------------------------------------------

    def task(self, name: Optional[str] = None) -> Task:
        name = name or self.current
        task = self.processes.get(name)
        if task is None:
            raise ScenarioError(f"there is no process '{name}'",
                                "create it with `process NAME` or `fork NAME` first")
        return task

    def live_task(self, name: Optional[str], node: ast.Node) -> Task:
        task = self.task(name)
        if not task.alive:
            raise ScenarioError(f"process '{task.comm}' has exited",
                                "use a process that is still running", node.span)
        return task

    def mapping(self, name: str, node: ast.Node) -> Mapping:
        m = self.mappings.get(name)
        if m is None:
            raise ScenarioError(f"there is no mapping '{name}'",
                                f"declare it with `map {name} anon size ...` first", node.span)
        return m

    def addresses(self, target: ast.Target) -> range:
        """The page addresses a target touches, in order (a byte address for `+off`)."""
        if isinstance(target, ast.Absolute):
            return range(target.address, target.address + 1)
        m = self.mapping(target.mapping, target)
        if isinstance(target, ast.ByteOffset):
            return range(m.start + target.offset, m.start + target.offset + 1)
        if isinstance(target, ast.PageIndex):
            return range(m.start + target.index * PAGE, m.start + target.index * PAGE + 1)
        start = 0 if target.start is None else target.start
        stop = m.pages if target.stop is None else target.stop
        if target.reverse:
            first = start + ((stop - 1 - start) // target.step) * target.step
            return range(m.start + first * PAGE, m.start + start * PAGE - 1, -target.step * PAGE)
        return range(m.start + start * PAGE, m.start + stop * PAGE, target.step * PAGE)

    def span_of(self, target: ast.Target) -> tuple[int, int]:
        """[start, end) in bytes covered by a range target, page aligned (for syscalls)."""
        addrs = self.addresses(target)
        lo, hi = min(addrs[0], addrs[-1]), max(addrs[0], addrs[-1])
        return lo & ~(PAGE - 1), (hi & ~(PAGE - 1)) + PAGE

    def label(self, address: int) -> str:
        for m in self.mappings.values():
            if m.start <= address < m.start + m.size:
                off = address - m.start
                return f"{m.name}[{off // PAGE}]" if off % PAGE == 0 else f"{m.name}+{off:#x}"
        return f"{address:#x}"

    # --- bounded work ------------------------------------------------------------

    def charge(self, pages: int, node: ast.Node) -> None:
        if self.step + pages > self.max_steps:
            raise StepLimitExceeded(
                f"this statement would take the run past {self.max_steps:,} page operations",
                "touch a smaller range, or raise the limit with --max-steps", node.span)

    # --- accesses --------------------------------------------------------------------

    def access(self, op: str, target: ast.Target, value: Optional[int], node: ast.Node,
               process: Optional[str] = None) -> list[StepRecord]:
        task = self.live_task(process, node)
        if task.uffd_wait is not None:
            from faultlang.runtime.uffd import check_not_blocked
            check_not_blocked(task, node)
        addrs = self.addresses(target)
        self.charge(len(addrs), node)
        out = []
        mapping = None if isinstance(target, ast.Absolute) else self.mappings[target.mapping]
        # Fast path: a user load or store whose 4 KiB PTE is present (and writable, for
        # a store) finishes in the MMU without a fault. cpu.mmu_access() would walk all
        # four levels for it; here the walk to the PTE table is done once per 2 MiB
        # region and the MMU's leaf check (cpu._leaf) is done inline for each page. It
        # records exactly what access_one() records for an access that did not fault.
        # Anything else (no PTE, not present, read-only, a huge PMD) goes to access_one.
        write = op == "write"
        fast = write or op == "read"
        table, table_base = None, -1
        system = task.mm.system
        mem = system.phys.mem
        steps = self.steps
        line, comm, statement = self.line, task.comm, self.statement_index
        policy = system.policy
        stamp = policy.stamp if policy is not None and policy.name == "lru" else None
        inside = False
        if mapping is not None:
            m_name, m_start, m_end = mapping.name, mapping.start, mapping.start + mapping.size
            # page-granular targets inside their mapping are labelled name[index]
            inside = isinstance(target, (ast.PageRange, ast.PageIndex)) and len(addrs) > 0 \
                and m_start <= min(addrs[0], addrs[-1]) and max(addrs[0], addrs[-1]) < m_end
        for address in addrs:
            if inside or mapping is not None and (address - m_start) % PAGE == 0 \
                    and m_start <= address < m_end:
                label = f"{m_name}[{(address - m_start) >> 12}]"
            else:
                label = self.label(address)
            if fast:
                if address >> 21 != table_base:
                    table, table_base = mmu_pte_table(task.mm, address), address >> 21
                if table is not None:
                    i = (address >> 12) & 511
                    pte = table[i]
                    if pte & _P and (pte & _RW or not write):
                        task.pending_signal = None       # as cpu_access() does first
                        system.current = task
                        self.step = n = self.step + 1
                        # the MMU sets accessed, and dirty for a store, with no fault
                        new = pte | _A_D if write else pte | _A
                        if new != pte:
                            table[i] = new
                        if write:
                            data = n if value is None else value
                            mem[(pte & _PFN) >> 12] = data
                        else:
                            data = mem[(pte & _PFN) >> 12]
                        if stamp is not None:        # lru: the time of each access
                            stamp[(pte & _PFN) >> 12] = n
                        step = StepRecord(n, line, comm, op, address, "none", None, None,
                                          data, None, (), 0, label, statement)
                        steps.append(step)
                        out.append(step)
                        continue
                else:
                    table_base = -1      # the fault may allocate the PTE table: walk again
                # An existing PTE table stays in place across a fault of a live task: the
                # kernel frees or replaces one only under the mmap write lock (munmap,
                # exit, THP collapse), never in the fault path.
            out.append(self.access_one(task, op, address, value, label))
            if stamp is not None:
                t = mmu_pte_table(task.mm, address)
                if t is not None and t[(address >> 12) & 511] & _P:
                    stamp[(t[(address >> 12) & 511] & _PFN) >> 12] = self.step
            if task.uffd_wait is not None:      # asleep in handle_userfault: see runtime/uffd.py
                task.uffd_wait.access = (op, address, value, out[-1],
                                         addrs[addrs.index(address) + 1:])
                break
            if not task.alive:                  # OOM-killed: a dead process runs nothing more
                break
        return out

    def access_one(self, task: Task, op: str, address: int, value: Optional[int],
                   label: str = "") -> StepRecord:
        self.step += 1
        n = self.step
        if op in ("write", "kwrite") and value is None:
            value = n
        before_min, before_maj = task.min_flt, task.maj_flt
        if self.record:
            recorder.start()
        try:
            result = cpu_access(task, address, op, value)
        finally:
            raw = recorder.stop() if self.record else []
        frames, handler = path_of(raw) if raw else ((), None)
        signal = result.signal
        if signal is not None:
            outcome = {"SIGKILL": "oom"}.get(signal[0], signal[0])
            si_code = None if outcome == "oom" else signal[1]
            if outcome == "oom":             # SIGKILL from the OOM killer: the task dies
                self.kill(task, task.exit_reason or "OOM-killed")
        elif result.blocked:        # asleep in handle_userfault, even after a counted fault
            outcome, si_code = "blocked", None
        elif task.maj_flt > before_maj:
            outcome, si_code = "major", None
        elif task.min_flt > before_min:
            outcome, si_code = "minor", None
        else:
            outcome, si_code = ("blocked" if result.blocked else "none"), None
        if not result.faults:
            handler = None
        elif signal and signal[0]:
            handler = decider(frames, signal[0])
        # positional: this runs once per page touched, and keywords cost 3x here
        step = StepRecord(n, self.line, task.comm, op, address, outcome, si_code,
                          result.error_code, result.value if signal is None else None,
                          handler, frames, 0, label or self.label(address),
                          self.statement_index)
        self.steps.append(step)
        return step

    def drain_gup(self, task: Task, op: str = "gup") -> list[StepRecord]:
        """GUP faults (populate, mlock, MADV_POPULATE_*) made by the last statement."""
        out = []
        for f in self.system.gup_faults:
            self.step += 1
            frames, handler = path_of(f.frames)
            step = StepRecord(n=self.step, line=self.line, process=task.comm, op=op,
                              address=f.address, outcome=f.counted or "EFAULT",
                              handler=handler, frames=frames,
                              target=self.label(f.address), statement=self.statement_index)
            self.steps.append(step)
            out.append(step)
        self.system.gup_faults.clear()
        return out

    # --- processes -----------------------------------------------------------------------

    def new_process(self, name: str, node: int, stmt: ast.Node) -> None:
        if name in self.processes:
            raise ScenarioError(f"a process named '{name}' already exists",
                                "choose another name", stmt.span)
        task = self.system.new_task(name, self.system.new_mm())
        task.numa_node = node
        self.processes[name] = task

    def fork(self, parent: Optional[str], child: str, stmt: ast.Node) -> list[str]:
        if child in self.processes:
            raise ScenarioError(f"a process named '{child}' already exists",
                                "give the child a new name", stmt.span)
        ptask = self.live_task(parent, stmt)
        self.system.current = ptask
        task, notes = copy_process(ptask, child)
        self.processes[child] = task
        return [f"{child} (pid {task.pid}) forked from {ptask.comm}"] + notes

    def oom_notes(self) -> list[str]:
        """One note per process the OOM killer chose during the last statement. A victim
        that was running a system call (GUP, fork, uffd) takes its SIGKILL now."""
        notes = []
        for name, task in self.processes.items():
            if task.oom_killed and task.pid not in self.oom_reported:
                self.oom_reported.add(task.pid)
                self.kill(task, task.exit_reason)
                notes.append(f"{name} (pid {task.pid}) was {task.exit_reason}")
        return notes

    def kill(self, task: Task, reason: str) -> None:
        if task.alive:
            task.exit_reason = reason
            do_exit(task)

    def exit(self, name: str, stmt: ast.Node) -> list[str]:
        task = self.live_task(name, stmt)
        pages = do_exit(task)
        return [f"{name} exited; {pages} PTEs unmapped"]

    # --- mappings ---------------------------------------------------------------------------

    def map(self, stmt: ast.Map, process: Optional[str] = None) -> list[str]:
        from faultlang.runtime.mapping import create_mapping
        return create_mapping(self, stmt, self.live_task(process, stmt))

    def syscall(self, stmt: ast.Node, process: Optional[str] = None) -> list[str]:
        """munmap, mprotect, madvise, mlock, munlock, msync on a range."""
        task = self.live_task(process, stmt)
        if task.uffd_wait is not None:
            from faultlang.runtime.uffd import check_not_blocked
            check_not_blocked(task, stmt)
        self.system.current = task
        mm = task.mm
        start, end = self.span_of(stmt.target)            # type: ignore[attr-defined]
        try:
            if isinstance(stmt, ast.Munmap):
                return [f"{mmap.do_vmi_munmap(mm, start, end - start)} PTEs unmapped"]
            if isinstance(stmt, ast.Mprotect):
                return [f"{mprotect.do_mprotect_pkey(mm, start, end - start, stmt.prot)} PTEs changed"]
            if isinstance(stmt, ast.Madvise):
                if stmt.advice.startswith("populate"):
                    self.charge((end - start) >> 12, stmt)
                note = madvise.do_madvise(mm, start, end - start, stmt.advice)
                if task.uffd_wait is not None:           # GUP asleep in handle_userfault
                    task.uffd_wait.gup.syscall = f"madvise {stmt.advice}"
                    return []
                return [note] if note else []
            if isinstance(stmt, (ast.Mlock, ast.Munlock)):
                if isinstance(stmt, ast.Mlock):
                    self.charge((end - start) >> 12, stmt)
                got = mlock.do_mlock(mm, start, end - start, isinstance(stmt, ast.Mlock))
                if task.uffd_wait is not None:           # GUP asleep in handle_userfault
                    task.uffd_wait.gup.syscall = "mlock"
                    return []
                return [f"{got} pages populated"] if isinstance(stmt, ast.Mlock) else []
            if isinstance(stmt, ast.Msync):
                from faultlang.kernel.mm.msync import do_msync
                return [do_msync(mm, start, end - start)]
        except mmap.MmapError as err:
            return [f"failed: {err.errno} ({err.reason})"]
        raise TypeError(stmt)

    # --- files ---------------------------------------------------------------------------

    def file(self, stmt: ast.FileDecl) -> list[str]:
        """`file` / `memfd`: a new inode with its page cache, some of it cached."""
        from faultlang.kernel.mm.filemap import AddressSpace, fill_page_cache
        if stmt.name in self.system.files:
            raise ScenarioError(f"the file '{stmt.name}' is declared twice",
                                "give each file its own name", stmt.span)
        if stmt.fs == "hugetlbfs":
            return self.hugetlbfs_file(stmt)
        if stmt.fs not in ("ext4", "tmpfs"):
            raise ScenarioError(f"files on {stmt.fs} are not "
                                "simulated yet", "use ext4 or tmpfs", stmt.span)
        mapping = AddressSpace(self.system, stmt.name, stmt.size, stmt.fs, stmt.folio,
                               stmt.memfd)
        self.system.files[stmt.name] = mapping
        if stmt.dax:
            from faultlang.kernel.fs.ext4 import ext4_dax_inode
            self.charge(mapping.nr_pages, stmt)         # every block is allocated now
            pfn = ext4_dax_inode(mapping)
            return [f"{stmt.name}: {stmt.size} bytes on ext4 dax, {mapping.nr_pages} blocks "
                    f"on the pmem device from pfn {pfn:#x} (no page cache)"]
        ranges = [(0, mapping.nr_pages)] if stmt.cached_all else list(stmt.cached_pages)
        self.charge(sum(b - a for a, b in ranges), stmt)
        cached = sum(fill_page_cache(mapping, a, b) for a, b in ranges)
        return [f"{stmt.name}: {stmt.size} bytes on {stmt.fs}, {cached} pages cached"]

    def hugetlbfs_file(self, stmt: ast.FileDecl) -> list[str]:
        """A file on hugetlbfs: its pages exist only in the hugetlb pool; `cached` pages
        are allocated from it into the page cache, as fallocate(2) does."""
        from faultlang.kernel.fs import hugetlbfs
        from faultlang.kernel.mm.hugetlb import HugetlbFile
        inode = HugetlbFile(self.system, stmt.name, stmt.size)
        self.system.files[stmt.name] = inode
        ranges = [(0, inode.nr_pages)] if stmt.cached_all else list(stmt.cached_pages)
        self.charge(sum(b - a for a, b in ranges), stmt)
        notes = []
        for a, b in ranges:
            try:
                hugetlbfs.hugetlbfs_fallocate(inode, a << 12, b << 12)
            except hugetlbfs.HugetlbfsError as err:
                notes.append(f"fallocate failed: {err.errno} ({err.reason})")
                break
        return [f"{stmt.name}: {stmt.size} bytes on hugetlbfs, {len(inode.cache)} huge "
                f"pages allocated from the pool"] + notes

    def truncate(self, stmt: ast.Truncate) -> list[str]:
        from faultlang.kernel.mm.truncate import truncate_setsize
        mapping = self.system.files.get(stmt.file)
        if mapping is None:
            raise ScenarioError(f"there is no file '{stmt.file}'",
                                "declare it with `file` first", stmt.span)
        if mapping.fs == "hugetlbfs":
            from faultlang.kernel.fs import hugetlbfs
            try:
                zapped = hugetlbfs.hugetlbfs_setattr(mapping, stmt.size)
            except hugetlbfs.HugetlbfsError as err:
                return [f"truncate failed: {err.errno} ({err.reason})"]
            return [f"{stmt.file}: size {stmt.size}; {zapped} PTEs unmapped"]
        zapped = truncate_setsize(mapping, stmt.size)
        return [f"{stmt.file}: size {stmt.size}; {zapped} PTEs unmapped"]

    def pagecache_text(self, name: Optional[str]) -> str:
        """`show pagecache [FILE]`: every cached folio of the file(s), as a table."""
        files = self.system.files
        names = [name] if name else sorted(files)
        lines = []
        for n in names:
            mapping = files.get(n)
            if mapping is None:
                raise ScenarioError(f"there is no file '{n}'", "declare it with `file` first")
            folios = mapping.folios()
            lines.append(f"{n}: {mapping.fs}{' (memfd)' if mapping.memfd else ''}, "
                         f"size {mapping.i_size}, {len(mapping.i_pages)} pages cached "
                         f"in {len(folios)} folios")
            if folios:
                lines.append("  index        order  pfn         mapcount  flags")
            rows: list[list] = []             # runs of alike folios share one row
            for f in folios:
                flags = ",".join(w for w, on in (("uptodate", f.uptodate), ("dirty", f.dirty),
                                                 ("readahead", f.readahead)) if on)
                key = (f.order, f.mapcount, flags)
                last = rows[-1] if rows else None
                if last and last[2] == key and last[1] + 1 == f.index and \
                        last[3] + (1 << f.order) * (last[4]) == f.pfn:
                    last[1] = f.index + f.nr_pages - 1
                    last[4] += 1
                else:
                    rows.append([f.index, f.index + f.nr_pages - 1, key, f.pfn, 1])
            for first, end, (order, mapcount, flags), pfn, count in rows:
                idx = f"{first}" if first == end else f"{first}..{end}"
                pfns = f"{pfn:#x}" + (f"+{count - 1}" if count > 1 else "")
                lines.append(f"  {idx:<12} {order:<6} {pfns:<11} {mapcount:<9} {flags}")
        return "\n".join(lines) if lines else "no files"

    # --- observing ------------------------------------------------------------------------------

    def counters(self, name: Optional[str] = None) -> Counters:
        return inspect.counters(self.task(name))

    def counter_values(self) -> dict[str, int]:
        """Every counter an `expect` can name, for delta computations."""
        values = {}
        for name, task in self.processes.items():
            c = inspect.counters(task)
            for key in ("minflt", "majflt", "page_faults", "rss", "swap"):
                values[f"{name}.{key}"] = getattr(c, key)
        values.update(self.system.vmstat.items())
        values["free"] = self.system.phys.nr_free()
        values["swap_used"] = inspect.swap_used(self.system)
        return values

    def walk_targets(self, target: ast.Target) -> Iterator[int]:
        yield from self.addresses(target)
