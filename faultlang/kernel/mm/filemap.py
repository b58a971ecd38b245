"""Mirrors mm/filemap.c (Linux 6.18): the page cache and the fault handlers of files.

struct address_space (with the inode's i_size folded in) keeps a file's cached folios;
filemap_fault finds or reads the folio behind a fault (a miss is the major fault),
filemap_map_pages maps already-cached folios around a fault (fault-around), and
filemap_page_mkwrite is the write-notify hook of a disk file system.

Simplified:
- One object is the inode, its address_space and the open file: the readahead state
  (struct file_ra_state) is per file, not per open file description.
- I/O completes at once: readahead folios are uptodate when created, but the fault
  that needed them still "waited" for them, so it drops its lock (VM_FAULT_RETRY) as
  the kernel's does. A "disk" dict keeps each page's written-back value.
- No folio locks, no invalidate lock, no hwpoison, no workingset refaults; large
  folios are never split (truncate drops a folio that starts beyond the new EOF).
- No PMD mappings of file folios (filemap_map_pmd / do_set_pmd come with THP).
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_ALLOW_RETRY,
    FAULT_FLAG_RETRY_NOWAIT,
    FAULT_FLAG_TRIED,
    VM_EXEC,
    VM_FAULT_LOCKED,
    VM_FAULT_MAJOR,
    VM_FAULT_NOPAGE,
    VM_FAULT_OOM,
    VM_FAULT_RETRY,
    VM_FAULT_SIGBUS,
    VM_SHARED,
    VM_WRITE,
    Folio,
    Vma,
    VmFault,
    linear_page_index,
)
from faultlang.kernel.mm.memory import pte_alloc
from faultlang.kernel.mm.page_alloc import alloc_pages
from faultlang.kernel.mm.rmap import folio_add_file_rmap_ptes, folio_get, folio_put
from faultlang.kernel.trace import kfunc, why

FILEMAP_C = "mm/filemap.c"
MM_FILEPAGES, MM_SHMEMPAGES = 0, 3
MMAP_LOTSAMISS = 100


class FileRaState:
    """struct file_ra_state — the current readahead window, the folio order it asked
    for, and the mmap miss count."""

    __slots__ = ("start", "size", "async_size", "order", "mmap_miss")

    def __init__(self) -> None:
        self.start = 0
        self.size = 0
        self.async_size = 0
        self.order = 0
        self.mmap_miss = 0


class AddressSpace:
    """struct address_space + struct inode: a file's page cache and its size.

    i_pages maps every page index to the folio holding it (all the pages of a large
    folio point to the same folio). `disk` holds the values written back (msync);
    a page that was never written back reads as 0.
    """

    def __init__(self, system: Any, name: str, size: int, fs: str = "ext4",
                 folio_size: int = 4096, memfd: bool = False):
        self.system = system
        self.name = name
        self.i_size = size
        self.fs = fs
        self.shmem = fs == "tmpfs"
        self.memfd = memfd
        self.folio_order = max(0, (folio_size >> 12).bit_length() - 1)
        self.i_pages: dict[int, Folio] = {}
        self.disk: dict[int, int] = {}
        self.swap_entries: dict[int, int] = {}   # shmem: index → swap slot (xarray value)
        self.ra = FileRaState()
        self.dax: Any = None                     # S_DAX: blocks and DAX entries (fs/dax.py)

    def __repr__(self) -> str:
        return f"AddressSpace({self.name}, {self.i_size} bytes, {len(self.i_pages)} cached)"

    @property
    def nr_pages(self) -> int:
        """DIV_ROUND_UP(i_size, PAGE_SIZE): the first index beyond EOF."""
        return (self.i_size + 4095) >> 12

    def folios(self) -> list[Folio]:
        seen: dict[int, Folio] = {}
        for index in sorted(self.i_pages):
            folio = self.i_pages[index]
            seen.setdefault(id(folio), folio)
        return list(seen.values())

    def value(self, index: int) -> int:
        """What a read of page `index` returns: the cached copy, else the disk's."""
        folio = self.i_pages.get(index)
        if folio is not None:
            return self.system.phys.mem[folio.pfn + index - folio.index]
        if index in self.swap_entries:
            return self.system.swap.value(self.swap_entries[index])
        if self.dax is not None:
            pfn = self.dax.blocks.get(index)
            return 0 if pfn is None else self.system.phys.mem[pfn]
        return 0 if self.shmem else self.disk.get(index, 0)

    def writeback(self, start: int, end: int, vma: Vma) -> int:
        """msync(MS_SYNC) of [start, end) of `vma`: write dirty pages back to disk."""
        return filemap_write_and_wait_range(self, vma, start, end)


def filemap_get_folio(mapping: AddressSpace, index: int) -> Optional[Folio]:
    """filemap_get_folio(): the cached folio holding `index`, or None (a miss)."""
    return mapping.i_pages.get(index)


def filemap_alloc_folio(mapping: AddressSpace, index: int, order: int,
                        uptodate: bool = True) -> Optional[Folio]:
    """filemap_alloc_folio + filemap_add_folio: a new folio at `index` in the page cache,
    its pages read from disk (shmem: zero-filled). The page cache holds one reference."""
    system = mapping.system
    folio = alloc_pages(system.phys, order, 0, mapping.shmem)
    if folio is None:
        return None
    folio.mapping = mapping
    folio.index = index
    folio.uptodate = uptodate
    folio.lru = True
    mem = system.phys.mem
    for k in range(folio.nr_pages):
        mapping.i_pages[index + k] = folio
        if not mapping.shmem:
            mem[folio.pfn + k] = mapping.disk.get(index + k, 0)
    return folio


def fill_page_cache(mapping: AddressSpace, start: int, end: int) -> int:
    """Put pages [start, end) in the page cache (the scenario's `cached`), in folios of
    the file's folio size where alignment allows. Returns the pages added."""
    from faultlang.kernel.mm.readahead import ra_alloc_range
    return ra_alloc_range(mapping, start, end, mapping.folio_order)


def folio_size_pages(mapping: AddressSpace, index: int, end: int, order: int) -> int:
    """The largest order ≤ `order` whose aligned folio at `index` fits in [index, end)
    with none of its pages cached yet."""
    while order:
        nr = 1 << order
        if index % nr == 0 and index + nr <= end and \
                not any(index + k in mapping.i_pages for k in range(nr)):
            break
        order -= 1
    return order


def delete_from_page_cache(mapping: AddressSpace, folio: Folio) -> None:
    """filemap_remove_folio(): drop the folio from i_pages and the cache's reference."""
    for k in range(folio.nr_pages):
        if mapping.i_pages.get(folio.index + k) is folio:
            del mapping.i_pages[folio.index + k]
    folio.mapping = None if not folio.mapcount else folio.mapping
    folio_put(mapping.system.phys, folio)


def file_vmas(mapping: AddressSpace):
    """The i_mmap tree: every VMA of a live process that maps this file."""
    for task in mapping.system.tasks.values():
        if task.alive:
            for vma in task.mm.vmas:
                if vma.vm_file is mapping:
                    yield vma


# --- the fault handler ----------------------------------------------------------------


@kfunc(FILEMAP_C)
def filemap_fault(vmf: VmFault) -> int:
    """filemap_fault - find (or read) the page-cache folio behind a fault.

    Kernel: mm/filemap.c filemap_fault(). Beyond EOF → SIGBUS. A hit is a minor fault;
    when the folio carries PG_readahead, async readahead drops the fault lock first, so
    the fault ends in VM_FAULT_RETRY (not major) and the retry maps the folio, now
    unmarked, through fault-around. A miss counts PGMAJFAULT, returns VM_FAULT_MAJOR
    and reads around the fault (do_sync_mmap_readahead); the fault then waits for the
    read, dropping its lock: VM_FAULT_RETRY on the first attempt, so the retry finds
    the folio and is counted major through TRIED.
    """
    vma = vmf.vma
    mapping: AddressSpace = vma.vm_file
    index = vmf.pgoff
    if index >= mapping.nr_pages:
        why(f"index {index} beyond EOF ({mapping.nr_pages} pages): SIGBUS")
        return VM_FAULT_SIGBUS
    ret = 0
    fpin = False
    folio = filemap_get_folio(mapping, index)
    if folio is not None:
        why(f"page-cache hit at index {index}")
        if not vmf.flags & FAULT_FLAG_TRIED:
            fpin = do_async_mmap_readahead(vmf, folio)
    else:
        why(f"page-cache miss at index {index}: read from disk (PGMAJFAULT)")
        vma.vm_mm.system.vmstat.pgmajfault += 1
        ret = VM_FAULT_MAJOR
        do_sync_mmap_readahead(vmf)
        folio = filemap_get_folio(mapping, index)
        if folio is None:
            folio = filemap_alloc_folio(mapping, index, 0)
            if folio is None:
                return VM_FAULT_OOM
        # lock_folio_maybe_drop_mmap: the folio is locked while its read is in flight.
        if vmf.flags & FAULT_FLAG_ALLOW_RETRY and not vmf.flags & FAULT_FLAG_TRIED:
            why("folio locked for read I/O: drop the lock and wait (VM_FAULT_RETRY)")
            fpin = True
        else:
            why("folio locked for read I/O: wait for it (retry not allowed or already tried)")
    if fpin:
        if not ret:
            why("the lock was dropped for readahead: VM_FAULT_RETRY")
        return ret | VM_FAULT_RETRY
    if index >= mapping.nr_pages:
        return VM_FAULT_SIGBUS
    folio_get(folio)
    vmf.folio = folio
    vmf.page = folio.pfn + index - folio.index
    return ret | VM_FAULT_LOCKED


def maybe_unlock_mmap_for_io(vmf: VmFault) -> bool:
    """maybe_unlock_mmap_for_io(): on a first attempt that may retry (and wait), pin
    the file and drop the fault lock before I/O; the fault then ends in VM_FAULT_RETRY."""
    flags = vmf.flags
    return bool(flags & FAULT_FLAG_ALLOW_RETRY and not flags & FAULT_FLAG_TRIED
                and not flags & FAULT_FLAG_RETRY_NOWAIT)


@kfunc(FILEMAP_C)
def do_sync_mmap_readahead(vmf: VmFault) -> int:
    """do_sync_mmap_readahead - on a miss: read around the fault (window centred on it,
    order-0 folios), or sequentially (VM_SEQ_READ), or from the fault to the end of the
    window or VMA without PG_readahead (VM_EXEC, even with VM_RAND_READ), or only the
    faulting folio (VM_RAND_READ). The `kernel 6.12` profile has no VM_EXEC case."""
    from faultlang.kernel.mm.readahead import page_cache_ra_order, page_cache_sync_ra
    vma = vmf.vma
    mapping: AddressSpace = vma.vm_file
    ra = mapping.ra
    ra_pages = vma.vm_mm.system.settings.read_ahead >> 12
    index = vmf.pgoff
    exec_ra = bool(vma.vm_flags & VM_EXEC) and vma.vm_mm.system.settings.kernel != "6.12"
    if vma.vm_flags & 0x10000 and not exec_ra:     # VM_RAND_READ
        why("VM_RAND_READ (MADV_RANDOM): no readahead, only the faulting folio")
        return 0
    if not ra_pages:
        why("read_ahead 0: no readahead")
        return 0
    if vma.vm_flags & 0x8000:                      # VM_SEQ_READ
        why("VM_SEQ_READ (MADV_SEQUENTIAL): sequential readahead from the fault")
        page_cache_sync_ra(mapping, index, ra_pages)
        return 0
    ra.mmap_miss = min(ra.mmap_miss + 1, MMAP_LOTSAMISS * 10)
    if ra.mmap_miss > MMAP_LOTSAMISS:
        why(f"mmap_miss {ra.mmap_miss} > MMAP_LOTSAMISS: readahead is wasted, skip it")
        return 0
    if exec_ra:
        # exec_folio_order() is 0 on x86-64; code is read at random, so no async window
        vma_end = vma.vm_pgoff + ((vma.vm_end - vma.vm_start) >> 12)
        ra.order = 0
        ra.start = max(index, vma.vm_pgoff)
        ra.size = min(ra.start + ra_pages, vma_end) - ra.start
        ra.async_size = 0
        why(f"VM_EXEC: {ra.size} pages from index {ra.start}, no PG_readahead")
    else:
        ra.start = max(0, index - ra_pages // 2)
        ra.size = ra_pages
        ra.async_size = ra_pages // 4
        ra.order = 0
        why(f"read-around: {ra_pages} pages from index {ra.start}, PG_readahead at "
            f"{ra.start + ra.size - ra.async_size}")
    page_cache_ra_order(mapping, ra)
    return 0


@kfunc(FILEMAP_C, fault_bits=False)
def do_async_mmap_readahead(vmf: VmFault, folio: Folio) -> bool:
    """do_async_mmap_readahead - a hit: count it against mmap_miss; a PG_readahead folio
    starts the next readahead window before the reader gets there, with the fault lock
    dropped (True: the fault must return VM_FAULT_RETRY)."""
    mapping: AddressSpace = vmf.vma.vm_file
    ra = mapping.ra
    ra_pages = vmf.vma.vm_mm.system.settings.read_ahead >> 12
    if vmf.vma.vm_flags & 0x10000 or not ra_pages:
        return False
    if ra.mmap_miss > 0:
        ra.mmap_miss -= 1
    if not folio.readahead:
        return False
    fpin = maybe_unlock_mmap_for_io(vmf)
    why("folio has PG_readahead: start async readahead" +
        (" (fault lock dropped first)" if fpin else ""))
    from faultlang.kernel.mm.readahead import page_cache_async_ra
    page_cache_async_ra(mapping, folio, vmf.pgoff, ra_pages)
    return fpin


# --- fault-around ------------------------------------------------------------------------


def next_uptodate_folios(mapping: AddressSpace, index: int, end: int) -> Iterator[Folio]:
    """next_uptodate_folio(), as filemap_map_pages' loop calls it: the cached folios of
    [index, end], in order, that are uptodate, unlocked, not PG_readahead and below EOF."""
    max_idx = (mapping.i_size + 4095) >> 12         # DIV_ROUND_UP(i_size, PAGE_SIZE)
    pages = mapping.i_pages
    while index <= end:
        folio = pages.get(index)
        if folio is None:
            index += 1
            continue
        if folio.uptodate and not folio.locked and not folio.readahead and folio.index < max_idx:
            yield folio
        index = folio.index + (1 << folio.order)


@kfunc(FILEMAP_C)
def filemap_map_pages(vmf: VmFault, start_pgoff: int, end_pgoff: int) -> int:
    """filemap_map_pages - map the cached folios of [start_pgoff, end_pgoff] (fault-around).

    Kernel: mm/filemap.c filemap_map_pages(). Never reads: only uptodate folios that
    are not PG_readahead and below EOF. 6.18 maps a whole large folio when it lies
    inside the VMA and the page table and ends before the file's last page (shmem: any
    folio); otherwise (and always in the `kernel 6.12` profile) only its pages inside
    the window. A first folio reaching the last page keeps filemap_map_pmd from
    installing a missing PTE table: then nothing is mapped and ->fault maps the page.
    VM_FAULT_NOPAGE when the faulting address got mapped.
    """
    vma = vmf.vma
    mapping: AddressSpace = vma.vm_file
    file_end = mapping.nr_pages - 1
    if end_pgoff > file_end:
        why(f"window clipped at EOF (index {file_end})")
        end_pgoff = file_end
    mm = vma.vm_mm
    table_base = vmf.address & ~0x1FFFFF
    vma_first = vma.vm_pgoff
    vma_last = vma.vm_pgoff + ((vma.vm_end - vma.vm_start) >> 12) - 1
    counter = MM_SHMEMPAGES if mapping.shmem else MM_FILEPAGES
    # 6.12's filemap_map_folio_range maps only the window's pages of a large folio
    whole_folio = mm.system.settings.kernel != "6.12"
    ret = 0
    rss = 0
    prot = vma.vm_page_prot | pt._PAGE_ACCESSED
    base = vma.vm_start - (vma.vm_pgoff << 12)     # the address of file index 0
    for folio in next_uptodate_folios(mapping, start_pgoff, end_pgoff):
        if vmf.pte_table is None:
            # the first folio, and the PMD has no PTE table (filemap_map_pmd): it is
            # installed only if "file_end >= folio_next_index(folio)"
            if not mapping.shmem and folio.index + (1 << folio.order) > file_end:
                why(f"first folio (index {folio.index}) reaches the file's last page: "
                    "filemap_map_pmd is skipped, no PTE table to map into")
                return 0
            pte_alloc(vmf)
        table = vmf.pte_table
        first = folio.index
        if not folio.order:
            # filemap_map_order0_folio(): the common case, one PTE for the one page
            addr = base + (first << 12)
            i = (addr >> 12) & 511
            if not table[i]:
                table[i] = (folio.pfn << 12) | prot
                folio_add_file_rmap_ptes(folio)
                folio.refcount += 1
                rss += 1
                if addr == vmf.address:
                    ret = VM_FAULT_NOPAGE
            continue
        # filemap_map_folio_range(): the pages of a large folio
        last = first + folio.nr_pages - 1
        lo, hi = max(first, start_pgoff), min(last, end_pgoff)
        if not whole_folio and (first < start_pgoff or last > end_pgoff):
            why(f"kernel 6.12: only the window's pages of the {folio.nr_pages}-page folio")
        elif first >= vma_first and last <= vma_last and \
                (last < file_end or mapping.shmem):
            fstart = base + (first << 12)
            if fstart & ~0x1FFFFF == table_base and \
                    (fstart + (folio.nr_pages << 12) - 1) & ~0x1FFFFF == table_base:
                lo, hi = first, last
        for idx in range(lo, hi + 1):
            addr = base + (idx << 12)
            i = (addr >> 12) & 511
            if table[i]:
                continue
            table[i] = ((folio.pfn + idx - first) << 12) | prot
            folio_add_file_rmap_ptes(folio)
            folio.refcount += 1
            rss += 1
            if addr == vmf.address:
                ret = VM_FAULT_NOPAGE
    mm.rss_stat[counter] += rss                 # add_mm_counter(), once for the window
    ra = mapping.ra
    ra.mmap_miss = max(0, ra.mmap_miss - rss)
    why(f"{rss} page{'s' if rss != 1 else ''} mapped" +
        ("" if ret else "; the faulting page is not ready: fall back to ->fault"))
    return ret


@kfunc(FILEMAP_C)
def filemap_page_mkwrite(vmf: VmFault) -> int:
    """filemap_page_mkwrite - the file system is told a clean page is about to be written
    (write-notify): the folio is marked dirty; a page truncated meanwhile → NOPAGE."""
    mapping: AddressSpace = vmf.vma.vm_file
    folio = vmf.folio
    if folio is None or folio.mapping is not mapping:
        why("folio truncated meanwhile: VM_FAULT_NOPAGE (refault)")
        return VM_FAULT_NOPAGE
    why("folio_mark_dirty; file_update_time")
    folio.dirty = True
    return VM_FAULT_LOCKED


# --- write-back -----------------------------------------------------------------------


@kfunc(FILEMAP_C, fault_bits=False)
def filemap_write_and_wait_range(mapping: AddressSpace, vma: Vma, start: int, end: int) -> int:
    """filemap_write_and_wait_range - msync: collect dirty bits from the PTEs, write the
    dirty folios of the range to disk and clean them (folio_mkclean write-protects the
    PTEs of write-notify mappings again, so the next write notifies again).
    Returns the number of pages written."""
    from faultlang.kernel.mm.memory import walk_pte_slots
    first = linear_page_index(vma, start)
    last = linear_page_index(vma, end - 1)
    if mapping.dax is not None:
        from faultlang.kernel.fs.dax import dax_writeback_mapping_range
        why("->writepages is ext4_dax_writepages")
        return dax_writeback_mapping_range(mapping, first, last)
    for other in file_vmas(mapping):
        for table, i, addr in walk_pte_slots(other.vm_mm, other.vm_start, other.vm_end):
            pte = table[i]
            if pte & pt._PAGE_PRESENT and pte & pt._PAGE_DIRTY and other.vm_flags & VM_SHARED:
                folio = mapping.i_pages.get(linear_page_index(other, addr))
                if folio is not None and first <= linear_page_index(other, addr) <= last:
                    folio.dirty = True
    written = 0
    mem = mapping.system.phys.mem
    for folio in mapping.folios():
        if not folio.dirty or folio.index + folio.nr_pages <= first or folio.index > last:
            continue
        for k in range(folio.nr_pages):
            mapping.disk[folio.index + k] = mem[folio.pfn + k]
        written += folio.nr_pages
        folio.dirty = False
        folio_mkclean(mapping, folio)
    why(f"{written} pages written back")
    return written


def folio_mkclean(mapping: AddressSpace, folio: Folio) -> None:
    """folio_mkclean(): clean (and for write-notify mappings write-protect) every shared
    PTE that maps the folio."""
    from faultlang.kernel.mm.memory import lookup_pte
    for vma in file_vmas(mapping):
        if not vma.vm_flags & VM_SHARED:
            continue
        for k in range(folio.nr_pages):
            idx = folio.index + k
            if not vma.vm_pgoff <= idx < vma.vm_pgoff + ((vma.vm_end - vma.vm_start) >> 12):
                continue
            table, i = lookup_pte(vma.vm_mm, vma.vm_start + ((idx - vma.vm_pgoff) << 12))
            if table is not None and table[i] & pt._PAGE_PRESENT:
                table[i] &= ~pt._PAGE_DIRTY
                if not vma.vm_page_prot & pt._PAGE_RW:
                    table[i] &= ~pt._PAGE_RW


# --- vm_operations_struct ----------------------------------------------------------------


class VmOps:
    """struct vm_operations_struct: the hooks a file-backed VMA offers the fault path.

    Shared by every VMA that uses it (deepcopy returns the same object, as the REPL
    copies machines)."""

    def __init__(self, name: str, fault=None, map_pages=None, page_mkwrite=None,
                 pfn_mkwrite=None, huge_fault=None):
        self.name = name
        self.fault = fault
        self.map_pages = map_pages
        self.page_mkwrite = page_mkwrite
        self.pfn_mkwrite = pfn_mkwrite
        self.huge_fault = huge_fault

    def __deepcopy__(self, memo) -> "VmOps":
        return self

    def __repr__(self) -> str:
        return self.name

    def mmap_prepare(self, vma: Vma) -> None:
        """vma_set_page_prot(): write-notify mappings get read-only PTEs."""
        self.update_page_prot(vma)

    def update_page_prot(self, vma: Vma) -> None:
        if vma_wants_writenotify(vma):
            vma.vm_page_prot &= ~pt._PAGE_RW

    def peek(self, vma: Vma, address: int) -> Optional[int]:
        """What a read of a not-yet-mapped page would return (None: SIGBUS/nothing)."""
        mapping = vma.vm_file
        if mapping is None:
            return None
        index = linear_page_index(vma, address)
        if index >= mapping.nr_pages:
            return None
        return mapping.value(index)


def vma_wants_writenotify(vma: Vma) -> bool:
    """vma_wants_writenotify(): a shared writable mapping whose file system wants to
    hear about the first write to each clean page (->page_mkwrite)."""
    return bool(vma.vm_flags & VM_SHARED and vma.vm_flags & VM_WRITE and vma.vm_ops is not None
                and vma.vm_ops.page_mkwrite is not None)


generic_file_vm_ops = VmOps("generic_file_vm_ops", fault=filemap_fault,
                            map_pages=filemap_map_pages, page_mkwrite=filemap_page_mkwrite)

# A driver's mapping (`map NAME device`): VM_PFNMAP|VM_IO, populated at mmap time by
# remap_pfn_range, with no ->fault, so do_fault sends a fault on the rest SIGBUS.
device_vm_ops = VmOps("device_vm_ops")
