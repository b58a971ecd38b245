"""Mirrors mm/page_alloc.c: a deterministic buddy allocator over the machine's frames.

Simplified: one zone per NUMA node, no watermarks, no per-cpu lists, no migratetypes;
the free lists pop the most recently freed block first (as the kernel's hot pages do),
which keeps every run's PFNs identical.
"""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.include.linux.mm_types import Folio
from faultlang.kernel.trace import kfunc, why

MAX_PAGE_ORDER = 10
FIRST_PFN = 0x1000          # frames below 16 MiB belong to the kernel image and firmware
ZERO_PFN = 0x0A00           # the shared zero page lives in the kernel image
SWAP_CLUSTER_MAX = 32       # pages direct reclaim tries to free per call
MAX_RECLAIM_RETRIES = 16


class Zone:
    """struct zone — the free areas of one node: free_area[order] holds free block PFNs."""

    def __init__(self, start_pfn: int, nr_pages: int, node: int = 0):
        self.start_pfn = start_pfn
        self.end_pfn = start_pfn + nr_pages
        self.node = node
        self.free_area: list[dict[int, None]] = [dict() for _ in range(MAX_PAGE_ORDER + 1)]
        self.nr_free = 0
        pfn = start_pfn
        blocks = []
        while pfn < self.end_pfn:
            order = MAX_PAGE_ORDER
            while order and (pfn - start_pfn) % (1 << order) or pfn + (1 << order) > self.end_pfn:
                order -= 1
            blocks.append((pfn, order))
            pfn += 1 << order
        for pfn, order in reversed(blocks):   # lowest PFN is popped first
            self.free_area[order][pfn] = None
            self.nr_free += 1 << order

    def alloc(self, order: int) -> Optional[int]:
        """__rmqueue_smallest(): the smallest free block that fits, split down to `order`."""
        area = self.free_area
        for current in range(order, MAX_PAGE_ORDER + 1):
            if area[current]:
                pfn, _ = area[current].popitem()
                while current > order:      # expand(): give back the upper halves
                    current -= 1
                    area[current][pfn + (1 << current)] = None
                self.nr_free -= 1 << order
                return pfn
        return None

    def free(self, pfn: int, order: int) -> None:
        """__free_one_page(): merge with free buddies as far as they go."""
        self.nr_free += 1 << order
        area = self.free_area
        while order < MAX_PAGE_ORDER:
            buddy = self.start_pfn + ((pfn - self.start_pfn) ^ (1 << order))
            if buddy not in area[order] or buddy + (1 << order) > self.end_pfn:
                break
            del area[order][buddy]
            pfn = min(pfn, buddy)
            order += 1
        area[order][pfn] = None


class PhysMem:
    """The machine's RAM: the zones, mem_map (PFN -> folio) and the contents of every page.

    Each page holds one integer (the language's data model); `mem[pfn]` is that integer.
    """

    def __init__(self, nr_frames: int, nodes: int = 1):
        self.nr_frames = nr_frames
        per_node = nr_frames // nodes
        self.zones = []
        start = FIRST_PFN
        for node in range(nodes):
            count = per_node if node < nodes - 1 else nr_frames - per_node * (nodes - 1)
            self.zones.append(Zone(start, count, node))
            start += count
        self.end_pfn = start
        # zonelist per node: its own zone first, then the others (fallback allocation)
        self.zonelists = [[self.zones[n]] + [z for z in self.zones if z.node != n]
                          for n in range(nodes)]
        self.mem: list[int] = [0] * self.end_pfn
        self.mem_map: list[Optional[Folio]] = [None] * self.end_pfn
        self.system = None          # the System, once built: direct reclaim needs it
        self.policy = None          # a textbook reclaim policy watching loads (mm/textbook.py)

    def nr_free(self) -> int:
        return sum(z.nr_free for z in self.zones)

    def node_of(self, pfn: int) -> int:
        for zone in self.zones:
            if zone.start_pfn <= pfn < zone.end_pfn:
                return zone.node
        return 0

    def page_folio(self, pfn: int) -> Optional[Folio]:
        return self.mem_map[pfn] if FIRST_PFN <= pfn < self.end_pfn else None


@kfunc("mm/page_alloc.c", symbol="__alloc_pages", fault_bits=False)
def alloc_pages(phys: PhysMem, order: int, node: int = 0, zero: bool = True,
                reclaim: bool = True) -> Optional[Folio]:
    """__alloc_pages(): a folio of 2^order frames from `node` (others as fallback), or None.
    When no zone has one, __alloc_pages_slowpath reclaims (unless `reclaim` is False:
    __GFP_NORETRY readahead) and tries again."""
    folio = get_page_from_freelist(phys, order, node, zero)
    if folio is None and reclaim and order == 0 and phys.system is not None:
        return alloc_pages_slowpath(phys, order, node, zero)
    return folio


@kfunc("mm/page_alloc.c", symbol="__alloc_pages_slowpath", fault_bits=False)
def alloc_pages_slowpath(phys: PhysMem, order: int, node: int, zero: bool) -> Optional[Folio]:
    """__alloc_pages_slowpath - no free frame: direct reclaim (try_to_free_pages), then
    the freelists again. When reclaim makes no progress, the OOM killer runs and the
    allocation retries; it fails (→ VM_FAULT_OOM) only when the allocating task is the
    OOM victim itself, or nothing could be killed."""
    from faultlang.kernel.mm.vmscan import try_to_free_pages
    system = phys.system
    for _ in range(MAX_RECLAIM_RETRIES):
        progress = try_to_free_pages(system, SWAP_CLUSTER_MAX)
        folio = get_page_from_freelist(phys, order, node, zero)
        if folio is not None:
            return folio
        if progress:                        # should_reclaim_retry
            continue
        why("direct reclaim made no progress: the OOM killer")
        folio, killed = alloc_pages_may_oom(phys, order, node, zero)
        if folio is not None:
            return folio
        current = system.current
        if current is not None and current.oom_killed:
            # tsk_is_oom_victim(current): the reserves were tried, no looping: nopage
            why("current is the OOM victim: the allocation fails")
            return None
        if not killed:
            return None
        folio = get_page_from_freelist(phys, order, node, zero)   # retry:
        if folio is not None:
            return folio
    return None


@kfunc("mm/page_alloc.c", symbol="__alloc_pages_may_oom", fault_bits=False)
def alloc_pages_may_oom(phys: PhysMem, order: int, node: int,
                        zero: bool) -> tuple[Optional[Folio], bool]:
    """__alloc_pages_may_oom - one more look at the freelists, then out_of_memory.
    Returns the folio, if any, and whether the OOM killer made progress."""
    from faultlang.kernel.mm.oom_kill import out_of_memory
    folio = get_page_from_freelist(phys, order, node, zero)
    if folio is not None:
        return folio, True
    return None, out_of_memory(phys.system)


def get_page_from_freelist(phys: PhysMem, order: int, node: int, zero: bool) -> Optional[Folio]:
    """get_page_from_freelist(): the first zone of the node's zonelist with a free block."""
    for zone in phys.zonelists[node if node < len(phys.zonelists) else 0]:
        pfn = zone.alloc(order)
        if pfn is not None:
            folio = Folio(pfn, order)
            mem_map, mem = phys.mem_map, phys.mem
            if not order:                   # one frame: the loop below, for one page
                mem_map[pfn] = folio
                if zero:
                    mem[pfn] = 0
                if phys.policy is not None:
                    phys.policy.on_alloc(pfn)
                return folio
            for p in range(pfn, pfn + (1 << order)):
                mem_map[p] = folio
                if zero:
                    mem[p] = 0
            return folio
    return None


def free_folio(phys: PhysMem, folio: Folio) -> None:
    """free_unref_folios(): give the frames back to their zone. A ZONE_DEVICE folio
    (a DAX device's page) only becomes idle (free_zone_device_folio): it stays."""
    if folio.pfn >= phys.zones[-1].end_pfn:
        return
    mem_map = phys.mem_map
    for p in range(folio.pfn, folio.pfn + (1 << folio.order)):
        mem_map[p] = None
    if phys.policy is not None:
        phys.policy.on_free(folio.pfn)
    for zone in phys.zones:
        if zone.start_pfn <= folio.pfn < zone.end_pfn:
            zone.free(folio.pfn, folio.order)
            return
