"""Mirrors mm/migrate.c (Linux 6.18): moving a page to another NUMA node, and the
migration entries that stand for it while it moves.

A migration has two phases (migrate_pages_batch): migrate_folio_unmap locks the folio
and try_to_migrate (mm/rmap.c) replaces every PTE that maps it with a migration entry
(readable, readable-exclusive or writable, as the old PTE was); migrate_folio_move
copies it to the new folio, moves its page-cache or swap-cache entry there
(folio_migrate_mapping), puts PTEs to the new folio back where the entries were
(remove_migration_ptes) and unlocks it. A fault on a migration entry in between sleeps
on the locked folio (migration_entry_wait) and returns 0 when it is unlocked: one minor
fault, and the instruction run again finds the new PTE.

Two callers: a NUMA hinting fault (migrate_misplaced_folio_prepare decides whether the
folio may move; migrate_misplaced_folio runs both phases at once) and move_pages(2)
(do_pages_move; the runtime may stop it between the phases: `migrate ... hold`).

Simplified: order-0 folios only; the target node must have a free page (no
migrate_balanced_pgdat watermarks, no fallback: __GFP_THISNODE); a folio with references
beyond its mappings, its cache and the isolation (a GUP pin) fails at once with -EAGAIN
(the kernel retries it up to ten times); the copy is done whole in the move phase.
"""

from __future__ import annotations

from typing import Any, Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import Folio, Vma, ClearPageAnonExclusive, PageAnonExclusive, SetPageAnonExclusive
from faultlang.kernel.mm.rmap import maps_folio, rmap_walk
from faultlang.kernel.trace import kfunc, why

MIGRATE_C = "mm/migrate.c"
RMAP_C = "mm/rmap.c"
EACCES, EAGAIN, EBUSY, EFAULT, ENOENT, ENODEV = 13, 11, 16, 14, 2, 19
ERRNO_NAMES = {EACCES: "EACCES", EAGAIN: "EAGAIN", EBUSY: "EBUSY", EFAULT: "EFAULT",
               ENOENT: "ENOENT", ENODEV: "ENODEV"}
VM_EXEC = 0x4
_MAP_BITS = pt._PAGE_PRESENT | pt._PAGE_PROTNONE


def folio_is_file_lru(folio: Folio) -> bool:
    """folio_is_file_lru(): not swap-backed: regular-file page cache, or lazyfree anon."""
    if folio.anon:
        return folio.lazyfree
    return not getattr(folio.mapping, "shmem", False)


def _kind(folio: Folio) -> str:
    if folio.anon:
        return "anonymous"
    return "page-cache" if folio_is_file_lru(folio) else "shmem"


def _cached(folio: Folio) -> int:
    return 1 if folio.swapcache or (not folio.anon and folio.mapping is not None) else 0


def folio_isolate_lru(folio: Folio) -> bool:
    """folio_isolate_lru(): take the folio off its LRU list (reclaim no longer sees it)
    with a reference of its own. False when it is on no LRU list."""
    if not folio.lru:
        return False
    folio.lru = False
    folio.refcount += 1
    return True


def folio_putback_lru(system: Any, folio: Folio) -> None:
    """folio_putback_lru(): back on its LRU list, the isolation reference dropped."""
    from faultlang.kernel.mm.rmap import folio_put
    folio.lru = True
    folio_put(system.phys, folio)


# --- the rmap walk: which PTEs map a folio, or hold a migration entry for it -------------


def _migration_entry_for(folio: Folio):
    pfn = folio.pfn
    return lambda pte: pt.is_migration_entry(pte) and pt.swp_offset(pte) == pfn


@kfunc(RMAP_C, fault_bits=False)
def try_to_migrate(system: Any, folio: Folio) -> int:
    """try_to_migrate - replace every PTE that maps the (locked) folio with a migration
    entry: writable when the PTE was, readable-exclusive for a PageAnonExclusive page,
    else readable; the young, dirty, soft-dirty and uffd-wp bits ride along. The
    mappings are dropped from the rmap (the RSS counters stay: zap counts a migration
    entry as the page). Returns how many PTEs were replaced."""
    from faultlang.kernel.mm.rmap import folio_put, folio_remove_rmap_ptes
    slots = rmap_walk(system, folio, maps_folio(folio))
    kinds = {pt.SWP_MIGRATION_READ: 0, pt.SWP_MIGRATION_READ_EXCLUSIVE: 0,
             pt.SWP_MIGRATION_WRITE: 0}
    for _, table, i in slots:
        pte = table[i]
        if pte & pt._PAGE_RW:
            kind = pt.SWP_MIGRATION_WRITE
        elif folio.anon and PageAnonExclusive(folio):
            kind = pt.SWP_MIGRATION_READ_EXCLUSIVE
        else:
            kind = pt.SWP_MIGRATION_READ
        kinds[kind] += 1
        entry = pt.make_migration_entry(kind, folio.pfn)
        if pte & pt._PAGE_ACCESSED:
            entry |= pt._PAGE_SWP_MIG_YOUNG
        if pte & pt._PAGE_DIRTY:
            entry |= pt._PAGE_SWP_MIG_DIRTY
            folio.dirty = True                     # folio_mark_dirty
        entry |= pte & (pt._PAGE_SOFT_DIRTY | pt._PAGE_UFFD_WP)
        table[i] = entry
        folio_remove_rmap_ptes(folio)
        folio_put(system.phys, folio)
    if folio.anon:
        ClearPageAnonExclusive(folio)     # kept in the entry; remove_migration_pte restores it
    why(f"{len(slots)} PTE{'s' if len(slots) != 1 else ''} → migration entries (" +
        ", ".join(f"{n} {w}" for w, n in zip(("readable", "readable-exclusive", "writable"),
                                            kinds.values()) if n) + ")" if slots else
        "no PTE maps the folio")
    return len(slots)


@kfunc(MIGRATE_C, fault_bits=False)
def remove_migration_ptes(system: Any, src: Folio, dst: Folio) -> int:
    """remove_migration_ptes - every migration entry for `src` becomes a PTE to `dst`
    (which is `src` itself when the migration failed): mk_pte with the VMA's
    protections, old unless the entry was young, dirty when both the entry and the
    folio are, writable only from a writable entry; an anonymous page is exclusive again
    unless the entry was plain readable."""
    from faultlang.kernel.mm.rmap import folio_get
    slots = rmap_walk(system, src, _migration_entry_for(src))
    for vma, table, i in slots:
        entry = table[i]
        pte = (dst.pfn << 12) | vma.vm_page_prot              # mk_pte
        if not entry & pt._PAGE_SWP_MIG_YOUNG:
            pte &= ~pt._PAGE_ACCESSED
        if entry & pt._PAGE_SWP_MIG_DIRTY and dst.dirty:
            pte |= pt._PAGE_DIRTY
        pte |= entry & pt._PAGE_SOFT_DIRTY
        kind = pt.swp_type(entry)
        if kind == pt.SWP_MIGRATION_WRITE:
            pte |= pt._PAGE_RW
        if entry & pt._PAGE_UFFD_WP:
            pte = (pte | pt._PAGE_UFFD_WP) & ~pt._PAGE_RW        # pte_mkuffd_wp
        if dst.anon and kind != pt.SWP_MIGRATION_READ:
            SetPageAnonExclusive(dst)         # RMAP_EXCLUSIVE
        table[i] = pte
        dst.mapcount += 1                # folio_add_{anon,file}_rmap_pte
        folio_get(dst)
    why(f"{len(slots)} migration entr{'ies' if len(slots) != 1 else 'y'} → PTEs to pfn "
        f"{dst.pfn:#x}")
    return len(slots)


# --- the two phases ----------------------------------------------------------------------


class Migration:
    """One folio between migrate_folio_unmap and migrate_folio_move: the source (locked,
    isolated, unmapped: its PTEs are migration entries) and its new folio."""

    __slots__ = ("src", "dst", "node", "mapped")

    def __init__(self, src: Folio, dst: Folio, node: int, mapped: int):
        self.src = src
        self.dst = dst
        self.node = node
        self.mapped = mapped


@kfunc(MIGRATE_C, fault_bits=False)
def migrate_folio_unmap(system: Any, src: Folio, node: int) -> tuple[Optional[Migration], int]:
    """migrate_folio_unmap - allocate the new folio on `node`, lock the (isolated) source
    and unmap it (try_to_migrate). (Migration, 0), or (None, -errno) with the folio
    mapped as before."""
    from faultlang.kernel.mm.page_alloc import alloc_pages, free_folio
    phys = system.phys
    if src.pincount or src.refcount != src.mapcount + _cached(src) + 1:
        why("references beyond the mappings, the cache and the isolation (pinned): -EAGAIN")
        return None, -EAGAIN
    if src.locked:
        why("the folio is locked (another migration holds it): -EAGAIN")
        return None, -EAGAIN
    dst = alloc_pages(phys, 0, node, zero=False, reclaim=False)
    if dst is None or phys.node_of(dst.pfn) != node:
        if dst is not None:
            free_folio(phys, dst)
        why(f"node {node} has no free page (__GFP_THISNODE): -ENOMEM")
        return None, -EAGAIN
    src.locked = True                           # folio_trylock
    mapped = src.mapcount
    if try_to_migrate(system, src) != mapped or src.mapcount:
        why("not every mapping found: -EAGAIN")
        remove_migration_ptes(system, src, src)
        src.locked = False
        free_folio(phys, dst)
        return None, -EAGAIN
    return Migration(src, dst, node, mapped), 0


@kfunc(MIGRATE_C, fault_bits=False)
def migrate_folio_move(system: Any, m: Migration) -> Folio:
    """migrate_folio_move - copy the data and flags to the new folio (folio_mc_copy,
    folio_migrate_flags), move the cache entry (folio_migrate_mapping), put the PTEs
    back (remove_migration_ptes), unlock the new folio (waking the threads asleep in
    migration_entry_wait) and free the old one (PGMIGRATE_SUCCESS)."""
    from faultlang.kernel.mm.rmap import folio_put
    src, dst = m.src, m.dst
    phys = system.phys
    phys.mem[dst.pfn] = phys.mem[src.pfn]
    for slot in Folio.__slots__:
        if slot not in ("pfn", "order", "refcount", "mapcount", "exclusive", "lru", "locked"):
            setattr(dst, slot, getattr(src, slot))
    dst.refcount = _cached(src)          # the cache's reference moves with its entry
    dst.mapcount = 0
    dst.exclusive = src.exclusive
    if src.swapcache:
        system.swap.cache[src.private] = dst
    elif not src.anon:
        dst.mapping.i_pages[src.index] = dst
    remove_migration_ptes(system, src, dst)
    dst.lru = True                       # putback on the new node's LRU
    src.locked = False
    src.swapcache = False
    src.refcount = 1                     # only the isolation reference is left
    src.mapcount = 0
    folio_put(phys, src)
    system.vmstat.pgmigrate_success += 1
    why(f"{_kind(dst)} page copied to pfn {dst.pfn:#x} on node {m.node}, "
        f"{m.mapped} PTE{'s' if m.mapped != 1 else ''} moved; folio unlocked")
    return dst


# --- NUMA hinting faults -----------------------------------------------------------------


@kfunc(MIGRATE_C, fault_bits=False)
def migrate_misplaced_folio_prepare(system: Any, folio: Folio, vma: Vma, node: int) -> int:
    """migrate_misplaced_folio_prepare - may this folio move to `node`? 0 (and the folio
    isolated from its LRU list), or -errno."""
    if folio_is_file_lru(folio):
        if vma.vm_flags & VM_EXEC and folio.mapcount > 1:      # folio_maybe_mapped_shared
            why("executable file page mapped by several processes (a shared library): "
                "-EACCES")
            return -EACCES
        if folio.dirty:
            why("dirty file page: not every filesystem moves one in async mode: -EAGAIN")
            return -EAGAIN
    if not any(z.node == node and z.nr_free for z in system.phys.zones):
        why(f"node {node} has no free page: -EAGAIN")
        return -EAGAIN
    if not folio_isolate_lru(folio):
        why("not on an LRU list (folio_isolate_lru fails): -EAGAIN")
        return -EAGAIN
    return 0


@kfunc(MIGRATE_C, fault_bits=False)
def migrate_misplaced_folio(system: Any, folio: Folio, node: int) -> Optional[Folio]:
    """migrate_misplaced_folio - migrate the isolated folio to `node` (migrate_pages:
    unmap, then move, with nothing in between on this CPU). The new folio, or None when
    it cannot move (the folio back on its LRU list)."""
    m, err = migrate_folio_unmap(system, folio, node)
    if m is None:
        folio_putback_lru(system, folio)
        return None
    return migrate_folio_move(system, m)


# --- the fault side ----------------------------------------------------------------------


class MigrationWait:
    """A thread asleep in migration_entry_wait, on the folio under migration. Its fault
    has not returned yet: handle_mm_fault leaves the accounting (`account`, its
    mm_account_fault arguments) to migration_entry_wake. `access` is the runtime's, as
    for fs/userfaultfd.UffdWait."""

    __slots__ = ("folio", "account", "access", "gup", "retry")
    defers_account = True

    def __init__(self, folio: Folio):
        self.folio = folio
        self.account = None
        self.access = None
        self.gup = None
        self.retry = None


@kfunc(MIGRATE_C, fault_bits=False)
def migration_entry_wait(vmf: Any) -> None:
    """migration_entry_wait - the PTE is a migration entry: take a reference on its folio,
    drop the PTE lock and sleep until the migration unlocks the folio
    (migration_entry_wait_on_locked). When it already finished, return at once."""
    mm = vmf.vma.vm_mm
    table, i = vmf.pte_table, vmf.pte_index
    entry = table[i]
    if not pt.is_migration_entry(entry):
        why("the PTE changed: the migration already ended")
        return
    folio = mm.system.phys.page_folio(pt.swp_offset(entry))
    if folio is None or not folio.locked:
        why("the folio is not locked: the migration already ended")
        return
    why(f"pfn {folio.pfn:#x} is under migration (locked): sleep until it is unlocked")
    mm.system.current.uffd_wait = MigrationWait(folio)


def migration_entry_wake(task: Any) -> int:
    """The migration unlocked the folio (folio_unlock → folio_wake_bit): the thread in
    migration_entry_wait runs again, do_swap_page returns 0, and handle_mm_fault goes on
    with its accounting (mm_account_fault: minor). Returns handle_mm_fault's result."""
    from faultlang.kernel.mm.memory import mm_account_fault
    wait, task.uffd_wait = task.uffd_wait, None
    task.mm.system.current = task
    mm_account_fault(*wait.account)
    return wait.account[4]


# --- move_pages(2) -----------------------------------------------------------------------


def folio_walk(mm: Any, address: int) -> tuple[int, Optional[Folio]]:
    """add_page_for_migration's lookup: (0, folio) or (-errno, None) for an address with
    no migratable VMA (-EFAULT) or no page of its own (-ENOENT)."""
    from faultlang.kernel.mm.memory import lookup_pte
    vma = mm.vma_lookup(address)
    if vma is None or vma.vm_flags & (0x400000 | 0x4000 | 0x400):   # hugetlb here, PFNMAP, IO
        return -EFAULT, None
    table, i = lookup_pte(mm, address)
    pte = table[i] if table is not None else 0
    if not pte & _MAP_BITS or pte & pt._PAGE_SPECIAL:
        return -ENOENT, None
    return 0, mm.system.phys.page_folio((pte & pt.PFN_MASK) >> 12)


@kfunc("mm/migrate.c", symbol="do_pages_move", fault_bits=False)
def do_pages_move(mm: Any, addresses: list[int], node: int, hold: bool = False
                  ) -> tuple[list[int], list[Migration]]:
    """do_pages_move - move_pages(2) with nodes given (MPOL_MF_MOVE): each page is looked
    up and isolated (add_page_for_migration: -EFAULT, -ENOENT, -EACCES for a page
    another process maps too, -EBUSY off the LRU; a page already there reports its node),
    then migrate_pages moves the list (MIGRATE_SYNC). Returns the status of each page
    and, with `hold`, the migrations stopped after their unmap phase."""
    system = mm.system
    status: list[int] = []
    queued: list[tuple[int, Folio]] = []
    for address in addresses:
        err, folio = folio_walk(mm, address)
        if folio is not None:
            if folio.order:
                why(f"{address:#x}: a large folio (faultlang migrates order-0 folios only)")
                err = -EBUSY
            elif system.phys.node_of(folio.pfn) == node:
                err = node
            elif folio.mapcount > 1:
                why(f"{address:#x}: mapped by others too, and no MPOL_MF_MOVE_ALL: -EACCES")
                err = -EACCES
            elif folio_isolate_lru(folio):
                queued.append((len(status), folio))
            else:
                err = -EBUSY
        status.append(err)
    held: list[Migration] = []
    for k, folio in queued:
        m, err = migrate_folio_unmap(system, folio, node)
        if m is None:
            folio_putback_lru(system, folio)
            status[k] = err
        elif hold:
            held.append(m)
            status[k] = node
        else:
            migrate_folio_move(system, m)
            status[k] = node
    return status, held
