"""Mirrors mm/shmem.c (Linux 6.18): tmpfs, memfd and MAP_SHARED|MAP_ANONYMOUS memory.

A shmem file's pages live only in its page cache (or in swap): shmem_fault finds the
folio, or allocates a zero-filled one for a hole, always a minor fault. Both
shmem_vm_ops (tmpfs files, memfd) and shmem_anon_vm_ops (shared anonymous memory)
offer filemap_map_pages for fault-around, and neither has ->page_mkwrite, so shared
shmem mappings map writable PTEs and later writes do not fault.

With swap, reclaim moves a folio to the swap cache and leaves its swap entry at its
index (shmem_writeout); shmem_swapin_folio brings it back (major unless still cached).

Simplified: truncate does not free swapped pages' slots, no huge= mount
option (new folios are the file's `folio` size where alignment allows, 4 KiB for
shared anonymous memory), no fallocate/hole-punch.
"""

from __future__ import annotations

from typing import Any

from faultlang.kernel.include.linux.mm_types import (
    VM_FAULT_LOCKED,
    VM_FAULT_MAJOR,
    VM_FAULT_OOM,
    VM_FAULT_SIGBUS,
    VmFault,
)
from faultlang.kernel.mm.filemap import (
    AddressSpace,
    VmOps,
    filemap_alloc_folio,
    filemap_get_folio,
    filemap_map_pages,
    folio_size_pages,
)
from faultlang.kernel.mm.rmap import folio_get
from faultlang.kernel.trace import kfunc, why

SHMEM_C = "mm/shmem.c"


@kfunc(SHMEM_C)
def shmem_fault(vmf: VmFault) -> int:
    """shmem_fault - the ->fault of tmpfs and shared anonymous memory: get the folio
    (allocating a zeroed one for a hole) and return it locked. Major only when it had
    to be read back from swap."""
    ret = shmem_get_folio_gfp(vmf.vma.vm_file, vmf.pgoff, vmf)
    if ret & (VM_FAULT_OOM | VM_FAULT_SIGBUS):
        return ret
    return ret | VM_FAULT_LOCKED


@kfunc(SHMEM_C)
def shmem_get_folio_gfp(mapping: AddressSpace, index: int, vmf: VmFault) -> int:
    """shmem_get_folio_gfp - SGP_CACHE lookup: beyond i_size → -EINVAL (SIGBUS); a
    cached folio → done; a hole → shmem_alloc_and_add_folio (zero-filled, uptodate)."""
    if index >= mapping.nr_pages:
        why(f"index {index} beyond i_size ({mapping.nr_pages} pages): -EINVAL → SIGBUS")
        return VM_FAULT_SIGBUS
    ret = 0
    folio = filemap_get_folio(mapping, index)
    uffd = vmf.vma.uffd if vmf is not None else None
    if uffd is not None and uffd.minor and (folio is not None or index in mapping.swap_entries):
        why(f"page cache has index {index}, VMA registered uffd-minor")
        from faultlang.kernel.fs.userfaultfd import handle_userfault
        return handle_userfault(vmf, "minor")
    if folio is not None:
        why(f"folio cached at index {index}")
    elif uffd is not None and uffd.missing and index not in mapping.swap_entries:
        why(f"hole at index {index}, VMA registered uffd-missing")
        from faultlang.kernel.fs.userfaultfd import handle_userfault
        return handle_userfault(vmf, "missing")
    elif index in mapping.swap_entries:
        why(f"index {index} holds a swap entry")
        folio, ret = shmem_swapin_folio(mapping, index, vmf)
        if folio is None:
            return ret
    else:
        folio = shmem_alloc_and_add_folio(mapping, index)
        if folio is None:
            return VM_FAULT_OOM
    folio_get(folio)
    vmf.folio = folio
    vmf.page = folio.pfn + index - folio.index
    return ret


@kfunc(SHMEM_C, fault_bits=False)
def shmem_alloc_and_add_folio(mapping: AddressSpace, index: int):
    """shmem_alloc_and_add_folio - a hole: allocate a zeroed folio (the largest allowed
    order that fits, else one page) and add it to the page cache. A minor fault."""
    order = mapping.folio_order
    while order:
        base = index & ~((1 << order) - 1)
        if folio_size_pages(mapping, base, mapping.nr_pages, order) == order:
            break
        order -= 1
    base = index & ~((1 << order) - 1)
    why(f"hole at index {index}: new zero-filled {4 << order} KiB folio")
    return filemap_alloc_folio(mapping, base, order)


@kfunc(SHMEM_C, fault_bits=False)
def shmem_swapin_folio(mapping: AddressSpace, index: int, vmf: VmFault):
    """shmem_swapin_folio - bring a swapped shmem page back into the page cache: a
    swap-cache hit is no I/O; otherwise read it (SWP_SYNCHRONOUS_IO with count 1:
    directly; else shmem_swapin_cluster) → VM_FAULT_MAJOR + PGMAJFAULT.
    Returns (folio, VM_FAULT_* bits)."""
    from faultlang.kernel.mm.page_alloc import alloc_pages
    from faultlang.kernel.mm.swap_state import (
        swap_cache_get_folio, swap_cluster_readahead, swap_read_folio,
    )
    from faultlang.kernel.mm.swapfile import delete_from_swap_cache, swap_free
    system = mapping.system
    si = system.swap
    off = mapping.swap_entries[index]
    ret = 0
    folio = swap_cache_get_folio(si, off)
    if folio is not None:
        why(f"slot {off} in the swap cache: no I/O")
    else:
        if si.synchronous and si.count(off) == 1:
            why(f"slot {off}: SWP_SYNCHRONOUS_IO, read directly (shmem_swap_alloc_folio)")
            folio = alloc_pages(system.phys, 0, 0, False)
            if folio is not None:
                swap_read_folio(si, folio, off)
        else:
            why(f"slot {off} not cached: shmem_swapin_cluster")
            folio = swap_cluster_readahead(si, off, 0)
            if folio is not None:
                folio.refcount += 1
        if folio is None:
            return None, VM_FAULT_OOM
        system.vmstat.pgmajfault += 1
        ret = VM_FAULT_MAJOR
    # shmem_add_to_page_cache, then the swap cache and the entry let go of the slot;
    # the reference taken here becomes the page cache's.
    folio.readahead = False
    if folio.swapcache:
        delete_from_swap_cache(si, folio)
    del mapping.swap_entries[index]
    swap_free(si, off)
    folio.anon = False
    folio.mapping = mapping
    folio.index = index
    folio.lru = True
    folio.dirty = True
    mapping.i_pages[index] = folio
    return folio, ret


def shmem_writeout_prepare(si, folio) -> bool:
    """shmem_writeout(): move a shmem folio from the page cache to the swap cache; the
    file's index now holds the swap entry (one reference to the slot)."""
    from faultlang.kernel.mm.swapfile import folio_alloc_swap
    mapping = folio.mapping
    if not folio_alloc_swap(si, folio):
        return False
    off = folio.private
    del mapping.i_pages[folio.index]
    mapping.swap_entries[folio.index] = off
    si.swap_map[off] += 1
    folio.refcount -= 1             # the page cache's reference went to the swap cache
    return True


shmem_vm_ops = VmOps("shmem_vm_ops", fault=shmem_fault, map_pages=filemap_map_pages)
shmem_anon_vm_ops = VmOps("shmem_anon_vm_ops", fault=shmem_fault, map_pages=filemap_map_pages)


def shmem_zero_setup(system: Any, name: str, size: int) -> AddressSpace:
    """shmem_zero_setup(): the anonymous tmpfs object ("/dev/zero (deleted)") behind a
    MAP_SHARED|MAP_ANONYMOUS mapping, as big as the mapping."""
    return AddressSpace(system, f"dev/zero:{name}", size, "tmpfs")
