"""Mirrors fs/dax.c (Linux 6.18): files whose pages live on a DAX device (pmem).

A DAX file has no page cache. Its i_pages hold DAX entries instead: which file pages
were faulted in, at PTE or PMD size, whether they are the zero page (a hole that was
read) and whether they were written since the last msync. A fault maps the device's
own page. ext4's ->fault, ->huge_fault, ->page_mkwrite and ->pfn_mkwrite
(fs/ext4/file.c, kernel/fs/ext4.py) all end in dax_iomap_fault:

- dax_iomap_pte_fault: ->iomap_begin says where the file page lives. A read of a hole
  maps the zero page (dax_load_hole); a write to a private mapping fills the COW page
  (dax_fault_cow_page → VM_FAULT_DONE_COW); anything else maps the device page
  (vmf_insert_page_mkwrite). A block newly allocated for a write (IOMAP_F_NEW) counts
  PGMAJFAULT and returns VM_FAULT_MAJOR, the only major DAX fault.
- dax_iomap_pmd_fault: the same for a whole 2 MiB block (vmf_insert_folio_pmd, or the
  huge zero page for a hole) when dax_fault_check_fallback allows it (file offset and
  address congruent, block inside the VMA and below EOF, no private write) and no
  PTE-sized entry is in the block; VM_FAULT_FALLBACK (THP_FAULT_FALLBACK) otherwise.

Since 6.15 fsdax pages are ordinary refcounted folios: 6.18 maps them with normal PTEs
and PMDs that take a reference, a mapcount and RSS (MM_FILEPAGES). The `kernel 6.12`
profile maps bare pfns instead (vmf_insert_mixed, vmf_insert_pfn_pmd): special|devmap
PTEs and devmap PMDs, no reference, no rmap, no RSS.

Simplified: no MAP_SYNC (VM_FAULT_NEEDDSYNC), no reflink (IOMAP_F_SHARED), no unwritten
extents, no entry locking (single-threaded); the pmem device is a bump allocator that
never reuses a freed block; a PMD entry straddling a truncated EOF is kept whole.
"""

from __future__ import annotations

from typing import Any, Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_WRITE, VM_FAULT_DONE_COW, VM_FAULT_FALLBACK, VM_FAULT_MAJOR,
    VM_FAULT_NOPAGE, VM_FAULT_SIGBUS, VM_SHARED, Folio, Vma, VmFault,
)
from faultlang.kernel.trace import kfunc, why

DAX_C = "fs/dax.c"
PMD_ORDER = 9
PG_PMD_NR = 512
PG_PMD_COLOUR = PG_PMD_NR - 1


class PmemDevice:
    """A pmem namespace in fsdax mode: its dax_device and its ZONE_DEVICE memmap.

    Its pages follow the machine's RAM in the PFN space (devm_memremap_pages), each
    with a struct folio that is idle at refcount 0; ext4 hands them out as file blocks
    (ext4_mb_new_blocks, here a bump allocator)."""

    def __init__(self, phys: Any):
        self.phys = phys
        self.start_pfn = (phys.end_pfn + PG_PMD_COLOUR) & ~PG_PMD_COLOUR
        self.next_pfn = self.start_pfn
        self.used = 0              # blocks handed out to files

    def __repr__(self) -> str:
        return f"PmemDevice({self.used} blocks from pfn {self.start_pfn:#x})"

    def alloc_blocks(self, nr: int, align: int = 1) -> int:
        """`nr` contiguous zeroed blocks (EXT4_GET_BLOCKS_CREATE_ZERO), the first one
        a multiple of `align` pages into the PFN space. Returns the first PFN."""
        start = (self.next_pfn + align - 1) & ~(align - 1)
        end = start + nr
        phys = self.phys
        if end > len(phys.mem):
            grow = end - len(phys.mem)
            phys.mem.extend([0] * grow)
            phys.mem_map.extend([None] * grow)
        phys.end_pfn = max(phys.end_pfn, end)
        for pfn in range(start, end):
            folio = Folio(pfn)
            folio.refcount = 0
            phys.mem_map[pfn] = folio
            phys.mem[pfn] = 0
        self.next_pfn = end
        self.used += nr
        return start


def pmem_device(system: Any) -> PmemDevice:
    """The machine's one pmem device, created by the first DAX file."""
    if system.pmem is None:
        system.pmem = PmemDevice(system.phys)
    return system.pmem


class DaxEntry:
    """A DAX entry in i_pages: PTE- or PMD-sized; the zero page, empty (locked for a
    fault that has not mapped anything yet) or a device pfn; PAGECACHE_TAG_DIRTY."""

    __slots__ = ("order", "pfn", "zero", "dirty")

    def __init__(self, order: int, pfn: Optional[int] = None, zero: bool = False):
        self.order = order
        self.pfn = pfn
        self.zero = zero
        self.dirty = False

    @property
    def empty(self) -> bool:
        return self.pfn is None and not self.zero

    def __repr__(self) -> str:
        kind = "zero" if self.zero else "empty" if self.empty else f"pfn {self.pfn:#x}"
        return f"DaxEntry({'PMD' if self.order else 'PTE'}, {kind}{', dirty' if self.dirty else ''})"


class DaxMapping:
    """The DAX side of an inode: its blocks on the device (ext4's extent tree, one
    index → pfn per allocated block) and its DAX entries (index of the first page)."""

    def __init__(self, pmem: PmemDevice):
        self.pmem = pmem
        self.blocks: dict[int, int] = {}
        self.entries: dict[int, DaxEntry] = {}

    def entry_at(self, index: int) -> tuple[int, Optional[DaxEntry]]:
        """(key, entry) of the entry covering `index`: its own, or its block's PMD entry."""
        entry = self.entries.get(index)
        if entry is not None and not entry.order:
            return index, entry
        base = index & ~PG_PMD_COLOUR
        entry = self.entries.get(base)
        if entry is not None and entry.order:
            return base, entry
        return index, None


def vma_is_dax(vma: Vma) -> bool:
    """vma_is_dax(): the VMA maps a file whose inode is S_DAX."""
    return getattr(vma.vm_file, "dax", None) is not None


def folio_is_fsdax(phys: Any, folio: Folio) -> bool:
    """folio_is_fsdax(): a ZONE_DEVICE folio of a pmem device (MEMORY_DEVICE_FS_DAX)."""
    return folio.pfn >= phys.zones[-1].end_pfn


class Iomap:
    """struct iomap, as ->iomap_begin fills it: a hole or a mapped extent."""

    __slots__ = ("mapped", "pfn", "length", "new")

    def __init__(self, mapped: bool, pfn: Optional[int], length: int, new: bool = False):
        self.mapped = mapped
        self.pfn = pfn             # pfn of the first page asked for
        self.length = length       # pages from there
        self.new = new             # IOMAP_F_NEW: blocks allocated for this fault


# --- the fault ---------------------------------------------------------------------


@kfunc(DAX_C)
def dax_iomap_fault(vmf: VmFault, order: int) -> int:
    """dax_iomap_fault - a PTE fault (order 0) or a PMD fault (PMD_ORDER); any other
    size falls back."""
    if order == 0:
        return dax_iomap_pte_fault(vmf)
    if order == PMD_ORDER:
        return dax_iomap_pmd_fault(vmf)
    return VM_FAULT_FALLBACK


@kfunc(DAX_C)
def dax_iomap_pte_fault(vmf: VmFault) -> int:
    """dax_iomap_pte_fault - map one page of a DAX file.

    Beyond EOF → SIGBUS. IOMAP_WRITE for a write that is not a COW. A PMD that got
    mapped meanwhile → NOPAGE. ->iomap_begin, then dax_fault_iter; blocks allocated for
    this fault (IOMAP_F_NEW) make it major (PGMAJFAULT, VM_FAULT_MAJOR).
    """
    from faultlang.kernel.fs.ext4 import ext4_iomap_begin
    mapping = vmf.vma.vm_file
    index = vmf.pgoff
    if index >= mapping.nr_pages:
        why(f"index {index} beyond EOF ({mapping.nr_pages} pages): SIGBUS")
        return VM_FAULT_SIGBUS
    write = bool(vmf.flags & FAULT_FLAG_WRITE) and vmf.cow_page is None
    entry = grab_mapping_entry(vmf, index, 0)
    if type(vmf.pmd_table[vmf.pmd_index]) is int:
        why("a huge PMD maps the block now: VM_FAULT_NOPAGE")
        return VM_FAULT_NOPAGE
    iomap = ext4_iomap_begin(mapping, index, 1, write)
    ret = dax_fault_iter(vmf, iomap, entry, index, False, write)
    if ret != VM_FAULT_SIGBUS and iomap.new:
        why("the block was allocated for this fault (IOMAP_F_NEW): PGMAJFAULT")
        vmf.vma.vm_mm.system.vmstat.pgmajfault += 1
        ret |= VM_FAULT_MAJOR
    return ret


def dax_fault_check_fallback(vmf: VmFault, index: int, max_pgoff: int) -> Optional[str]:
    """dax_fault_check_fallback(): why a PMD cannot map this block (None: it can)."""
    vma = vmf.vma
    pmd_addr = vmf.address & pt.PMD_MASK
    if (vmf.pgoff & PG_PMD_COLOUR) != ((vmf.address >> 12) & PG_PMD_COLOUR):
        return "file offset and address are not congruent modulo 2 MiB"
    if vmf.flags & FAULT_FLAG_WRITE and not vma.vm_flags & VM_SHARED:
        return "a private write is a COW: fall back to PTEs"
    if pmd_addr < vma.vm_start or pmd_addr + pt.PMD_SIZE > vma.vm_end:
        return "the 2 MiB block does not fit in the VMA"
    if (index | PG_PMD_COLOUR) >= max_pgoff:
        return "the 2 MiB block goes beyond EOF"
    return None


@kfunc(DAX_C)
def dax_iomap_pmd_fault(vmf: VmFault) -> int:
    """dax_iomap_pmd_fault - map a whole 2 MiB block of a DAX file with one PMD.

    Falls back to PTEs (split_huge_pmd, THP_FAULT_FALLBACK) when the geometry does not
    allow a PMD, when a PTE-sized entry already covers part of the block, or when the
    extent ->iomap_begin returns is shorter than 2 MiB or not 2 MiB aligned on the
    device. Never major: only the PTE path counts IOMAP_F_NEW.
    """
    from faultlang.kernel.fs.ext4 import ext4_iomap_begin
    vma = vmf.vma
    mapping = vma.vm_file
    write = bool(vmf.flags & FAULT_FLAG_WRITE)
    max_pgoff = mapping.nr_pages
    index = vmf.pgoff & ~PG_PMD_COLOUR
    if index >= max_pgoff:
        why(f"index {index} beyond EOF: SIGBUS")
        return VM_FAULT_SIGBUS
    ret = VM_FAULT_FALLBACK
    reason = dax_fault_check_fallback(vmf, index, max_pgoff)
    if reason is not None:
        why(reason)
    else:
        entry = grab_mapping_entry(vmf, index, PMD_ORDER)
        if entry is None:
            why("a PTE-sized entry is in the 2 MiB block")
        else:
            iomap = ext4_iomap_begin(mapping, index, PG_PMD_NR, write)
            if iomap.length < PG_PMD_NR:
                why(f"the extent is {iomap.length} pages, shorter than 2 MiB")
            else:
                ret = dax_fault_iter(vmf, iomap, entry, index, True, write)
    if ret == VM_FAULT_FALLBACK:
        if type(vmf.pmd_table[vmf.pmd_index]) is int:       # split_huge_pmd()
            from faultlang.kernel.mm.huge_memory import _split_huge_pmd
            _split_huge_pmd(vma, vmf.pmd_table, vmf.pmd_index, vmf.address & pt.PMD_MASK)
        vma.vm_mm.system.vmstat.thp_fault_fallback += 1
    return ret


@kfunc(DAX_C, fault_bits=False)
def grab_mapping_entry(vmf: VmFault, index: int, order: int) -> Optional[DaxEntry]:
    """grab_mapping_entry - find (or create empty) the entry a fault will use.

    Order 0: a real PMD entry covering the page is used as it is; a zero PMD entry is
    unmapped and removed, an empty one removed, and the page gets its own entry.
    PMD order: any PTE-sized entry in the block is a conflict (None: fall back).
    """
    dax = vmf.vma.vm_file.dax
    entries = dax.entries
    if order == 0:
        base = index & ~PG_PMD_COLOUR
        pmd = entries.get(base)
        if pmd is not None and pmd.order:
            if not pmd.zero and not pmd.empty:
                why("a PMD entry covers the page: use it")
                return pmd
            if pmd.zero:
                why("a zero PMD entry covers the page: unmap it, PTE entries from now on")
                unmap_mapping_pages(vmf.vma.vm_file, base, PG_PMD_NR, False)
            dax_disassociate_entry(vmf.vma.vm_file, base, pmd)
            del entries[base]
        entry = entries.get(index)
        if entry is None:
            entry = entries[index] = DaxEntry(0)
        return entry
    if any(entries.get(index + k) is not None and not entries[index + k].order
           for k in range(PG_PMD_NR)):
        return None
    entry = entries.get(index)
    if entry is None:
        entry = entries[index] = DaxEntry(PMD_ORDER)
    return entry


@kfunc(DAX_C)
def dax_fault_iter(vmf: VmFault, iomap: Iomap, entry: DaxEntry, index: int, pmd: bool,
                   write: bool) -> int:
    """dax_fault_iter - map what ->iomap_begin found: a COW copy (PTE faults with a
    cow_page), the zero page for a read of a hole, or the device's pfn."""
    if not pmd and vmf.cow_page is not None:
        return dax_fault_cow_page(vmf, iomap)
    if not write and not iomap.mapped:
        if not pmd:
            return dax_load_hole(vmf, entry, index)
        return dax_pmd_load_hole(vmf, entry, index)
    pfn = iomap.pfn
    if pmd and pfn & PG_PMD_COLOUR:
        why("dax_iomap_direct_access: the extent is not 2 MiB aligned on the device")
        return VM_FAULT_FALLBACK
    entry = dax_insert_entry(vmf, entry, index, pfn, pmd, False, write)
    system = vmf.vma.vm_mm.system
    if system.settings.kernel == "6.12":
        if pmd:
            from faultlang.kernel.mm.huge_memory import vmf_insert_pfn_pmd
            return vmf_insert_pfn_pmd(vmf, pfn, write)
        from faultlang.kernel.mm.memory_file import vmf_insert_mixed
        return vmf_insert_mixed(vmf, pfn, write)
    if pmd:
        from faultlang.kernel.mm.huge_memory import vmf_insert_folio_pmd
        return vmf_insert_folio_pmd(vmf, system.phys.page_folio(pfn), write)
    from faultlang.kernel.mm.memory_file import vmf_insert_page_mkwrite
    return vmf_insert_page_mkwrite(vmf, pfn, write)


@kfunc(DAX_C)
def dax_fault_cow_page(vmf: VmFault, iomap: Iomap) -> int:
    """dax_fault_cow_page - a write to a private DAX mapping: fill the COW page from
    the device (a hole: zeroes) and map it with finish_fault → VM_FAULT_DONE_COW."""
    from faultlang.kernel.mm.memory_file import finish_fault
    phys = vmf.vma.vm_mm.system.phys
    if iomap.mapped:
        why("copy_cow_page_dax: copy the device page into the COW page")
        phys.mem[vmf.cow_page] = phys.mem[iomap.pfn]
    else:
        why("a hole: clear_user_highpage")
        phys.mem[vmf.cow_page] = 0
    ret = finish_fault(vmf, phys.page_folio(vmf.cow_page))
    return ret if ret else VM_FAULT_DONE_COW


@kfunc(DAX_C)
def dax_load_hole(vmf: VmFault, entry: DaxEntry, index: int) -> int:
    """dax_load_hole - a read of a hole maps the shared zero page read-only (a zero
    entry remembers it, so that a later write unmaps it)."""
    system = vmf.vma.vm_mm.system
    dax_insert_entry(vmf, entry, index, system.zero_pfn, False, True, False)
    if system.settings.kernel == "6.12":
        from faultlang.kernel.mm.memory_file import vmf_insert_mixed
        return vmf_insert_mixed(vmf, system.zero_pfn, False)
    from faultlang.kernel.mm.memory_file import vmf_insert_page_mkwrite
    return vmf_insert_page_mkwrite(vmf, system.zero_pfn, False)


@kfunc(DAX_C)
def dax_pmd_load_hole(vmf: VmFault, entry: DaxEntry, index: int) -> int:
    """dax_pmd_load_hole - a read of a 2 MiB hole maps the huge zero page read-only."""
    from faultlang.kernel.mm.huge_memory import HUGE_ZERO_PFN, set_huge_zero_folio
    dax_insert_entry(vmf, entry, index, HUGE_ZERO_PFN, True, True, False)
    if vmf.pmd_table[vmf.pmd_index] is not None:
        return VM_FAULT_NOPAGE
    set_huge_zero_folio(vmf, vmf.address & pt.PMD_MASK)
    if vmf.vma.vm_mm.system.settings.kernel == "6.12":
        vmf.pmd_table[vmf.pmd_index] &= ~pt._PAGE_SPECIAL   # set_pmd_at(mk_pmd(zero page))
    return VM_FAULT_NOPAGE


@kfunc(DAX_C, fault_bits=False)
def dax_insert_entry(vmf: VmFault, entry: DaxEntry, index: int, pfn: int, pmd: bool,
                     zero: bool, write: bool) -> DaxEntry:
    """dax_insert_entry - record what the fault maps. A zero entry replaced by a block
    is unmapped from every process first; a zero or empty entry is replaced (and its
    folio associated with the file); a write tags the entry dirty (for msync)."""
    mapping = vmf.vma.vm_file
    dax = mapping.dax
    key = index & ~PG_PMD_COLOUR if entry.order else index
    if entry.zero and not zero:
        why("replacing the zero page with the block: unmap_mapping_pages")
        unmap_mapping_pages(mapping, key, PG_PMD_NR if entry.order else 1, False)
    if entry.zero or entry.empty:
        dax_disassociate_entry(mapping, key, entry)
        entry = DaxEntry(PMD_ORDER if pmd else 0, pfn, zero)
        key = index & ~PG_PMD_COLOUR if pmd else index
        dax.entries[key] = entry
        dax_associate_entry(mapping, key, entry)
    if write:
        entry.dirty = True
    return entry


def dax_associate_entry(mapping: Any, index: int, entry: DaxEntry) -> None:
    """dax_associate_entry(): the device folio now belongs to the file at `index`;
    6.18 makes the 512 pages behind a PMD entry one PMD-order folio (dax_folio_init)."""
    if entry.zero or entry.empty:
        return
    phys = mapping.system.phys
    if entry.order and mapping.system.settings.kernel != "6.12":
        folio = Folio(entry.pfn, PMD_ORDER)
        folio.refcount = 0
        for k in range(PG_PMD_NR):
            phys.mem_map[entry.pfn + k] = folio
    folio = phys.page_folio(entry.pfn)
    folio.mapping = mapping
    folio.index = index


def dax_disassociate_entry(mapping: Any, index: int, entry: DaxEntry) -> None:
    """dax_disassociate_entry(): the folio leaves the file; a PMD-order folio goes back
    to order-0 pages once idle (dax_folio_reset_order)."""
    if entry.zero or entry.empty:
        return
    phys = mapping.system.phys
    folio = phys.page_folio(entry.pfn)
    if folio is None:
        return
    folio.mapping = None
    if folio.order:
        for k in range(folio.nr_pages):
            small = Folio(folio.pfn + k)
            small.refcount = 0
            phys.mem_map[folio.pfn + k] = small


# --- unmapping, write-back, truncate ------------------------------------------------


@kfunc("mm/memory.c", fault_bits=False)
def unmap_mapping_pages(mapping: Any, first: int, nr: int, even_cows: bool) -> int:
    """unmap_mapping_pages - zap file pages [first, first+nr) in every VMA mapping them;
    private COW copies (anonymous pages) stay unless even_cows. Returns entries zapped."""
    from faultlang.kernel.mm.filemap import file_vmas
    from faultlang.kernel.mm.huge_memory import walk_huge_pmds, zap_huge_pmd
    from faultlang.kernel.mm.memory import lookup_pte, zap_pte
    zapped = 0
    for vma in list(file_vmas(mapping)):
        lo = max(first, vma.vm_pgoff)
        hi = min(first + nr, vma.vm_pgoff + ((vma.vm_end - vma.vm_start) >> 12))
        if lo >= hi:
            continue
        start = vma.vm_start + ((lo - vma.vm_pgoff) << 12)
        end = vma.vm_start + ((hi - vma.vm_pgoff) << 12)
        mm = vma.vm_mm
        for pmd, i, _ in list(walk_huge_pmds(mm, start, end)):
            zapped += zap_huge_pmd(vma, pmd, i)
        for addr in range(start, end, 4096):
            table, i = lookup_pte(mm, addr)
            if table is None or not table[i]:
                continue
            pte = table[i]
            if not even_cows and pte & pt._PAGE_PRESENT and not pte & pt._PAGE_SPECIAL:
                folio = mm.system.phys.page_folio((pte & pt.PFN_MASK) >> 12)
                if folio is not None and folio.anon:
                    continue
            zap_pte(mm, table, i)
            zapped += 1
    return zapped


@kfunc(DAX_C, fault_bits=False)
def dax_writeback_mapping_range(mapping: Any, first: int, last: int) -> int:
    """dax_writeback_mapping_range - msync of a DAX file: for every entry tagged dirty
    in [first, last], flush the CPU caches and write-protect and clean its PTEs in
    every shared mapping (dax_entry_mkclean), so the next write faults again.
    Returns the pages flushed."""
    flushed = 0
    for key in sorted(mapping.dax.entries):
        entry = mapping.dax.entries[key]
        nr = PG_PMD_NR if entry.order else 1
        if not entry.dirty or key + nr <= first or key > last:
            continue
        dax_entry_mkclean(mapping, key, nr)
        entry.dirty = False
        flushed += nr
    why(f"{flushed} pages flushed to the device")
    return flushed


def dax_entry_mkclean(mapping: Any, first: int, nr: int) -> None:
    """dax_entry_mkclean(): write-protect and clean the shared PTEs/PMDs of the entry."""
    from faultlang.kernel.mm.filemap import file_vmas
    from faultlang.kernel.mm.memory import pmd_table_of
    for vma in file_vmas(mapping):
        if not vma.vm_flags & VM_SHARED:
            continue
        for idx in range(first, first + nr):
            if not vma.vm_pgoff <= idx < vma.vm_pgoff + ((vma.vm_end - vma.vm_start) >> 12):
                continue
            addr = vma.vm_start + ((idx - vma.vm_pgoff) << 12)
            pmd = pmd_table_of(vma.vm_mm, addr, False)
            if pmd is None:
                continue
            j = (addr >> 21) & 511
            if type(pmd[j]) is int:
                pmd[j] &= ~(pt._PAGE_RW | pt._PAGE_DIRTY)
            elif type(pmd[j]) is list and pmd[j][(addr >> 12) & 511] & pt._PAGE_PRESENT:
                pmd[j][(addr >> 12) & 511] &= ~(pt._PAGE_RW | pt._PAGE_DIRTY)


@kfunc(DAX_C, fault_bits=False)
def dax_delete_mapping_range(mapping: Any, first: int) -> int:
    """dax_delete_mapping_range - truncate: drop the entries at or beyond `first` (the
    pages are already unmapped). Returns the entries dropped."""
    dax = mapping.dax
    dropped = 0
    for key in [k for k in dax.entries if k >= first]:
        dax_disassociate_entry(mapping, key, dax.entries.pop(key))
        dropped += 1
    return dropped


__all__ = ["PmemDevice", "DaxMapping", "DaxEntry", "dax_iomap_fault", "vma_is_dax",
           "folio_is_fsdax", "unmap_mapping_pages", "dax_writeback_mapping_range"]
