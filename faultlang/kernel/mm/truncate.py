"""Mirrors mm/truncate.c (Linux 6.18): shrinking a file (truncate(2), ftruncate(2)).

truncate_setsize sets the new i_size, then truncate_pagecache unmaps the pages beyond
it from every process (private COW copies included: even_cows) and drops them from the
page cache, so a later access beyond the new EOF is SIGBUS.

Simplified: a large folio straddling the new EOF is kept whole (the kernel splits it
or zeroes its tail); the data beyond EOF is discarded from "disk" as well.
"""

from __future__ import annotations

from faultlang.kernel.mm.filemap import AddressSpace, delete_from_page_cache, file_vmas
from faultlang.kernel.mm.memory import zap_page_range_single
from faultlang.kernel.trace import kfunc, why


@kfunc("mm/truncate.c", fault_bits=False)
def truncate_setsize(mapping: AddressSpace, size: int) -> int:
    """truncate_setsize - set i_size; on shrink, truncate_pagecache beyond it.
    Returns the number of PTEs unmapped."""
    old = mapping.i_size
    mapping.i_size = size
    if size >= old:
        why(f"grown to {size} bytes: nothing to drop")
        return 0
    return truncate_pagecache(mapping, size)


@kfunc("mm/truncate.c", fault_bits=False)
def truncate_pagecache(mapping: AddressSpace, size: int) -> int:
    """truncate_pagecache - unmap_mapping_range (even_cows) then truncate_inode_pages:
    no process maps, and the page cache holds, nothing at or beyond the new EOF."""
    first = mapping.nr_pages
    zapped = 0
    for vma in list(file_vmas(mapping)):
        last = vma.vm_pgoff + ((vma.vm_end - vma.vm_start) >> 12)
        if last <= first:
            continue
        start = vma.vm_start + (max(0, first - vma.vm_pgoff) << 12)
        zapped += zap_page_range_single(vma, start, vma.vm_end)
    dropped = 0
    if mapping.dax is not None:
        from faultlang.kernel.fs.dax import dax_delete_mapping_range
        dropped += dax_delete_mapping_range(mapping, first)
        for index in [i for i in mapping.dax.blocks if i >= first]:
            del mapping.dax.blocks[index]        # ext4_truncate frees the blocks
    for folio in mapping.folios():
        if folio.index >= first:
            dropped += folio.nr_pages
            delete_from_page_cache(mapping, folio)
    for index in [i for i in mapping.disk if i >= first]:
        del mapping.disk[index]
    why(f"{zapped} PTEs unmapped, {dropped} page-cache pages dropped")
    return zapped
