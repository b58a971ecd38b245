"""Mirrors fs/ext4/file.c and the iomap half of fs/ext4/inode.c (Linux 6.18): ext4 on a
DAX device (`mount -o dax`).

ext4_file_mmap_prepare gives a DAX file ext4_dax_vm_ops and sets VM_HUGEPAGE (not
VM_MIXEDMAP: that went in 4.15). All four hooks end in ext4_dax_huge_fault →
dax_iomap_fault (fs/dax.c, kernel/fs/dax.py): ->fault and ->huge_fault, and also
->page_mkwrite and ->pfn_mkwrite, so a shared mapping is write-notify (read-only PTEs)
and the first write to each page goes through the file system (journal, block
allocation). There is no ->map_pages: no fault-around, and under the per-VMA lock
->fault asks for a retry under the mmap_lock (vmf_can_call_fault).

ext4_iomap_begin maps a file range to device blocks: an allocated run is an extent
(IOMAP_MAPPED), anything else a hole; a write (IOMAP_WRITE) allocates the hole's
blocks, zeroed (IOMAP_F_NEW). A whole 2 MiB hole gets a 2 MiB-aligned extent, as the
multi-block allocator gives on a fresh device.

Simplified: no journal (its handle never fails), no ENOSPC retry, no delalloc.
"""

from __future__ import annotations

from typing import Any

from faultlang.kernel.fs.dax import (
    PG_PMD_COLOUR, PG_PMD_NR, DaxMapping, Iomap, dax_iomap_fault, pmem_device,
)
from faultlang.kernel.include.linux.mm_types import FAULT_FLAG_WRITE, VM_SHARED, Vma, VmFault
from faultlang.kernel.mm.filemap import VmOps
from faultlang.kernel.trace import kfunc, why

EXT4_FILE_C = "fs/ext4/file.c"
EXT4_INODE_C = "fs/ext4/inode.c"
VM_HUGEPAGE = 0x20000000


def ext4_dax_inode(mapping: Any) -> int:
    """A DAX file as a scenario declares it: written in full, so every block of its
    size is allocated, in one 2 MiB-aligned extent. Returns the first block's PFN."""
    pmem = pmem_device(mapping.system)
    mapping.dax = DaxMapping(pmem)
    nr = mapping.nr_pages
    start = pmem.alloc_blocks(nr, PG_PMD_NR)
    for index in range(nr):
        mapping.dax.blocks[index] = start + index
    return start


@kfunc(EXT4_FILE_C)
def ext4_dax_huge_fault(vmf: VmFault, order: int) -> int:
    """ext4_dax_huge_fault - a write to a shared mapping runs inside a journal handle
    (sb_start_pagefault, file_update_time, EXT4_HT_WRITE_PAGE); a read or a private
    (COW) write does not touch the journal. Both hold the invalidate lock shared."""
    write = bool(vmf.flags & FAULT_FLAG_WRITE) and bool(vmf.vma.vm_flags & VM_SHARED)
    if write:
        why("shared write: journal handle, file_update_time")
    return dax_iomap_fault(vmf, order)


@kfunc(EXT4_FILE_C)
def ext4_dax_fault(vmf: VmFault) -> int:
    """ext4_dax_fault - ->fault, ->page_mkwrite and ->pfn_mkwrite: a 4 KiB DAX fault."""
    return ext4_dax_huge_fault(vmf, 0)


@kfunc(EXT4_INODE_C, fault_bits=False)
def ext4_iomap_begin(mapping: Any, index: int, count: int, write: bool) -> Iomap:
    """ext4_iomap_begin - where pages [index, index+count) live on the device: the
    extent (contiguous blocks) starting at `index`, or the hole there, which a write
    fills with newly allocated zeroed blocks (EXT4_GET_BLOCKS_CREATE_ZERO)."""
    dax = mapping.dax
    blocks = dax.blocks
    end = min(index + count, mapping.nr_pages)
    pfn = blocks.get(index)
    if pfn is not None:
        n = 1
        while index + n < end and blocks.get(index + n) == pfn + n:
            n += 1
        why(f"extent: {n} block{'s' if n != 1 else ''} at pfn {pfn:#x}")
        return Iomap(True, pfn, n)
    n = 1
    while index + n < end and index + n not in blocks:
        n += 1
    if not write:
        why(f"hole of {n} page{'s' if n != 1 else ''}")
        return Iomap(False, None, n)
    align = PG_PMD_NR if n == PG_PMD_NR and not index & PG_PMD_COLOUR else 1
    pfn = dax.pmem.alloc_blocks(n, align)
    for k in range(n):
        blocks[index + k] = pfn + k
    why(f"hole: {n} new zeroed block{'s' if n != 1 else ''} at pfn {pfn:#x} (IOMAP_F_NEW)")
    return Iomap(True, pfn, n, new=True)


class Ext4DaxVmOps(VmOps):
    """ext4_dax_vm_ops, with ext4_file_mmap_prepare's DAX half."""

    def mmap_prepare(self, vma: Vma) -> None:
        vma.vm_flags |= VM_HUGEPAGE
        super().mmap_prepare(vma)


ext4_dax_vm_ops = Ext4DaxVmOps("ext4_dax_vm_ops", fault=ext4_dax_fault,
                               page_mkwrite=ext4_dax_fault, pfn_mkwrite=ext4_dax_fault,
                               huge_fault=ext4_dax_huge_fault)
