"""Mirrors include/linux/mm_types.h and mm.h: fault flags, results, VMA flags and the structs.

Hot paths use the plain int constants (VM_FAULT_MAJOR, FAULT_FLAG_WRITE, VM_WRITE, ...),
as the kernel does; the IntFlag classes exist to name the bits when they are shown.
Values are those of Linux 6.18 (read from its BTF, kernel-reference section 1).
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from typing import Any, Optional


class VmFaultReason(enum.IntFlag):
    """enum vm_fault_reason — what handle_mm_fault() returns."""

    OOM = 0x1
    SIGBUS = 0x2
    MAJOR = 0x4
    HWPOISON = 0x10
    HWPOISON_LARGE = 0x20
    SIGSEGV = 0x40
    NOPAGE = 0x100
    LOCKED = 0x200
    RETRY = 0x400
    FALLBACK = 0x800
    DONE_COW = 0x1000
    NEEDDSYNC = 0x2000
    COMPLETED = 0x4000


class FaultFlag(enum.IntFlag):
    """enum fault_flag — vmf->flags."""

    WRITE = 0x1
    MKWRITE = 0x2
    ALLOW_RETRY = 0x4
    RETRY_NOWAIT = 0x8
    KILLABLE = 0x10
    TRIED = 0x20
    USER = 0x40
    REMOTE = 0x80
    INSTRUCTION = 0x100
    INTERRUPTIBLE = 0x200
    UNSHARE = 0x400
    ORIG_PTE_VALID = 0x800
    VMA_LOCK = 0x1000


class VmFlag(enum.IntFlag):
    """vm_flags_t bits (include/linux/mm.h)."""

    READ = 0x1
    WRITE = 0x2
    EXEC = 0x4
    SHARED = 0x8
    MAYREAD = 0x10
    MAYWRITE = 0x20
    MAYEXEC = 0x40
    MAYSHARE = 0x80
    GROWSDOWN = 0x100
    UFFD_MISSING = 0x200
    PFNMAP = 0x400
    UFFD_WP = 0x1000
    LOCKED = 0x2000
    IO = 0x4000
    SEQ_READ = 0x8000
    RAND_READ = 0x10000
    DONTCOPY = 0x20000
    DONTEXPAND = 0x40000
    LOCKONFAULT = 0x80000
    ACCOUNT = 0x100000
    NORESERVE = 0x200000
    HUGETLB = 0x400000
    SYNC = 0x800000
    WIPEONFORK = 0x2000000
    DONTDUMP = 0x4000000
    SOFTDIRTY = 0x8000000
    MIXEDMAP = 0x10000000
    HUGEPAGE = 0x20000000
    NOHUGEPAGE = 0x40000000
    MERGEABLE = 0x80000000
    UFFD_MINOR = 1 << 41
    DROPPABLE = 1 << 42


def _export(flag_cls: type, prefix: str) -> None:
    for member in flag_cls:
        globals()[prefix + member.name] = int(member)


_export(VmFaultReason, "VM_FAULT_")
_export(FaultFlag, "FAULT_FLAG_")
_export(VmFlag, "VM_")

# Spelled out again so that readers (and linters) see the names used on hot paths.
VM_FAULT_OOM, VM_FAULT_SIGBUS, VM_FAULT_MAJOR = 0x1, 0x2, 0x4
VM_FAULT_HWPOISON, VM_FAULT_HWPOISON_LARGE, VM_FAULT_SIGSEGV = 0x10, 0x20, 0x40
VM_FAULT_NOPAGE, VM_FAULT_LOCKED, VM_FAULT_RETRY = 0x100, 0x200, 0x400
VM_FAULT_FALLBACK, VM_FAULT_DONE_COW, VM_FAULT_COMPLETED = 0x800, 0x1000, 0x4000
VM_FAULT_ERROR = (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON
                  | VM_FAULT_HWPOISON_LARGE | VM_FAULT_FALLBACK)

FAULT_FLAG_WRITE, FAULT_FLAG_MKWRITE, FAULT_FLAG_ALLOW_RETRY = 0x1, 0x2, 0x4
FAULT_FLAG_RETRY_NOWAIT, FAULT_FLAG_KILLABLE, FAULT_FLAG_TRIED = 0x8, 0x10, 0x20
FAULT_FLAG_USER, FAULT_FLAG_REMOTE, FAULT_FLAG_INSTRUCTION = 0x40, 0x80, 0x100
FAULT_FLAG_INTERRUPTIBLE, FAULT_FLAG_UNSHARE = 0x200, 0x400
FAULT_FLAG_ORIG_PTE_VALID, FAULT_FLAG_VMA_LOCK = 0x800, 0x1000
FAULT_FLAG_DEFAULT = FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE | FAULT_FLAG_INTERRUPTIBLE

VM_READ, VM_WRITE, VM_EXEC, VM_SHARED = 0x1, 0x2, 0x4, 0x8
VM_MAYREAD, VM_MAYWRITE, VM_MAYEXEC, VM_MAYSHARE = 0x10, 0x20, 0x40, 0x80
VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC


_FAULT_NAMES: dict[int, str] = {}


def fault_names(ret: int) -> str:
    """VM_FAULT_* names of a result, "0" for none: how `show path` prints returns.

    Remembered per value: every recorded path names a handful of distinct results,
    and iterating an enum.Flag is slow."""
    names = _FAULT_NAMES.get(ret)
    if names is None:
        names = "|".join("VM_FAULT_" + m.name for m in VmFaultReason if ret & m.value) or "0"
        _FAULT_NAMES[ret] = names
    return names


def flag_names(flags: int) -> str:
    return "|".join("FAULT_FLAG_" + m.name for m in FaultFlag if flags & m.value) or "0"


def vm_flag_names(flags: int) -> tuple[str, ...]:
    return tuple("VM_" + m.name for m in VmFlag if flags & m.value)


class Folio:
    """struct folio — one or 2^order physically contiguous pages used as a unit.

    Page contents live in the machine's physical memory (System.mem); the folio keeps
    the bookkeeping: references, mappings by page tables, and the flags.
    """

    __slots__ = ("pfn", "order", "refcount", "mapcount", "anon", "exclusive",
                 "mapping", "index", "dirty", "uptodate", "lru", "swapcache",
                 "private", "readahead", "locked", "writeback", "lazyfree",
                 "referenced", "active", "mlocked", "pincount")

    def __init__(self, pfn: int, order: int = 0):
        self.pfn = pfn
        self.order = order
        self.refcount = 1
        self.mapcount = 0
        self.anon = False
        # PageAnonExclusive, per page of the folio: bit k for page k (PageAnonExclusive())
        self.exclusive = 0
        self.mapping: Any = None     # struct anon_vma or struct address_space
        self.index = 0               # page offset in the file, or linear page index
        self.dirty = False
        self.uptodate = True
        self.lru = False
        self.swapcache = False
        self.private = 0             # swap slot when in the swap cache
        self.readahead = False
        self.locked = False
        self.writeback = False
        self.lazyfree = False
        self.referenced = False
        self.active = False
        self.mlocked = False
        self.pincount = 0

    @property
    def nr_pages(self) -> int:
        return 1 << self.order

    def __repr__(self) -> str:
        return f"Folio(pfn={self.pfn:#x}, order={self.order}, ref={self.refcount}, map={self.mapcount})"


class AnonVma:
    """struct anon_vma — the reverse-map root shared by a VMA and its fork copies."""

    __slots__ = ("root", "degree")

    def __init__(self, root: Optional["AnonVma"] = None):
        self.root = root or self
        self.degree = 1


class Vma:
    """struct vm_area_struct — one mapping of an mm: [vm_start, vm_end) with flags and ops."""

    __slots__ = ("vm_start", "vm_end", "vm_flags", "vm_pgoff", "vm_file", "vm_ops",
                 "anon_vma", "vm_mm", "name", "kind", "vm_page_prot", "uffd", "base",
                 "vm_private_data")

    def __init__(self, mm: "MmStruct", start: int, end: int, flags: int, *, name: str = "",
                 kind: str = "anon", pgoff: int = 0, vm_file: Any = None, vm_ops: Any = None):
        self.vm_mm = mm
        self.vm_start = start
        self.vm_end = end
        self.vm_flags = flags
        self.vm_pgoff = pgoff
        self.vm_file = vm_file
        self.vm_ops = vm_ops
        self.anon_vma: Optional[AnonVma] = None
        self.name = name             # the scenario's name for the mapping
        self.kind = kind             # anon, file, shmem, hugetlb, device
        self.base = start            # where the scenario's mapping starts (for heap[i] labels)
        self.vm_page_prot = 0
        self.uffd: Any = None        # struct vm_userfaultfd_ctx
        self.vm_private_data: Any = None     # hugetlb: a MAP_PRIVATE mapping's resv_map

    def __repr__(self) -> str:
        return f"Vma({self.name} {self.vm_start:#x}-{self.vm_end:#x} {self.vm_flags:#x})"

    def copy(self, mm: "MmStruct") -> "Vma":
        new = Vma(mm, self.vm_start, self.vm_end, self.vm_flags, name=self.name,
                  kind=self.kind, pgoff=self.vm_pgoff, vm_file=self.vm_file, vm_ops=self.vm_ops)
        new.anon_vma = self.anon_vma
        new.base = self.base
        new.vm_page_prot = self.vm_page_prot
        new.uffd = self.uffd
        new.vm_private_data = self.vm_private_data
        return new


def PageAnonExclusive(folio: Folio, page: int = 0) -> bool:
    """PageAnonExclusive(): page `page` of an anonymous folio is mapped by one mm only,
    so a write may reuse it without COW (and fork must not share it when pinned)."""
    return bool(folio.exclusive >> page & 1)


def SetPageAnonExclusive(folio: Folio, page: int = 0) -> None:
    folio.exclusive |= 1 << page


def ClearPageAnonExclusive(folio: Folio, page: int = 0) -> None:
    folio.exclusive &= ~(1 << page)


def vma_is_anonymous(vma: Vma) -> bool:
    """vma_is_anonymous(): no vm_ops. MAP_SHARED|MAP_ANONYMOUS is shmem and has vm_ops."""
    return vma.vm_ops is None


def vma_is_accessible(vma: Vma) -> bool:
    return bool(vma.vm_flags & VM_ACCESS_FLAGS)


def is_cow_mapping(flags: int) -> bool:
    return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE


def linear_page_index(vma: Vma, address: int) -> int:
    return ((address - vma.vm_start) >> 12) + vma.vm_pgoff


class MmStruct:
    """struct mm_struct — an address space: the VMA tree, the page tables and RSS counters.

    The maple tree is a list of VMAs sorted by start address (bisect for lookups).
    """

    MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES = range(4)

    __slots__ = ("vmas", "starts", "pgd", "rss_stat", "system", "owner", "mmap_base",
                 "levels", "hiwater_rss", "locked_vm", "flags")

    def __init__(self, system: Any, levels: int = 4):
        self.system = system
        self.vmas: list[Vma] = []
        self.starts: list[int] = []
        self.pgd: list = [None] * 512
        self.rss_stat = [0, 0, 0, 0]
        self.owner: Any = None
        self.mmap_base = 0x7F0000000000
        self.levels = levels
        self.hiwater_rss = 0
        self.locked_vm = 0
        self.flags = 0

    def find_vma(self, addr: int) -> Optional[Vma]:
        """find_vma(): the first VMA that ends above addr (it may start above it)."""
        i = bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.vmas[i].vm_end:
            return self.vmas[i]
        i += 1
        return self.vmas[i] if i < len(self.vmas) else None

    def vma_lookup(self, addr: int) -> Optional[Vma]:
        """vma_lookup(): the VMA containing addr, or None."""
        i = bisect_right(self.starts, addr) - 1
        if i >= 0:
            vma = self.vmas[i]
            if addr < vma.vm_end:
                return vma
        return None

    def insert_vma(self, vma: Vma) -> None:
        i = bisect_right(self.starts, vma.vm_start)
        self.vmas.insert(i, vma)
        self.starts.insert(i, vma.vm_start)

    def remove_vma(self, vma: Vma) -> None:
        i = self.vmas.index(vma)
        del self.vmas[i]
        del self.starts[i]

    def reindex(self) -> None:
        self.vmas.sort(key=lambda v: v.vm_start)
        self.starts = [v.vm_start for v in self.vmas]

    def get_mm_counter(self, member: int) -> int:
        return self.rss_stat[member]

    def rss(self) -> int:
        s = self.rss_stat
        return s[0] + s[1] + s[3]


class VmFault:
    """struct vm_fault — everything one fault attempt knows, passed down the handlers."""

    __slots__ = ("vma", "address", "real_address", "flags", "pgoff", "pmd_table",
                 "pmd_index", "pte_table", "pte_index", "orig_pte", "page", "folio",
                 "cow_page", "prealloc_pte", "mm")

    def __init__(self, vma: Vma, address: int, flags: int):
        self.vma = vma
        self.mm = vma.vm_mm
        self.real_address = address
        self.address = address & ~0xFFF
        self.flags = flags
        self.pgoff = ((self.address - vma.vm_start) >> 12) + vma.vm_pgoff
        self.pmd_table: Optional[list] = None   # the table holding this address's PMD entry
        self.pmd_index = 0
        self.pte_table: Optional[list] = None   # None until the PTE table exists
        self.pte_index = (address >> 12) & 511
        self.orig_pte = 0
        self.page: Optional[int] = None          # pfn of the page being handled
        self.folio: Optional[Folio] = None
        self.cow_page: Optional[int] = None
        self.prealloc_pte: Optional[list] = None
