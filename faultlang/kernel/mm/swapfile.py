"""Mirrors mm/swapfile.c (Linux 6.18): the swap device, its slots and their counts.

struct swap_info_struct keeps one byte per slot in swap_map: how many swap entries
(PTEs, shmem index entries) refer to the slot, plus SWAP_HAS_CACHE while a folio for
the slot sits in the swap cache. A slot is free when its byte is 0. The swap cache
itself (swapper_spaces) lives here too, as a dict slot → folio.

Simplified:
- One swap device (type 0); slot 0 is the header page, as on disk, and is never used.
- Slots are handed out sequentially from a cursor (the per-CPU cluster allocator of
  the kernel gives the same picture for a single-threaded process): pages paged out
  together get neighbouring slots, which is what cluster readahead relies on.
- No swap continuation pages (counts never reach SWAP_MAP_MAX), no discard, no
  swapoff, no frontswap/zswap; zram keeps the page's value like any other device.
- The device's contents are one integer per slot (the language's data model).
"""

from __future__ import annotations

from typing import Any, Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import Folio
from faultlang.kernel.trace import kfunc, why

SWAPFILE_C = "mm/swapfile.c"
SWAP_HAS_CACHE = 0x40          # include/linux/swap.h: a folio for this slot is in the cache
SWP_SOLIDSTATE = 0x10          # not rotational: VMA-based readahead may be used
SWP_SYNCHRONOUS_IO = 0x1000    # zram, brd, pmem: reads complete in the submitter


class SwapInfo:
    """struct swap_info_struct — one swap device (plus its swap cache, swapper_spaces)."""

    def __init__(self, system: Any, size: int, device: str):
        self.system = system
        self.type = 0
        self.device = device
        self.flags = {"disk": 0, "ssd": SWP_SOLIDSTATE,
                      "zram": SWP_SOLIDSTATE | SWP_SYNCHRONOUS_IO}[device]
        self.max = max(2, size >> 12)
        self.pages = self.max - 1            # usable slots (slot 0 is the header)
        self.swap_map = bytearray(self.max)
        self.inuse_pages = 0
        self.cluster_next = 1
        self.data: dict[int, int] = {}       # what the device holds, per slot
        self.cache: dict[int, Folio] = {}    # the swap cache: slot → folio
        # swap readahead state (swapin_readahead_hits, prev_offset, last_readahead_pages;
        # VMA readahead keeps prev address/window per VMA: vma->swap_readahead_info)
        self.ra_hits = 0
        self.prev_offset = 0
        self.last_ra_pages = 0
        self.vma_ra: dict[int, tuple[int, int, int]] = {}

    @property
    def synchronous(self) -> bool:
        return bool(self.flags & SWP_SYNCHRONOUS_IO)

    # --- what the runtime reads (inspect.py) ---------------------------------------

    def used(self) -> int:
        return self.inuse_pages

    def total(self) -> int:
        return self.pages

    def cache_pages(self) -> int:
        return len(self.cache)

    def in_cache(self, pte: int) -> bool:
        return pt.swp_offset(pte) in self.cache

    def peek(self, pte: int) -> int:
        return self.value(pt.swp_offset(pte))

    def value(self, offset: int) -> int:
        """A slot's value: the swap-cache copy when there is one (it may be newer)."""
        folio = self.cache.get(offset)
        if folio is not None:
            return self.system.phys.mem[folio.pfn]
        return self.data.get(offset, 0)

    def count(self, offset: int) -> int:
        """swap_count(): references to the slot, without SWAP_HAS_CACHE."""
        return self.swap_map[offset] & ~SWAP_HAS_CACHE

    def text(self) -> str:
        """`show swap`: the device, its use and every used slot."""
        kind = {"disk": "rotational disk", "ssd": "SSD (SWP_SOLIDSTATE)",
                "zram": "zram (SWP_SYNCHRONOUS_IO)"}[self.device]
        lines = [f"swap type {self.type}: {kind}, {self.pages} slots, "
                 f"{self.inuse_pages} used, {len(self.cache)} pages in the swap cache"]
        rows: list[list] = []             # runs of alike slots share one row
        for off in range(1, self.max):
            if not self.swap_map[off]:
                continue
            folio = self.cache.get(off)
            cache = "-" if folio is None else "cached" + \
                (", writeback" if folio.writeback else "") + (", dirty" if folio.dirty else "")
            key = (self.count(off), cache)
            if rows and rows[-1][2] == key and rows[-1][1] + 1 == off:
                rows[-1][1] = off
                rows[-1][3].append(self.value(off))
            else:
                rows.append([off, off, key, [self.value(off)]])
        if rows:
            lines.append("  slots          count  swap cache          values")
        for first, last, (count, cache), values in rows:
            slots = f"{first}" if first == last else f"{first}..{last}"
            shown = ", ".join(map(str, values[:3])) + (", …" if len(values) > 3 else "")
            lines.append(f"  {slots:<14} {count:<6} {cache:<19} {shown}")
        return "\n".join(lines)


def swap_info(system: Any, pte: int) -> Optional[SwapInfo]:
    """swp_swap_info(): the device a swap entry points into (None: a bad entry)."""
    si = system.swap
    if si is None or pt.swp_type(pte) != si.type or not 0 < pt.swp_offset(pte) < si.max:
        return None
    return si


@kfunc(SWAPFILE_C, fault_bits=False)
def folio_alloc_swap(si: SwapInfo, folio: Folio) -> int:
    """folio_alloc_swap - give a folio a free slot and put it in the swap cache
    (add_to_swap_cache: SWAP_HAS_CACHE, PG_swapcache, one more reference).
    Returns the slot, 0 when the device is full."""
    if si.inuse_pages >= si.pages:
        why("swap device full")
        return 0
    off = si.cluster_next
    while si.swap_map[off]:
        off = off + 1 if off + 1 < si.max else 1
    si.cluster_next = off + 1 if off + 1 < si.max else 1
    si.swap_map[off] = SWAP_HAS_CACHE
    si.inuse_pages += 1
    add_to_swap_cache(si, folio, off)
    return off


def add_to_swap_cache(si: SwapInfo, folio: Folio, off: int) -> None:
    """add_to_swap_cache(): the cache holds the folio (and a reference) under its slot."""
    si.swap_map[off] |= SWAP_HAS_CACHE
    si.cache[off] = folio
    folio.swapcache = True
    folio.private = off
    folio.refcount += 1


def swap_entry_free(si: SwapInfo, off: int) -> None:
    """The slot's byte reached 0: it is free again and its data is gone."""
    si.inuse_pages -= 1
    si.data.pop(off, None)


@kfunc(SWAPFILE_C, fault_bits=False)
def delete_from_swap_cache(si: SwapInfo, folio: Folio) -> None:
    """delete_from_swap_cache - drop the folio from the swap cache (and the cache's
    reference); put_swap_folio clears SWAP_HAS_CACHE, freeing an unreferenced slot."""
    from faultlang.kernel.mm.rmap import folio_put
    off = folio.private
    si.cache.pop(off, None)
    folio.swapcache = False
    folio.private = 0
    si.swap_map[off] &= ~SWAP_HAS_CACHE
    if not si.swap_map[off]:
        swap_entry_free(si, off)
    folio_put(si.system.phys, folio)


def swap_duplicate(system: Any, pte: int) -> int:
    """swap_duplicate(): one more reference to a slot (fork copies a swap PTE)."""
    si = swap_info(system, pte)
    if si is None:
        return -22
    si.swap_map[pt.swp_offset(pte)] += 1
    return 0


def swap_free(si: SwapInfo, off: int) -> None:
    """swap_free_nr(): drop one reference; the slot is freed when nothing holds it."""
    si.swap_map[off] -= 1
    if not si.swap_map[off]:
        swap_entry_free(si, off)


@kfunc(SWAPFILE_C, fault_bits=False)
def free_swap_and_cache(system: Any, pte: int) -> None:
    """free_swap_and_cache_nr - a swap PTE is zapped: drop its reference; when only the
    swap cache still holds the slot, free the cached folio too if nobody maps it."""
    si = swap_info(system, pte)
    if si is None:
        return
    off = pt.swp_offset(pte)
    swap_free(si, off)
    folio = si.cache.get(off)
    if folio is not None and not si.count(off) and not folio.mapcount \
            and not folio.writeback and folio.refcount == 1:
        why(f"slot {off} unreferenced: its swap-cache folio is freed too")
        delete_from_swap_cache(si, folio)


@kfunc(SWAPFILE_C, fault_bits=False)
def folio_free_swap(system: Any, folio: Folio) -> bool:
    """folio_free_swap - the folio no longer needs its slot (no swap entry points to it
    and it is not under writeback): leave the swap cache, free the slot."""
    si = system.swap
    if si is None or not folio.swapcache or folio.writeback or si.count(folio.private):
        return False
    why(f"slot {folio.private} freed: the folio is the only copy now")
    folio.dirty = True          # the slot's copy is gone: the folio must be written again
    delete_from_swap_cache(si, folio)
    return True


def vm_swap_full(si: SwapInfo) -> bool:
    """vm_swap_full(): more than half of the swap is in use."""
    return si.inuse_pages * 2 > si.pages


def create_swap_device(system: Any) -> Optional[SwapInfo]:
    """sys_swapon(): the machine's swap device from `set swap` / `set swap_device`."""
    s = system.settings
    if not s.swap:
        return None
    return SwapInfo(system, s.swap, s.swap_device)
