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


# --- which folios migrate_misplaced_folio_prepare lets move --------------------------------


def _far_writer(sim, decl):
    # faultlang puts page-cache and shmem pages on node 0: a task on node 1 finds them
    # misplaced
    sim("set numa_nodes 2\nprocess far node 1\nswitch far\n" + decl)


def test_shared_shmem_page_mapped_twice_migrates_with_its_cache_entry(sim):
    _far_writer(sim, "memfd m size 16K\nmap a file m size 16K shared\nwrite a[*] = 3\n"
                     "map b file m size 16K shared\nread b[*]")
    folio = sim.machine.system.files["m"].i_pages[0]
    assert folio.mapcount == 2
    sim("numa_scan a[0]")
    step = sim.steps(sim("read a[0]"))[0]
    assert "migrate_misplaced_folio" in step.path and step.value == 3
    moved = sim.machine.system.files["m"].i_pages[0]
    assert moved is not folio and sim.machine.system.phys.node_of(moved.pfn) == 1
    assert node_of(sim, "a", 0, "far") == node_of(sim, "b", 0, "far") == 1
    assert sim.machine.system.vmstat.pgmigrate_success == 1
    assert check_invariants(sim.machine.system) == []


def test_shared_writable_shmem_stays_writable_after_the_hinting_fault(sim):
    _far_writer(sim, "map s shmem size 16K\nwrite s[*] = 3")
    sim("numa_scan s[*]\nread s[0]")
    step = sim.steps(sim("write s[0] = 4"))[0]
    assert step.outcome == "none"


def test_clean_file_page_migrates(sim):
    _far_writer(sim, "file f size 16K\nmap a file f size 16K\nread a[*]")
    sim("numa_scan a[0]\nread a[0]")
    assert node_of(sim, "a", 0, "far") == 1


def test_dirty_file_page_stays(sim):
    _far_writer(sim, "file f size 16K\nmap a file f size 16K shared\nwrite a[*] = 2")
    sim("numa_scan a[0]")
    step = sim.steps(sim("read a[0]"))[0]
    assert "-EAGAIN" in " ".join(f.why or "" for f in step.frames)
    assert node_of(sim, "a", 0, "far") == 0


def test_executable_file_page_mapped_by_two_processes_stays(sim):
    _far_writer(sim, "file lib size 16K\nmap a file lib size 16K r-x\nexec a[0]\n"
                     "fork child\nas child: exec a[0]")
    sim("numa_scan a[0]")
    step = sim.steps(sim("exec a[0]"))[0]
    assert "-EACCES" in " ".join(f.why or "" for f in step.frames)
    assert node_of(sim, "a", 0, "far") == 0
