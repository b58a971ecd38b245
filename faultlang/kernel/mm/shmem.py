"""Mirrors mm/shmem.c (Linux 6.18): tmpfs, memfd and MAP_SHARED|MAP_ANONYMOUS memory.

A shmem file's pages live only in its page cache (or in swap): shmem_fault finds the
folio, or allocates a zero-filled one for a hole, always a minor fault. Both
shmem_vm_ops (tmpfs files, memfd) and shmem_anon_vm_ops (shared anonymous memory)
offer filemap_map_pages for fault-around, and neither has ->page_mkwrite, so shared
shmem mappings map writable PTEs and later writes do not fault.

Simplified: no swap (shmem_swapin_folio comes with the swap work), no huge= mount
option (new folios are the file's `folio` size where alignment allows, 4 KiB for
shared anonymous memory), no fallocate/hole-punch, no uffd-minor or uffd-missing.
"""

from __future__ import annotations

from typing import Any

from faultlang.kernel.include.linux.mm_types import (
    VM_FAULT_LOCKED,
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
    (allocating a zeroed one for a hole) and return it locked. Never major without swap."""
    ret = shmem_get_folio_gfp(vmf.vma.vm_file, vmf.pgoff, vmf)
    if ret:
        return ret
    return VM_FAULT_LOCKED


@kfunc(SHMEM_C)
def shmem_get_folio_gfp(mapping: AddressSpace, index: int, vmf: VmFault) -> int:
    """shmem_get_folio_gfp - SGP_CACHE lookup: beyond i_size → -EINVAL (SIGBUS); a
    cached folio → done; a hole → shmem_alloc_and_add_folio (zero-filled, uptodate)."""
    if index >= mapping.nr_pages:
        why(f"index {index} beyond i_size ({mapping.nr_pages} pages): -EINVAL → SIGBUS")
        return VM_FAULT_SIGBUS
    folio = filemap_get_folio(mapping, index)
    if folio is not None:
        why(f"folio cached at index {index}")
    else:
        folio = shmem_alloc_and_add_folio(mapping, index)
        if folio is None:
            return VM_FAULT_OOM
    folio_get(folio)
    vmf.folio = folio
    vmf.page = folio.pfn + index - folio.index
    return 0


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


shmem_vm_ops = VmOps("shmem_vm_ops", fault=shmem_fault, map_pages=filemap_map_pages)
shmem_anon_vm_ops = VmOps("shmem_anon_vm_ops", fault=shmem_fault, map_pages=filemap_map_pages)


def shmem_zero_setup(system: Any, name: str, size: int) -> AddressSpace:
    """shmem_zero_setup(): the anonymous tmpfs object ("/dev/zero (deleted)") behind a
    MAP_SHARED|MAP_ANONYMOUS mapping, as big as the mapping."""
    return AddressSpace(system, f"dev/zero:{name}", size, "tmpfs")
