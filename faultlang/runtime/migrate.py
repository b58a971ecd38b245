"""The `migrate` statements: move_pages(2), and a migration held between its phases.

Not a kernel file. `migrate TARGET to node N` is move_pages(2) called by the process on
its own pages (mm/migrate.c do_pages_move runs both phases of every page).
`migrate TARGET to node N hold` stops each page after its unmap phase: its PTEs are
migration entries and the folio is locked, as while another CPU is migrating it. On
real hardware that window lasts microseconds; holding it open is a teaching device, so
that an access can land in it: the access faults, sleeps in migration_entry_wait and
shows `blocked`. `migrate release` runs the move phase (copy, PTEs to the new page,
unlock), which wakes the sleepers: each access completes (its fault counted minor),
then the rest of its range runs.

`hold` takes anonymous pages only (not in the swap cache): a fault could reach any
other folio by a cache lookup and sleep in folio_lock, which is not modelled. While a
migration is held only accesses, `switch`, `process` and the observing
statements run: the engine does not model munmap, fork, reclaim and the other
page-table walkers meeting a migration entry.
"""

from __future__ import annotations

from typing import Optional

from faultlang.errors import ScenarioError
from faultlang.kernel.mm import migrate as km
from faultlang.lang import ast

# what may run while a migration is held (besides the observing statements)
ALLOWED_WHILE_HELD = (ast.Access, ast.MigrateRelease, ast.Switch, ast.ProcessDecl)


def check_hold(machine, stmt: ast.Statement) -> None:
    if machine.held and not isinstance(stmt, ALLOWED_WHILE_HELD):
        raise ScenarioError("a migration is held: only accesses, switch and process run "
                            "until it ends",
                            "finish it with 'migrate release' first", stmt.span)


def run_migrate(machine, stmt: ast.Migrate, process: Optional[str]) -> list[str]:
    """move_pages(pid 0, pages, nodes, status, MPOL_MF_MOVE) on every page of the target."""
    from faultlang.runtime.uffd import check_not_blocked
    task = machine.live_task(process, stmt)
    check_not_blocked(task, stmt)
    system = machine.system
    system.current = task
    if stmt.hold and machine.held:
        raise ScenarioError("a migration is already held", "finish it with 'migrate release' "
                            "first", stmt.span)
    nodes = system.settings.numa_nodes
    if not 0 <= stmt.node < nodes:
        return [f"failed: ENODEV (node {stmt.node} does not exist: there "
                f"{'is' if nodes == 1 else 'are'} {nodes})"]
    addrs = [a & ~0xFFF for a in machine.addresses(stmt.target)]
    machine.charge(len(addrs), stmt)
    if stmt.hold:
        for address in addrs:
            _, folio = km.folio_walk(task.mm, address)
            if folio is not None and (not folio.anon or folio.swapcache):
                # a fault could find such a folio by a cache lookup and sleep in folio_lock,
                # which the engine does not model; a migration entry is the only way to
                # an anonymous page
                raise ScenarioError(f"'hold' is simulated for anonymous pages only; "
                                    f"{machine.label(address)} is a page-cache, shmem or "
                                    "swap-cache page", "hold anonymous pages, or migrate "
                                    "without 'hold'", stmt.span)
    before = system.vmstat.pgmigrate_success
    status, held = km.do_pages_move(task.mm, addrs, stmt.node, stmt.hold)
    moved = system.vmstat.pgmigrate_success - before
    already = sum(1 for s in status if s == stmt.node) - moved - len(held)
    notes = []
    if stmt.hold:
        notes.append(f"{len(held)} page{'s' if len(held) != 1 else ''} held after the unmap "
                     "phase: their PTEs are migration entries, the folios locked, the copy "
                     "in progress (another CPU migrating them; the real window lasts "
                     "microseconds); `migrate release` finishes it" if held else
                     "nothing held: no page could start moving")
        machine.held = held
    else:
        notes.append(f"move_pages: {moved} page{'s' if moved != 1 else ''} moved to node "
                     f"{stmt.node}")
    if already:
        notes.append(f"{already} page{'s' if already != 1 else ''} already on node {stmt.node}")
    failed: dict[int, list[str]] = {}
    for address, s in zip(addrs, status):
        if s < 0:
            failed.setdefault(s, []).append(machine.label(address))
    for err, labels in sorted(failed.items(), reverse=True):
        shown = ", ".join(labels[:4]) + (f" and {len(labels) - 4} more" if len(labels) > 4 else "")
        notes.append(f"status -{km.ERRNO_NAMES.get(-err, str(-err))}: {shown}")
    if failed:
        notes.append(f"move_pages returns {sum(len(v) for v in failed.values())} "
                     "(pages not migrated)")
    return notes


def run_release(machine, stmt: ast.MigrateRelease) -> list[str]:
    """The move phase of every held page, then the threads it woke finish their accesses."""
    if not machine.held:
        raise ScenarioError("no migration is held", "hold one with 'migrate TARGET to node "
                            "N hold' first", stmt.span)
    held, machine.held = machine.held, []
    system = machine.system
    sources = {id(m.src) for m in held}
    for m in held:
        km.migrate_folio_move(system, m)
    n = len(held)
    notes = [f"{n} page{'s' if n != 1 else ''} copied to node {held[0].node}, PTEs restored, "
             "folios unlocked"]
    from faultlang.runtime.uffd import resume_access
    for task in machine.processes.values():
        wait = task.uffd_wait
        if task.alive and isinstance(wait, km.MigrationWait) and id(wait.folio) in sources:
            notes += resume_access(machine, task)
    return notes


def blocked_note(machine, task) -> str:
    wait = task.uffd_wait
    where = wait.access[3].target if wait.access is not None else "?"
    return (f"blocked at {where}: asleep in migration_entry_wait until the migration of pfn "
            f"{wait.folio.pfn:#x} ends (migrate release)")
