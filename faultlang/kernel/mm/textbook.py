"""The textbook page-replacement policies of `set policy fifo|lru|clock|opt`.

Not a kernel file: Linux reclaims with its active/inactive lists (mm/vmscan.c,
policy "linux"). These are the policies of operating-systems courses, plugged in where
direct reclaim (try_to_free_pages) picks its victims, so a course can compare them on
the same fault path: the victim is unmapped into swap exactly as the kernel's
shrink_folio_list would do it, and the fault that needed the frame is the one that
reclaims.

- fifo:  the frame loaded first goes first (allocation order, page_alloc tells us).
- lru:   the least recently accessed page goes first. The MMU keeps no timestamps, so
         the runtime stamps every access (Machine.access) when the policy is lru.
- clock: second chance with the PTE accessed bit (set by the MMU): the hand sweeps the
         frames in load order, clears set bits and takes the first frame found clear.
- opt:   Belady's optimal policy: the page whose next use lies farthest in the future
         (never used again first). The future is the reference string of the scenario's
         statements not yet run, computed by the runtime (runtime/policies.py) and
         indexed by the runtime's access counter.

Simplified: one victim per call (demand paging replaces one page per fault); only
order-0 folios on the LRU are candidates; a victim that cannot be freed (no swap,
mlocked, pinned) is skipped and the next one tried.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Callable, Optional

POLICIES = ("fifo", "lru", "clock", "opt")


class Policy:
    """The policy's own bookkeeping: resident frames in load order, and per policy
    the access stamps (lru), the hand (clock) or the future (opt)."""

    def __init__(self, name: str):
        self.name = name
        self.loaded: dict[int, int] = {}      # pfn → load sequence, in load order
        self.seq = 0
        self.stamp: dict[int, int] = {}       # lru: pfn → last access (runtime step)
        self.ring: list[int] = []             # clock: frames in the order first loaded
        self.ring_pos: dict[int, int] = {}
        self.hand = 0
        # opt: page key → sorted positions of its future uses; `now()` gives the
        # current position; `key_of(folio)` the folio's page key.
        self.future: dict[Any, list[int]] = {}
        self.now: Callable[[], int] = lambda: 0
        self.key_of: Optional[Callable[[Any], Any]] = None
        self.evictions = 0
        self.unevictable: set[int] = set()    # frames reclaim found it could not free

    # --- hooks from the page allocator ------------------------------------------------

    def on_alloc(self, pfn: int) -> None:
        self.seq += 1
        self.unevictable.discard(pfn)
        self.loaded.pop(pfn, None)
        self.loaded[pfn] = self.seq
        if self.name == "lru":
            self.stamp[pfn] = self.now()
        elif self.name == "clock" and pfn not in self.ring_pos:
            self.ring_pos[pfn] = len(self.ring)
            self.ring.append(pfn)

    def on_free(self, pfn: int) -> None:
        self.loaded.pop(pfn, None)

    # --- choosing ----------------------------------------------------------------------------

    def candidates(self, system: Any) -> list:
        """Resident order-0 LRU folios, oldest load first."""
        mem_map = system.phys.mem_map
        skip = self.unevictable
        out = []
        for pfn in self.loaded:
            folio = mem_map[pfn]
            if folio is not None and folio.lru and not folio.order and folio.pfn == pfn \
                    and pfn not in skip:
                out.append(folio)
        return out

    def order(self, system: Any, folios: list) -> list:
        """The candidates in the order this policy would evict them."""
        if self.name == "fifo":
            return folios
        if self.name == "lru":
            stamp = self.stamp
            return sorted(folios, key=lambda f: stamp.get(f.pfn, -1))
        if self.name == "opt":
            now = self.now()
            never = 1 << 62

            def next_use(folio: Any) -> int:
                uses = self.future.get(self.key_of(folio)) if self.key_of else None
                if not uses:
                    return never
                k = bisect_right(uses, now)
                return uses[k] if k < len(uses) else never
            # farthest next use first; ties (never used again) in FIFO order
            return sorted(folios, key=next_use, reverse=True)
        return self.clock_order(system, folios)

    def clock_order(self, system: Any, folios: list) -> list:
        """Sweep the hand: a frame whose PTEs are young gets its bits cleared and a
        second chance; the first frame found old is the victim (then the rest)."""
        from faultlang.kernel.mm.vmscan import folio_referenced
        by_pfn = {f.pfn: f for f in folios}
        ring = self.ring
        if not by_pfn or not ring:
            return folios
        out: list = []
        for _ in range(2 * len(ring) + 1):
            pfn = ring[self.hand % len(ring)]
            folio = by_pfn.get(pfn)
            if folio is not None:
                if not folio_referenced(system, folio):
                    out.append(folio)
                    self.hand = (self.hand + 1) % len(ring)
                    break
            self.hand = (self.hand + 1) % len(ring)
        rest = [f for f in folios if not out or f is not out[0]]
        return out + rest

    def lines(self, system: Any, label: Callable[[Any], str]) -> list[str]:
        """`show lru`: the policy's queue, next victim first."""
        folios = self.candidates(system)
        if self.name == "clock":
            from faultlang.kernel.include.linux import pgtable as pt
            from faultlang.kernel.mm.vmscan import folio_ptes
            out = [f"clock: {len(folios)} frames, the hand at frame {self.hand}"]
            by_pfn = {f.pfn: f for f in folios}
            for k, pfn in enumerate(self.ring):
                folio = by_pfn.get(pfn)
                if folio is None:
                    continue
                young = any(t[i] & pt._PAGE_ACCESSED for _, t, i in folio_ptes(system, folio))
                mark = "→" if k == self.hand % max(1, len(self.ring)) else " "
                out.append(f" {mark} pfn {pfn:#x}  {label(folio)}  referenced={int(young)}")
            return out
        ordered = self.order(system, folios) if self.name != "fifo" else folios
        head = {"fifo": "fifo: oldest load first",
                "lru": "lru: least recently used first",
                "opt": "opt: farthest next use first"}[self.name]
        out = [f"{head}: {len(folios)} frames"]
        for folio in ordered:
            extra = ""
            if self.name == "lru":
                extra = f"  last use step {self.stamp.get(folio.pfn, 0)}"
            elif self.name == "fifo":
                extra = f"  loaded #{self.loaded.get(folio.pfn, 0)}"
            out.append(f"   pfn {folio.pfn:#x}  {label(folio)}{extra}")
        return out


def textbook_reclaim(system: Any, nr_to_reclaim: int) -> int:
    """Free one frame (at most nr_to_reclaim) by the textbook policy; returns the number
    freed. The victim goes through shrink_folio_list like any reclaimed folio."""
    from faultlang.kernel.mm.vmscan import FREED, end_writeback, shrink_folio
    from faultlang.kernel.trace import why
    policy = system.policy
    if nr_to_reclaim <= 0:
        return 0
    end_writeback(system)
    candidates = policy.candidates(system)
    while candidates:
        folio = policy.order(system, candidates)[0]
        if shrink_folio(system, folio, False) == FREED:
            policy.evictions += 1
            why(f"{policy.name}: evicted pfn {folio.pfn:#x}")
            return 1
        # mlocked, pinned, no swap: not a candidate until its frame is loaded again
        policy.unevictable.add(folio.pfn)
        candidates = [f for f in candidates if f is not folio]
    why(f"{policy.name}: no frame can be freed")
    return 0
