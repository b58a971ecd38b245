"""Mirrors mm/memory.c (Linux 6.18), its do_fault half: faults on VMAs with vm_ops.

do_fault → do_read_fault (fault-around first, then ->fault) | do_cow_fault (write to a
private mapping: copy the page-cache page) | do_shared_fault (write to a shared
mapping: ->page_mkwrite, then map writable); finish_fault / set_pte_range install the
PTEs; wp_page_shared / wp_pfn_shared handle a write to a present read-only PTE of a
shared mapping (write-notify). The kernel keeps all of this in mm/memory.c; faultlang
splits it off so that each module stays screen-readable.

vmf_insert_page_mkwrite / vmf_insert_mixed map the pages a DAX ->fault chooses.

Simplified: single-threaded, so the "PTE changed under us" rechecks never fire; no
folio locks, hwpoison or uffd-armed VMAs; no PMD mappings of page-cache folios
(do_set_pmd comes with THP); balance_dirty_pages never throttles.
"""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_MKWRITE,
    FAULT_FLAG_ORIG_PTE_VALID,
    FAULT_FLAG_VMA_LOCK,
    FAULT_FLAG_WRITE,
    VM_FAULT_DONE_COW,
    VM_FAULT_ERROR,
    VM_FAULT_LOCKED,
    VM_FAULT_NOPAGE,
    VM_FAULT_OOM,
    VM_FAULT_RETRY,
    VM_FAULT_SIGBUS,
    VM_SHARED,
    VM_WRITE,
    Folio,
    VmFault,
)
from faultlang.kernel.mm.memory import (
    MEMORY_C,
    pte_alloc,
    vmf_anon_prepare,
    vmf_orig_pte_uffd_wp,
    wp_page_reuse,
)
from faultlang.kernel.mm.page_alloc import alloc_pages
from faultlang.kernel.mm.rmap import (
    folio_add_file_rmap_ptes,
    folio_add_new_anon_rmap,
    folio_put,
)
from faultlang.kernel.trace import kfunc, why

MM_FILEPAGES, MM_ANONPAGES, MM_SHMEMPAGES = 0, 1, 3


def mm_counter_file(folio: Folio) -> int:
    return MM_SHMEMPAGES if getattr(folio.mapping, "shmem", False) else MM_FILEPAGES


@kfunc(MEMORY_C)
def do_fault(vmf: VmFault) -> int:
    """do_fault - a none PTE in a VMA with vm_ops.

    Kernel: mm/memory.c do_fault(). No ->fault (a VMA populated at mmap time) → SIGBUS
    while the PTE is still none; a read → do_read_fault; a write to a private mapping
    → do_cow_fault; a write to a shared mapping → do_shared_fault.
    """
    vma = vmf.vma
    if vma.vm_ops.fault is None:
        table = vmf.pmd_table[vmf.pmd_index]
        if type(table) is list and table[vmf.pte_index]:
            why("no ->fault, but the PTE is there now: VM_FAULT_NOPAGE")
            return VM_FAULT_NOPAGE
        why("no ->fault handler and the PTE is none: SIGBUS")
        return VM_FAULT_SIGBUS
    if not vmf.flags & FAULT_FLAG_WRITE:
        why("read fault")
        ret = do_read_fault(vmf)
    elif not vma.vm_flags & VM_SHARED:
        why("write fault on a private mapping")
        ret = do_cow_fault(vmf)
    else:
        why("write fault on a shared mapping")
        ret = do_shared_fault(vmf)
    vmf.prealloc_pte = None          # a preallocated but unused PTE table is freed
    return ret


def should_fault_around(vmf: VmFault) -> bool:
    """should_fault_around(): ->map_pages exists, no uffd wp/minor registration, and
    fault_around_bytes is more than one page."""
    vma = vmf.vma
    if vma.vm_ops.map_pages is None:
        return False
    if vma.uffd is not None and (getattr(vma.uffd, "wp", False) or getattr(vma.uffd, "minor", False)):
        return False
    return vma.vm_mm.system.settings.fault_around_pages > 1


@kfunc(MEMORY_C)
def do_fault_around(vmf: VmFault) -> int:
    """do_fault_around - map the cached pages of the fault_around_pages window around
    the address: aligned on the virtual address, clipped to the VMA and the page table."""
    vma = vmf.vma
    nr_pages = vma.vm_mm.system.settings.fault_around_pages
    pte_off = vmf.pte_index
    vma_off = vmf.pgoff - vma.vm_pgoff
    vma_pages = (vma.vm_end - vma.vm_start) >> 12
    from_pte = max(pte_off & ~(nr_pages - 1), pte_off - min(pte_off, vma_off))
    to_pte = min(from_pte + nr_pages, pt.PTRS_PER_TABLE, pte_off + vma_pages - vma_off) - 1
    start_pgoff = vmf.pgoff + from_pte - pte_off
    end_pgoff = vmf.pgoff + to_pte - pte_off
    why(f"window: PTEs {from_pte}..{to_pte} of the table (file index {start_pgoff}..{end_pgoff})")
    if vmf.pmd_table[vmf.pmd_index] is None and vmf.prealloc_pte is None:
        vmf.prealloc_pte = [0] * 512
    return vma.vm_ops.map_pages(vmf, start_pgoff, end_pgoff)


def vmf_can_call_fault(vmf: VmFault) -> int:
    """vmf_can_call_fault(): ->fault may sleep; without ->map_pages that needs the
    mmap_lock, so under the VMA lock it asks for a retry."""
    if vmf.vma.vm_ops.map_pages is not None or not vmf.flags & FAULT_FLAG_VMA_LOCK:
        return 0
    why("->fault under the per-VMA lock without ->map_pages: retry under mmap_lock")
    return VM_FAULT_RETRY


@kfunc(MEMORY_C)
def do_read_fault(vmf: VmFault) -> int:
    """do_read_fault - fault-around first; if that did not map the address, ->fault and
    finish_fault map the one folio."""
    if should_fault_around(vmf):
        ret = do_fault_around(vmf)
        if ret:
            return ret
    ret = vmf_can_call_fault(vmf)
    if ret:
        return ret
    ret = _do_fault(vmf)
    if ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY):
        return ret
    ret |= finish_fault(vmf)
    if ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY):
        folio_put(vmf.vma.vm_mm.system.phys, vmf.folio)
    return ret


@kfunc(MEMORY_C, symbol="__do_fault")
def _do_fault(vmf: VmFault) -> int:
    """__do_fault - call the VMA's ->fault (filemap_fault, shmem_fault), which returns
    the folio with a reference held; a PTE table is preallocated if the PMD has none."""
    if vmf.pmd_table[vmf.pmd_index] is None and vmf.prealloc_pte is None:
        vmf.prealloc_pte = [0] * 512
    return vmf.vma.vm_ops.fault(vmf)


@kfunc(MEMORY_C)
def do_cow_fault(vmf: VmFault) -> int:
    """do_cow_fault - write to an unmapped page of a private file mapping: copy the
    page-cache page into a new anonymous page and map the copy writable."""
    vma = vmf.vma
    ret = vmf_can_call_fault(vmf)
    if not ret:
        ret = vmf_anon_prepare(vmf)
    if ret:
        return ret
    phys = vma.vm_mm.system.phys
    node = vma.vm_mm.owner.numa_node if vma.vm_mm.owner is not None else 0
    cow = alloc_pages(phys, 0, node, False)          # folio_prealloc: not zeroed
    if cow is None:
        return VM_FAULT_OOM
    vmf.cow_page = cow.pfn
    ret = _do_fault(vmf)
    if ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY):
        folio_put(phys, cow)
        return ret
    if ret & VM_FAULT_DONE_COW:
        why("the file system filled and mapped the copy (DAX)")
        return ret
    why("copy_mc_user_highpage: the private copy")
    phys.mem[cow.pfn] = phys.mem[vmf.page]
    src = vmf.folio
    ret |= finish_fault(vmf, cow)
    folio_put(phys, src)                              # the page-cache page's reference
    if ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY):
        folio_put(phys, cow)
    return ret


@kfunc(MEMORY_C)
def do_shared_fault(vmf: VmFault) -> int:
    """do_shared_fault - write to an unmapped page of a shared mapping: ->fault, then
    ->page_mkwrite when the file system has one, then map it writable and dirty."""
    vma = vmf.vma
    ret = vmf_can_call_fault(vmf)
    if ret:
        return ret
    ret = _do_fault(vmf)
    if ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY):
        return ret
    folio = vmf.folio
    phys = vma.vm_mm.system.phys
    if vma.vm_ops.page_mkwrite is not None:
        tmp = do_page_mkwrite(vmf, folio)
        if tmp & (VM_FAULT_ERROR | VM_FAULT_NOPAGE):
            folio_put(phys, folio)
            return tmp
    ret |= finish_fault(vmf)
    if ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY):
        folio_put(phys, folio)
        return ret
    ret |= fault_dirty_shared_page(vmf, folio)
    return ret


@kfunc(MEMORY_C)
def do_page_mkwrite(vmf: VmFault, folio: Folio) -> int:
    """do_page_mkwrite - tell the file system a page becomes writable (write-notify),
    with FAULT_FLAG_WRITE|FAULT_FLAG_MKWRITE set around the call."""
    old = vmf.flags
    vmf.flags = old | FAULT_FLAG_WRITE | FAULT_FLAG_MKWRITE
    vmf.folio = folio
    ret = vmf.vma.vm_ops.page_mkwrite(vmf)
    vmf.flags = old
    if ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE):
        return ret
    return ret | VM_FAULT_LOCKED


def fault_dirty_shared_page(vmf: VmFault, folio: Folio) -> int:
    """fault_dirty_shared_page(): mark the folio dirty (balance_dirty_pages never
    throttles here, so never VM_FAULT_COMPLETED)."""
    folio.dirty = True
    return 0


@kfunc(MEMORY_C)
def finish_fault(vmf: VmFault, cow: Optional[Folio] = None) -> int:
    """finish_fault - install the PTE(s) for the folio ->fault found (or the COW copy).

    Kernel: mm/memory.c finish_fault(). Never maps beyond EOF; 6.18 maps a whole large
    folio when it fits inside the VMA and the page table (not for COW copies, nor for
    a non-shmem folio straddling EOF); one PTE otherwise. The `kernel 6.12` profile
    maps a whole folio only for anonymous shmem (MAP_SHARED|MAP_ANONYMOUS).
    """
    vma = vmf.vma
    folio = cow if cow is not None else vmf.folio
    page = cow.pfn if cow is not None else vmf.page
    mapping = vma.vm_file
    nr = folio.nr_pages
    addr = vmf.address
    needs_fallback = False
    if cow is None and mapping is not None and not getattr(mapping, "shmem", False) \
            and folio.index + nr > mapping.nr_pages:
        needs_fallback = True
    if vmf.pmd_table[vmf.pmd_index] is None:
        pte_alloc(vmf)
    vmf.pte_table = vmf.pmd_table[vmf.pmd_index]
    if nr > 1 and (needs_fallback or vma.uffd is not None):
        nr = 1
    elif nr > 1 and vma.vm_mm.system.settings.kernel == "6.12" and not vma_is_anon_shmem(vma):
        why("kernel 6.12: per-page faults for all but anonymous shmem: one PTE")
        nr = 1
    elif nr > 1:
        idx = page - folio.pfn
        vma_off = vmf.pgoff - vma.vm_pgoff
        pte_off = vmf.pte_index
        vma_pages = (vma.vm_end - vma.vm_start) >> 12
        if vma_off < idx or vma_off + (nr - idx) > vma_pages or pte_off < idx \
                or pte_off + (nr - idx) > pt.PTRS_PER_TABLE \
                or any(vmf.pte_table[pte_off - idx + k] for k in range(nr)):
            why("large folio does not fit the VMA/page table: one PTE")
            nr = 1
        else:
            why(f"map the whole {nr}-page folio")
            addr = vmf.address - (idx << 12)
            page = folio.pfn
    if nr == 1 and vmf_pte_changed(vmf):
        why("PTE changed meanwhile: VM_FAULT_NOPAGE")
        return VM_FAULT_NOPAGE
    folio.refcount += nr - 1
    set_pte_range(vmf, folio, page, nr, addr, cow is not None)
    vma.vm_mm.rss_stat[MM_ANONPAGES if cow is not None else mm_counter_file(folio)] += nr
    return 0


def vma_is_anon_shmem(vma) -> bool:
    """vma_is_anon_shmem(): vm_ops is shmem_anon_vm_ops (MAP_SHARED|MAP_ANONYMOUS)."""
    from faultlang.kernel.mm.shmem import shmem_anon_vm_ops
    return vma.vm_ops is shmem_anon_vm_ops


def vmf_pte_changed(vmf: VmFault) -> bool:
    """vmf_pte_changed(): the PTE is no longer what the fault found (a none PTE, or
    the marker it held when FAULT_FLAG_ORIG_PTE_VALID)."""
    pte = vmf.pte_table[vmf.pte_index]
    if vmf.flags & FAULT_FLAG_ORIG_PTE_VALID:
        return pte != vmf.orig_pte
    return bool(pte)


def set_pte_range(vmf: VmFault, folio: Folio, page: int, nr: int, addr: int, cow: bool) -> None:
    """set_pte_range(): young PTEs with vm_page_prot; a write makes them dirty and (if
    VM_WRITE) writable; a COW copy gets a new anon rmap, the others a file rmap."""
    vma = vmf.vma
    entry = (page << 12) | vma.vm_page_prot | pt._PAGE_ACCESSED
    if vmf.flags & FAULT_FLAG_WRITE:
        entry |= pt._PAGE_DIRTY
        if vma.vm_flags & VM_WRITE:
            entry |= pt._PAGE_RW
    if vmf_orig_pte_uffd_wp(vmf):
        entry = (entry | pt._PAGE_UFFD_WP) & ~pt._PAGE_RW     # pte_mkuffd_wp
    if cow:
        folio_add_new_anon_rmap(folio, vma, addr)
        folio.lru = True
    else:
        folio_add_file_rmap_ptes(folio, nr)
    table = vmf.pte_table
    first = (addr >> 12) & 511
    for k in range(nr):
        table[first + k] = entry + (k << 12)


# --- write-protect faults on shared mappings ------------------------------------------


@kfunc(MEMORY_C)
def wp_page_shared(vmf: VmFault, folio: Folio) -> int:
    """wp_page_shared - a write to a present read-only PTE of a shared mapping:
    ->page_mkwrite first (write-notify), then reuse the page writable and dirty."""
    vma = vmf.vma
    ret = 0
    if vma.vm_ops is not None and vma.vm_ops.page_mkwrite is not None:
        why("the file system wants write-notify: ->page_mkwrite")
        tmp = do_page_mkwrite(vmf, folio)
        if tmp & (VM_FAULT_ERROR | VM_FAULT_NOPAGE):
            return tmp
        tmp = finish_mkwrite_fault(vmf, folio)
        if tmp & (VM_FAULT_ERROR | VM_FAULT_NOPAGE):
            return tmp
    else:
        why("no ->page_mkwrite: reuse the page")
        wp_page_reuse(vmf, folio)
    ret |= fault_dirty_shared_page(vmf, folio)
    return ret


@kfunc(MEMORY_C)
def wp_pfn_shared(vmf: VmFault) -> int:
    """wp_pfn_shared - the same for a page without struct page (VM_PFNMAP/MIXEDMAP):
    ->pfn_mkwrite if there is one, then make the PTE writable."""
    vma = vmf.vma
    if vma.vm_ops is not None and getattr(vma.vm_ops, "pfn_mkwrite", None) is not None:
        ret = vma.vm_ops.pfn_mkwrite(vmf)
        if ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE):
            return ret
        return finish_mkwrite_fault(vmf, None)
    wp_page_reuse(vmf, None)
    return 0


@kfunc(MEMORY_C)
def finish_mkwrite_fault(vmf: VmFault, folio: Optional[Folio]) -> int:
    """finish_mkwrite_fault - after ->page_mkwrite: if the PTE is unchanged, make it
    writable and dirty (wp_page_reuse); otherwise VM_FAULT_NOPAGE."""
    if vmf.pte_table[vmf.pte_index] != vmf.orig_pte:
        why("PTE changed meanwhile")
        return VM_FAULT_NOPAGE
    wp_page_reuse(vmf, folio)
    return 0


# --- driver mappings ------------------------------------------------------------------

DEVICE_PFN_BASE = 0x0C00          # a device's memory (a BAR) below the RAM faultlang hands out
DEVICE_PAGES = 0x400


@kfunc(MEMORY_C, fault_bits=False)
def remap_pfn_range(vma, addr: int, size: int) -> int:
    """remap_pfn_range - a driver's mmap maps device memory up front: special PTEs
    (no struct page, no RSS), VM_PFNMAP|VM_IO. Returns the number of PTEs set."""
    from faultlang.kernel.mm.memory import pmd_table_of
    mm = vma.vm_mm
    count = 0
    for k in range(min(size >> 12, DEVICE_PAGES)):
        a = addr + (k << 12)
        pmd = pmd_table_of(mm, a, True)
        j = (a >> 21) & 511
        if pmd[j] is None:
            pmd[j] = [0] * 512
        pmd[j][(a >> 12) & 511] = ((DEVICE_PFN_BASE + k) << 12) | vma.vm_page_prot \
            | pt._PAGE_SPECIAL | pt._PAGE_ACCESSED
        count += 1
    why(f"{count} special PTEs")
    return count


# --- inserting pages and pfns for a ->fault handler (DAX) ------------------------------


@kfunc(MEMORY_C)
def vmf_insert_page_mkwrite(vmf: VmFault, pfn: int, write: bool) -> int:
    """vmf_insert_page_mkwrite - map one page a ->fault handler chose (DAX), as a
    normal PTE: the folio gets a reference, a file rmap and RSS; the zero page is
    mapped special. With `write`, an existing PTE of the same page is made young,
    dirty and writable instead. VM_FAULT_NOPAGE: the PTE is there."""
    vma = vmf.vma
    mm = vma.vm_mm
    if vmf.pmd_table[vmf.pmd_index] is None:
        pte_alloc(vmf)
    table = vmf.pte_table = vmf.pmd_table[vmf.pmd_index]
    old = table[vmf.pte_index]
    if old:
        if not write:
            why("a PTE is there already (-EBUSY)")
            return VM_FAULT_NOPAGE
        if pt.pte_pfn(old) != pfn:
            why("the PTE maps another page (-EFAULT)")
            return VM_FAULT_SIGBUS
        why("the same page: make the PTE young, dirty and writable")
        table[vmf.pte_index] = old | pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (
            pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
        return VM_FAULT_NOPAGE
    entry = (pfn << 12) | vma.vm_page_prot
    if pfn == mm.system.zero_pfn:
        table[vmf.pte_index] = entry | pt._PAGE_SPECIAL
        return VM_FAULT_NOPAGE
    folio = mm.system.phys.page_folio(pfn)
    folio.refcount += 1
    if write:
        entry |= pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
    mm.rss_stat[mm_counter_file(folio)] += 1
    folio_add_file_rmap_ptes(folio)
    table[vmf.pte_index] = entry
    return VM_FAULT_NOPAGE


@kfunc(MEMORY_C)
def vmf_insert_mixed(vmf: VmFault, pfn: int, write: bool) -> int:
    """vmf_insert_mixed - (6.12) map a pfn a ->fault handler chose, without touching
    its struct page: a DAX pfn gets a special|devmap PTE, the zero page a special one;
    no reference, no rmap, no RSS. With `write` (vmf_insert_mixed_mkwrite) the PTE is
    young, dirty and writable, and an existing PTE of the same pfn is upgraded."""
    vma = vmf.vma
    if vmf.pmd_table[vmf.pmd_index] is None:
        pte_alloc(vmf)
    table = vmf.pte_table = vmf.pmd_table[vmf.pmd_index]
    old = table[vmf.pte_index]
    if old:
        if write and pt.pte_pfn(old) == pfn:
            why("the same pfn: make the PTE young, dirty and writable")
            table[vmf.pte_index] = old | pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (
                pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
        return VM_FAULT_NOPAGE
    entry = (pfn << 12) | vma.vm_page_prot | pt._PAGE_SPECIAL
    if pfn != vma.vm_mm.system.zero_pfn:
        entry |= pt._PAGE_DEVMAP                  # pte_mkdevmap
    if write:
        entry |= pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (pt._PAGE_RW if vma.vm_flags & VM_WRITE else 0)
    table[vmf.pte_index] = entry
    return VM_FAULT_NOPAGE


__all__ = ["do_fault", "do_read_fault", "do_cow_fault", "do_shared_fault", "finish_fault",
           "wp_page_shared", "wp_pfn_shared", "VM_FAULT_LOCKED"]
