"""Migration entries: move_pages(2) in two phases, and a fault that lands between them
(migration_entry_wait)."""

from __future__ import annotations

import pytest

from faultlang.errors import FaultlangError
from faultlang.kernel.include.linux import pgtable as pt
from faultlang.runtime.inspect import page_state
from faultlang.runtime.invariants import check_invariants

from tests.kernel.test_numa_faults import node_of


def _pte(sim, mapping, index, proc="main"):
    from faultlang.kernel.arch.x86.cpu import mmu_pte_table
    address = sim.machine.mappings[mapping].start + index * 4096
    return mmu_pte_table(sim.machine.processes[proc].mm, address)[(address >> 12) & 511]


def test_move_pages_moves_the_page_and_keeps_the_pte_writable(sim):
    sim("set numa_nodes 2\nmap a anon size 16K\nwrite a[*]")
    rec = sim("migrate a[0..2] to node 1")
    assert rec.notes[0] == "move_pages: 2 pages moved to node 1"
    assert [node_of(sim, "a", i) for i in range(3)] == [1, 1, 0]
    assert _pte(sim, "a", 0) & pt._PAGE_RW            # the writable entry gave it back
    assert all(s.outcome == "none" for s in sim.steps(sim("write a[0..2]")))
    assert sim.machine.system.vmstat.pgmigrate_success == 2
    assert check_invariants(sim.machine.system) == []


def test_hold_installs_migration_entries_by_the_old_pte(sim):
    # an exclusive anonymous page behind a read-only PTE: readable-exclusive
    sim("set numa_nodes 2\nmap a anon size 16K\nwrite a[0]\nmprotect a[0] r\n"
        "migrate a[0] to node 1 hold")
    pte = _pte(sim, "a", 0)
    assert pt.is_migration_entry(pte) and pt.swp_type(pte) == pt.SWP_MIGRATION_READ_EXCLUSIVE
    assert page_state(sim.task().mm, sim.machine.mappings["a"].start) == "migration"
    assert check_invariants(sim.machine.system) == []


def test_writable_pte_gives_a_writable_entry(sim):
    sim("set numa_nodes 2\nmap a anon size 16K\nwrite a[0]\nmigrate a[0] to node 1 hold")
    assert pt.swp_type(_pte(sim, "a", 0)) == pt.SWP_MIGRATION_WRITE
    assert check_invariants(sim.machine.system) == []


def test_access_to_a_held_page_blocks_then_completes_as_one_minor_fault(sim):
    sim("set numa_nodes 2\nmap a anon size 16K\nwrite a[*]\nmigrate a[1] to node 1 hold")
    task = sim.task()
    minflt, pgfault = task.min_flt, sim.machine.system.vmstat.pgfault
    rec = sim("read a[1..3]")
    steps = sim.steps(rec)
    assert [s.outcome for s in steps] == ["blocked"]
    assert steps[0].handler == "migration_entry_wait"
    assert "migration_entry_wait" in rec.notes[0]
    # asleep inside the fault: not counted yet
    assert (task.min_flt, sim.machine.system.vmstat.pgfault) == (minflt, pgfault)
    rec = sim("migrate release")
    steps = sim.steps(rec)
    assert [s.outcome for s in steps] == ["minor", "none"]
    assert [s.value for s in steps] == [2, 3]
    assert task.min_flt == minflt + 1 and task.maj_flt == 0
    # the accounting sits under handle_mm_fault, after migration_entry_wait
    symbols = [(f.depth, f.symbol) for f in steps[0].frames]
    depth = dict((s, d) for d, s in symbols)
    assert depth["mm_account_fault"] == depth["handle_mm_fault"] + 1
    assert symbols.index((depth["mm_account_fault"], "mm_account_fault")) > \
        [s for _, s in symbols].index("migration_entry_wait")
    assert node_of(sim, "a", 1) == 1
    assert check_invariants(sim.machine.system) == []


def test_hold_refuses_page_cache_pages(sim):
    sim("set numa_nodes 2\nmemfd m size 8K\nmap a file m size 8K shared\nwrite a[0]")
    with pytest.raises(FaultlangError, match="anonymous pages only"):
        sim("migrate a[0] to node 1 hold")


def test_writer_blocks_and_finds_a_writable_pte_after_release(sim):
    sim("set numa_nodes 2\nmap a anon size 8K\nwrite a[0]\nmigrate a[0] to node 1 hold")
    assert sim.steps(sim("write a[0] = 5"))[0].outcome == "blocked"
    step = sim.steps(sim("migrate release"))[0]
    assert step.outcome == "minor" and step.value == 5
    assert sim.steps(sim("read a[0]"))[0].value == 5


def test_per_page_errors_are_statuses(sim):
    sim("set numa_nodes 2\nmap a anon size 16K\nwrite a[0]")
    rec = sim("migrate a[0..2] to node 1")
    assert "status -ENOENT: a[1]" in rec.notes
    sim("munmap a[3]")
    rec = sim("migrate a[3] to node 1")
    assert "status -EFAULT: a[3]" in rec.notes


def test_shared_page_without_move_all_is_eacces(sim):
    sim("set numa_nodes 2\nmap a anon size 8K\nwrite a[0]\nfork child")
    rec = sim("migrate a[0] to node 1")
    assert "status -EACCES: a[0]" in rec.notes


def test_page_already_on_the_node_reports_it(sim):
    sim("set numa_nodes 2\nmap a anon size 8K\nwrite a[0]")
    rec = sim("migrate a[0] to node 0")
    assert "1 page already on node 0" in rec.notes


def test_statements_that_would_meet_a_migration_entry_wait_for_the_release(sim):
    sim("set numa_nodes 2\nmap a anon size 8K\nwrite a[0]\nmigrate a[0] to node 1 hold")
    with pytest.raises(FaultlangError, match="a migration is held"):
        sim("munmap a[0]")
    with pytest.raises(FaultlangError, match="a migration is held"):
        sim("migrate a[1] to node 1 hold")
    sim("migrate release")
    with pytest.raises(FaultlangError, match="no migration is held"):
        sim("migrate release")


def test_numa_hinting_migration_uses_migration_entries(sim):
    # the protnone PTE was not writable: remove_migration_pte maps the copy read-only,
    # so the next write to the private page is a do_wp_page fault (reuse)
    sim("set numa_nodes 2\nprocess far node 1\nswitch far\nmap a anon size 8K\nwrite a[0]")
    sim.machine.processes["far"].numa_node = 0
    sim("numa_scan a[0]\nread a[0]")
    assert node_of(sim, "a", 0, "far") == 0
    step = sim.steps(sim("write a[0] = 3"))[0]
    assert step.outcome == "minor" and "do_wp_page" in step.path
    assert check_invariants(sim.machine.system) == []
