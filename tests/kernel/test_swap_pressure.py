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
