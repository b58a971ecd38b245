"""NUMA hinting faults: numa_scan → protnone PTEs → do_numa_page → migrate_misplaced_folio."""

from __future__ import annotations

from faultlang.runtime.inspect import page_state
from faultlang.runtime.invariants import check_invariants


def node_of(sim, mapping, index, proc="main"):
    from faultlang.kernel.arch.x86.cpu import mmu_pte_table
    machine = sim.machine
    address = machine.mappings[mapping].start + index * 4096
    pte = mmu_pte_table(machine.processes[proc].mm, address)[(address >> 12) & 511]
    return machine.system.phys.node_of((pte & ((1 << 52) - 1)) >> 12)


def test_scan_makes_ptes_protnone_and_the_next_access_is_one_minor_fault(sim):
    sim("set numa_nodes 2\nmap a anon size 64K\nwrite a[*]")
    rec = sim("numa_scan a[*]")
    assert rec.notes[0].startswith("16 PTEs made protnone")
    assert page_state(sim.task().mm, sim.machine.mappings["a"].start) == "protnone"
    rec = sim("read a[*]")
    steps = sim.steps(rec)
    assert [s.outcome for s in steps] == ["minor"] * 16
    assert steps[0].handler == "do_numa_page"
    assert [s.value for s in steps] == list(range(1, 17))
    assert sim.machine.system.vmstat.numa_hint_faults == 16
    assert sim.machine.system.vmstat.pgmigrate_success == 0     # already local
    rec = sim("write a[*]")
    assert all(s.outcome == "none" for s in sim.steps(rec))      # writable again
    assert check_invariants(sim.machine.system) == []


def test_misplaced_page_migrates_to_the_faulting_tasks_node(sim):
    sim("set numa_nodes 2\nprocess far node 1\nswitch far\nmap a anon size 64K\nwrite a[*]")
    assert node_of(sim, "a", 0, "far") == 1
    sim.machine.processes["far"].numa_node = 0        # the scheduler moved the task
    sim("numa_scan a[0..4]")
    rec = sim("read a[0..4]")
    steps = sim.steps(rec)
    assert all("migrate_misplaced_folio" in s.path for s in steps)
    assert [s.value for s in steps] == [1, 2, 3, 4]
    assert [node_of(sim, "a", i, "far") for i in range(5)] == [0, 0, 0, 0, 1]
    assert sim.machine.system.vmstat.pgmigrate_success == 4
    assert check_invariants(sim.machine.system) == []


def test_show_memory_lists_pages_per_node(sim):
    sim("set numa_nodes 2\nprocess far node 1\nswitch far\nmap a anon size 64K\nwrite a[*]")
    extra = dict(sim("show memory").snapshot.memory.extra)
    assert extra["node1_used"] == 16 and extra["node0_used"] == 0
