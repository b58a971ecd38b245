"""Memory pressure: direct reclaim inside a fault (mm/vmscan.c), and OOM when nothing
can be reclaimed."""

from faultlang.runtime.invariants import check_invariants


def test_pressure_reclaims_inside_a_fault_and_the_path_shows_it(sim):
    rec = sim("set ram 1M\nset swap 4M\nset swap_device zram\nmap a anon size 2M\nwrite a[*]")
    steps = sim.steps(rec)
    assert all(s.outcome == "minor" for s in steps)
    reclaiming = [s for s in steps if "try_to_free_pages" in s.path]
    assert reclaiming and "__alloc_pages_slowpath" in reclaiming[0].path
    assert reclaiming[0].handler == "do_anonymous_page"
    rec = sim("read a[*]")
    assert [s.value for s in sim.steps(rec)] == list(range(1, 513))
    assert check_invariants(sim.machine.system) == []


def test_oom_when_nothing_is_reclaimable(sim):
    rec = sim("set ram 1M\nmap a anon size 2M\nwrite a[*]")
    assert "oom" in [s.outcome for s in sim.steps(rec)]
    assert not sim.task().alive


def test_the_allocator_runs_the_oom_killer_and_the_dead_task_stops(sim):
    rec = sim("set ram 1M\nmap a anon size 2M\nwrite a[*]")
    steps = sim.steps(rec)
    # a dead process runs nothing more: the OOM step is the last one
    assert [s.outcome for s in steps] == ["minor"] * 256 + ["oom"]
    last = steps[-1]
    assert last.handler == "oom_kill_process"
    for fn in ("__alloc_pages_slowpath", "__alloc_pages_may_oom", "out_of_memory",
               "select_bad_process", "oom_kill_process", "pagefault_out_of_memory"):
        assert fn in last.path
    assert sim.machine.system.vmstat.oom_kill == 1
    assert any("OOM-killed" in n for n in rec.notes)
    import pytest
    from faultlang.errors import ScenarioError
    with pytest.raises(ScenarioError, match="has exited"):
        sim("read a[0]")


def test_the_oom_killer_picks_the_biggest_process_not_the_faulting_one(sim):
    sim("set ram 1M\nprocess big\nas big: map b anon size 768K\nas big: write b[*]")
    rec = sim("map a anon size 512K\nwrite a[*]")
    steps = sim.steps(rec)
    assert all(s.outcome == "minor" for s in steps) and len(steps) == 128
    killer = [s for s in steps if "oom_kill_process" in s.path]
    assert len(killer) == 1 and killer[0].handler == "do_anonymous_page"
    assert not sim.task("big").alive and sim.task().alive
    assert any(n.startswith("big (pid 2) was OOM-killed") for n in rec.notes)
    assert sim.machine.system.vmstat.oom_kill == 1
    assert check_invariants(sim.machine.system) == []


def test_oom_badness_counts_rss_swap_and_page_tables(sim):
    from faultlang.kernel.mm.oom_kill import mm_pgtables_pages, oom_badness
    sim("map a anon size 64K\nwrite a[*]")
    mm = sim.task().mm
    assert mm_pgtables_pages(mm) == 3            # one PUD, one PMD and one PTE table
    assert oom_badness(sim.task()) == 16 + 3


def test_oom_when_swap_is_full(sim):
    rec = sim("set ram 1M\nset swap 256K\nset swap_device zram\nmap a anon size 2M\nwrite a[*]")
    assert "oom" in [s.outcome for s in sim.steps(rec)]


def test_clean_file_pages_are_reclaimed_without_swap(sim):
    sim("set ram 1M\nfile f size 512K cached\nmap a anon size 768K\nwrite a[*]")
    assert sim.task().alive
    assert len(sim.machine.system.files["f"].i_pages) < 128


def test_second_chance_keeps_referenced_pages_longer(sim):
    sim("set ram 1M\nset swap 4M\nset swap_device zram\nmap a anon size 768K\nwrite a[*]")
    sim("map b anon size 256K\nwrite b[0..32]\nread a[0..16]\nwrite b[32..64]")
    from faultlang.runtime.inspect import page_state
    mm = sim.task().mm
    base = sim.machine.mappings["a"].start
    # a[0..16] were touched again just before the second wave of pressure
    assert all(page_state(mm, base + i * 4096) == "resident" for i in range(16))


def test_reclaim_and_drop_caches_statements(sim):
    sim("set swap 64M\nmap a anon size 64K\nwrite a[*]\nfile f size 64K cached")
    rec = sim("reclaim 32")
    assert rec.notes[0].startswith("32 pages reclaimed")
    rec = sim("drop_caches")
    assert check_invariants(sim.machine.system) == []


# --- MADV_FREE: lazyfree folios under reclaim (try_to_unmap_one's MADV_FREE check) -------


def test_lazyfree_pages_are_discarded_not_swapped(sim):
    sim("set swap 16M\nmap heap anon size 64K\nwrite heap[*] = 7\nmadvise heap[*] free")
    vmstat = sim.machine.system.vmstat
    assert vmstat.pglazyfree == 16
    assert sim("reclaim 16").notes[0].startswith("16 pages reclaimed")
    assert (vmstat.pglazyfreed, vmstat.pswpout) == (16, 0)
    assert not any(sim.machine.system.swap.swap_map)          # no slot was used
    rec = sim("read heap[5]")
    step = sim.steps(rec)[0]
    assert (step.outcome, step.handler, step.value) == ("minor", "do_anonymous_page", 0)
    assert sim.task().mm.rss_stat == [0, 0, 0, 0]
    assert check_invariants(sim.machine.system) == []


def test_lazyfree_pages_are_reclaimable_without_swap(sim):
    sim("map heap anon size 64K\nwrite heap[*] = 7\nmadvise heap[*] free")
    assert sim("reclaim 16").notes[0].startswith("16 pages reclaimed")
    assert sim.machine.system.vmstat.pglazyfreed == 16


def test_a_lazyfree_page_written_again_is_kept(sim):
    sim("set swap 16M\nmap heap anon size 64K\nwrite heap[*] = 7\nmadvise heap[*] free")
    sim("write heap[3] = 9\nreclaim 16")
    assert sim.machine.system.vmstat.pglazyfreed == 15
    rec = sim("read heap[3]")
    assert sim.steps(rec)[0].value == 9          # swapped (or still resident), never lost
    assert check_invariants(sim.machine.system) == []


def test_a_redirtied_lazyfree_page_is_kept_without_swap(sim):
    sim("map heap anon size 16K\nwrite heap[*] = 7\nmadvise heap[*] free\nwrite heap[1] = 9")
    sim("reclaim 4")
    from faultlang.runtime.inspect import page_state
    base = sim.machine.mappings["heap"].start
    assert page_state(sim.task().mm, base + 4096) == "resident"
    assert sim.machine.system.vmstat.pglazyfreed == 3


def test_madv_free_drops_swap_entries_of_the_range(sim):
    sim("set swap 16M\nset swap_device zram\nmap heap anon size 16K\nwrite heap[*] = 7\n"
        "madvise heap[*] pageout")
    assert sim.task().mm.rss_stat[2] == 4                     # MM_SWAPENTS
    sim("madvise heap[*] free")
    assert sim.task().mm.rss_stat[2] == 0
    rec = sim("read heap[0]")
    assert sim.steps(rec)[0].value == 0
