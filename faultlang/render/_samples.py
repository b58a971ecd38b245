"""Hand-built snapshots for the `__main__` demos and tests/render.

These are what the runtime would report for small scenarios; changing them changes
the golden files in tests/render/golden (regenerate with `pytest --update-golden`).
"""

from __future__ import annotations

from faultlang.snapshots import (
    CallFrame,
    Counters,
    ExpectResult,
    MemoryView,
    PageTableSnapshot,
    ProcessView,
    PteView,
    RunReport,
    Snapshot,
    StatementRecord,
    StepRecord,
    TableView,
    VmaView,
)

BASE = 0x7F0000000000
PAGE = 4096
ZERO_PFN = 0x3C7

DEFAULT_SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("ram", "256M", "256M"), ("swap", "0", "0"), ("levels", "4", "4"),
    ("thp", "madvise", "madvise"), ("mthp", "off", "off"), ("hugepages", "0", "0"),
    ("fault_around", "64K", "64K"), ("page_cluster", "3", "3"),
    ("swap_device", "disk", "disk"), ("kernel", "6.18", "6.18"),
    ("read_ahead", "128K", "128K"), ("zero_page", "on", "on"),
    ("policy", "linux", "linux"), ("numa_nodes", "1", "1"),
)


def sample_settings(**changed: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((k, changed.get(k, v), d) for k, v, d in DEFAULT_SETTINGS)


def _pte(i: int, mapping: str, flags: tuple[str, ...], pfn: int | None, state: str,
         value: int | None) -> PteView:
    raw = 0 if pfn is None else (pfn << 12) | 0x67
    return PteView(index=i, address=BASE + i * PAGE, level="PTE", raw=raw, flags=flags,
                   pfn=pfn, state=state, value=value, mapping=mapping)


def sample_pagetable() -> PageTableSnapshot:
    """0x7f0000000000, 4 levels: a full 512-entry PTE table and a huge PMD after it.

        PTE [000–255] buf, written        PTE [256–287] buf, read → zero page
        PTE [288] buf, COW after fork     PTE [289] buf, swapped out
        PTE [290–299] buf, scattered      PTE [300–511] lib (file, read-only)
        PMD [001] thp, one 2 MiB page
    """
    rw = ("present", "rw", "user", "accessed", "dirty", "nx")
    leaves = [_pte(i, f"buf[{i}]", rw, 0x1000 + i, "resident", i + 1) for i in range(256)]
    zero = ("present", "user", "accessed", "nx", "special")
    leaves += [_pte(i, f"buf[{i}]", zero, ZERO_PFN, "zero", 0) for i in range(256, 288)]
    leaves.append(_pte(288, "buf[288]", ("present", "user", "accessed", "dirty", "nx"),
                       0x1200, "cow", 42))
    leaves.append(_pte(289, "buf[289]", ("exclusive",), None, "swapped", 7))
    leaves += [_pte(i, f"buf[{i}]", rw, 0x2000 + 3 * i, "resident", i + 1)
               for i in range(290, 300)]
    ro = ("present", "user", "accessed")
    leaves += [_pte(i, f"lib[{i - 300}]", ro, 0x5000 + i - 300, "resident", 0)
               for i in range(300, 512)]
    pte_table = TableView(level="PTE", index=0, address=BASE, leaves=tuple(leaves))
    huge = PteView(index=1, address=BASE + 0x200000, level="PMD", raw=(0x40000 << 12) | 0xE7,
                   flags=("present", "rw", "user", "accessed", "dirty", "nx", "pse"),
                   pfn=0x40000, state="huge", value=5, mapping="thp[0]")
    pmd = TableView(level="PMD", index=0, address=BASE, children=(pte_table,), leaves=(huge,))
    pud = TableView(level="PUD", index=0, address=BASE, children=(pmd,))
    p4d = TableView(level="P4D", index=254, address=BASE, folded=True, children=(pud,))
    pgd = TableView(level="PGD", index=-1, address=0, children=(p4d,))
    return PageTableSnapshot(process="main", levels=4, root=pgd)


ENTRY = (CallFrame(0, "exc_page_fault", "arch/x86/mm/fault.c", "user read, page not present"),
         CallFrame(1, "do_user_addr_fault", "arch/x86/mm/fault.c"))


def sample_retry_step() -> StepRecord:
    """A read of an uncached file page: the first attempt under the per-VMA lock
    starts the disk read and gives up (RETRY); the second finds the page cached."""
    frames = ENTRY + (
        CallFrame(2, "lock_vma_under_rcu", "mm/memory.c", "VMA found: try the per-VMA lock"),
        CallFrame(2, "handle_mm_fault", "mm/memory.c", "FAULT_FLAG_VMA_LOCK",
                  "VM_FAULT_MAJOR|VM_FAULT_RETRY"),
        CallFrame(3, "__handle_mm_fault", "mm/memory.c"),
        CallFrame(4, "handle_pte_fault", "mm/memory.c", "PTE is none"),
        CallFrame(5, "do_pte_missing", "mm/memory.c", "file-backed VMA"),
        CallFrame(6, "do_read_fault", "mm/memory.c", "read on a private file mapping"),
        CallFrame(7, "__do_fault", "mm/memory.c"),
        CallFrame(8, "filemap_fault", "mm/filemap.c", "page-cache miss: read from disk",
                  "VM_FAULT_MAJOR|VM_FAULT_RETRY"),
        CallFrame(9, "page_cache_sync_ra", "mm/readahead.c", "start readahead"),
        CallFrame(2, "lock_mm_and_find_vma", "arch/x86/mm/fault.c", "retry under mmap_lock"),
        CallFrame(2, "handle_mm_fault", "mm/memory.c", "FAULT_FLAG_TRIED", "VM_FAULT_MAJOR"),
        CallFrame(3, "__handle_mm_fault", "mm/memory.c"),
        CallFrame(4, "handle_pte_fault", "mm/memory.c", "PTE is none"),
        CallFrame(5, "do_pte_missing", "mm/memory.c", "file-backed VMA"),
        CallFrame(6, "do_read_fault", "mm/memory.c", "read on a private file mapping"),
        CallFrame(7, "__do_fault", "mm/memory.c"),
        CallFrame(8, "filemap_fault", "mm/filemap.c", "page-cache hit: the read finished", ""),
        CallFrame(7, "finish_fault", "mm/memory.c", "map the page read-only", ""),
        CallFrame(3, "mm_account_fault", "mm/memory.c", "FAULT_FLAG_TRIED: counted major"),
    )
    return StepRecord(n=3, line=6, process="main", op="read", address=BASE + 3 * PAGE,
                      outcome="major", error_code=0x4, value=0, handler="filemap_fault",
                      frames=frames, around=15, target="data[3]")


ANON_FRAMES = (
    CallFrame(0, "exc_page_fault", "arch/x86/mm/fault.c", "user write, page not present"),
    CallFrame(1, "do_user_addr_fault", "arch/x86/mm/fault.c"),
    CallFrame(2, "handle_mm_fault", "mm/memory.c", "FAULT_FLAG_VMA_LOCK", ""),
    CallFrame(3, "__handle_mm_fault", "mm/memory.c", "thp=never: no huge PMD"),
    CallFrame(4, "handle_pte_fault", "mm/memory.c", "PTE is none"),
    CallFrame(5, "do_pte_missing", "mm/memory.c", "anonymous VMA"),
    CallFrame(6, "do_anonymous_page", "mm/memory.c", "write: allocate a zeroed folio", ""),
    CallFrame(3, "mm_account_fault", "mm/memory.c", "minor"),
)

SEGV_FRAMES = (
    CallFrame(0, "exc_page_fault", "arch/x86/mm/fault.c", "user read, page not present"),
    CallFrame(1, "do_user_addr_fault", "arch/x86/mm/fault.c"),
    CallFrame(2, "lock_vma_under_rcu", "mm/memory.c", "no VMA: take the mmap_lock"),
    CallFrame(2, "lock_mm_and_find_vma", "arch/x86/mm/fault.c", "no VMA covers 0x1000"),
    CallFrame(2, "bad_area_nosemaphore", "arch/x86/mm/fault.c", "SIGSEGV, SEGV_MAPERR"),
)


def sample_steps(pages: int = 512) -> list[StepRecord]:
    """Steps of sample_report: `pages` first-touch writes, 4 reads, one stray read."""
    steps = [StepRecord(n=i + 1, line=4, process="main", op="write", address=BASE + i * PAGE,
                        outcome="minor", error_code=0x6, value=i + 1,
                        handler="do_anonymous_page", frames=ANON_FRAMES, target=f"buf[{i}]")
             for i in range(pages)]
    steps += [StepRecord(n=pages + 1 + i, line=5, process="main", op="read",
                         address=BASE + i * PAGE, outcome="none", value=i + 1,
                         target=f"buf[{i}]") for i in range(4)]
    steps.append(StepRecord(n=pages + 5, line=6, process="main", op="read", address=0x1000,
                            outcome="SIGSEGV", si_code="SEGV_MAPERR", error_code=0x4,
                            handler="bad_area_nosemaphore", frames=SEGV_FRAMES))
    return steps


def sample_vmas() -> tuple[VmaView, ...]:
    return (
        VmaView(start=BASE, end=BASE + 0x200000, name="buf", kind="anon", prot="rw-",
                shared=False, flags=("VM_ACCOUNT",), anon_vma=True),
        VmaView(start=BASE + 0x200000, end=BASE + 0x400000, name="lib", kind="file",
                prot="r-x", shared=False, flags=(), pgoff=4, file="libc.so"),
        VmaView(start=BASE + 0x400000, end=BASE + 0x410000, name="shm", kind="shmem",
                prot="rw-", shared=True, flags=("VM_LOCKED",), file="memfd:shm"),
    )


def sample_processes(minflt: int = 512, page_faults: int = 513) -> tuple[ProcessView, ...]:
    counters = Counters(minflt=minflt, majflt=0, page_faults=page_faults, perf_minor=minflt,
                        rss=minflt, rss_anon=minflt)
    return (ProcessView(name="main", pid=100, counters=counters, vmas=sample_vmas()[:1]),)


def sample_memory() -> MemoryView:
    return MemoryView(total_frames=65536, free_frames=65024, used_frames=512,
                      anon_pages=512, file_pages=0, shmem_pages=0, swap_total=4096,
                      swap_used=1, swap_cache=0, hugepages_total=2, hugepages_free=1,
                      extra=(("pagetables", 3),))


def sample_report(pages: int = 512) -> RunReport:
    """lessons/01-first-touch.fault: eight statements, one failing expect (pages=512).

        3  map buf anon size 2M            6  read 0x1000          9  expect minflt == 512
        4  write buf[*]                    7  show path last     10  expect pgfault == 512
        5  read buf[0..4]                  8  show counters
    """
    steps = sample_steps(pages)
    end = pages + 6  # one past the last step
    vmstat = (("pgfault", pages + 1), ("pgmajfault", 0))
    ok = ExpectResult(line=9, ok=True, text="expect minflt == 512", expected=512,
                      actual=pages)
    bad = ExpectResult(line=10, ok=False, text="expect pgfault == 512", expected=512,
                       actual=pages + 1)
    size = f"{pages * 4}K" if pages % 256 else f"{pages // 256}M"
    statements = [
        StatementRecord(0, 3, f"map buf anon size {size}", "main", "map", 1, 1,
                        notes=(f"buf at {BASE:#x}-{BASE + pages * PAGE:#x} ({pages} pages)",)),
        StatementRecord(1, 4, "write buf[*]", "main", "access", 1, pages + 1),
        StatementRecord(2, 5, "read buf[0..4]", "main", "access", pages + 1, pages + 5),
        StatementRecord(3, 6, "read 0x1000", "main", "access", pages + 5, end,
                        notes=("no mapping at 0x1000: the process gets SIGSEGV and goes on",)),
        StatementRecord(4, 7, "show path last", "main", "show", end, end,
                        snapshot=Snapshot(view="path", process="main", line=7, step=steps[-1])),
        StatementRecord(5, 8, "show counters", "main", "show", end, end,
                        snapshot=Snapshot(view="counters", process="main", line=8,
                                          processes=sample_processes(pages, pages + 1),
                                          vmstat=vmstat)),
        StatementRecord(6, 9, ok.text, "main", "expect", end, end, expect=ok),
        StatementRecord(7, 10, bad.text, "main", "expect", end, end, expect=bad),
    ]
    return RunReport(scenario="lessons/01-first-touch.fault",
                     title="First touch of an anonymous buffer", kernel="6.18",
                     settings=sample_settings(thp="never"), statements=statements,
                     steps=steps, processes=sample_processes(pages, pages + 1), vmstat=vmstat,
                     expects=[ok, bad])
