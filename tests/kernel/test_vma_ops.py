"""munmap, mprotect, madvise, mlock, populate, growsdown: VMAs and what later faults do."""

from faultlang.runtime.inspect import page_state


def vmas(sim, name="main"):
    return [(v.vm_start, v.vm_end, v.vm_flags & 7) for v in sim.task(name).mm.vmas]


def test_first_mapping_starts_at_0x7f0000000000_and_later_ones_go_below(sim):
    sim("map a anon size 64K\nmap b anon size 8K")
    assert sim.machine.mappings["a"].start == 0x7F0000000000
    assert sim.machine.mappings["b"].start == 0x7F0000000000 - 8192


def test_2m_multiple_anon_mapping_is_2m_aligned(sim):
    sim("map a anon size 8K\nmap b anon size 2M")
    assert sim.machine.mappings["b"].start % (2 << 20) == 0


def test_munmap_middle_splits_the_vma_and_access_gives_maperr(sim):
    sim("map a anon size 16K\nwrite a[*]\nmunmap a[1..3]\nread a[1]")
    assert len(sim.task().mm.vmas) == 2
    assert sim.last().si_code == "SEGV_MAPERR"
    assert sim.task().mm.rss() == 2
    assert sim.machine.system.phys.nr_free() == sim.machine.system.phys.nr_frames - 2


def test_mprotect_round_trip_merges_back_and_keeps_pages_writable(sim):
    sim("map a anon size 16K\nwrite a[*]\nmprotect a[1..2] r")
    assert len(sim.task().mm.vmas) == 3
    sim("mprotect a[1..2] rw")
    assert len(sim.task().mm.vmas) == 1
    rec = sim("write a[*]")
    assert [s.outcome for s in sim.steps(rec)] == ["none"] * 4


def test_mprotect_of_unmapped_range_fails_with_enomem(sim):
    rec = sim("map a anon size 16K\nmunmap a[1]\nmprotect a[*] r")
    assert any("ENOMEM" in n for n in rec.notes)


def test_madvise_dontneed_frees_and_the_next_write_faults(sim):
    sim("map a anon size 16K\nwrite a[*] = 5\nmadvise a[*] dontneed")
    assert page_state(sim.task().mm, sim.machine.mappings["a"].start) == "none"
    rec = sim("read a[0]")
    assert sim.steps(rec)[0].value == 0          # private anon: the data is gone


def test_madvise_free_keeps_the_pages_mapped(sim):
    rec = sim("map a anon size 16K\nwrite a[*] = 5\nmadvise a[*] free\nwrite a[*]")
    assert all(s.outcome == "none" for s in sim.steps(rec))


def test_madvise_wipeonfork_on_shared_is_einval(sim):
    rec = sim("map a anon size 16K\nmadvise a[*] wipeonfork")
    assert rec.notes == ()


def test_populate_write_is_a_gup_fault_charged_to_the_caller(sim):
    rec = sim("map a anon size 16K\nmadvise a[*] populate_write")
    gup = sim.steps(rec)
    assert [s.op for s in gup] == ["gup"] * 4
    t = sim.task()
    assert t.min_flt == 4 and t.perf_min == 0 and t.perf_page_faults == 0
    assert gup[0].path[0] == "faultin_page"


def test_populate_read_maps_the_zero_page_so_a_write_faults_again(sim):
    sim("map a anon size 8K\nmadvise a[*] populate_read")
    assert page_state(sim.task().mm, sim.machine.mappings["a"].start) == "zero"
    rec = sim("write a[*]")
    assert all(s.outcome == "minor" for s in sim.steps(rec))


def test_map_populate_and_mlock_fault_in_writable_pages(sim):
    sim("map a anon size 16K populate\nmap b anon size 8K\nmlock b[*]")
    assert sim.task().min_flt == 6
    rec = sim("write a[*]\nwrite b[*]")
    assert sim.task().min_flt == 6


def test_growsdown_stack_grows_into_the_gap_below(sim):
    sim("map st anon size 16K growsdown")
    start = sim.machine.mappings["st"].start
    sim(f"write {start - 4096:#x}")
    assert sim.last().outcome == "minor"
    assert sim.task().mm.vmas[0].vm_start == start - 4096
    assert any("expand_stack_locked" == f.symbol for f in sim.last().frames)


def test_growsdown_stops_at_the_guard_gap(sim):
    sim("map low anon size 4K at 0x7e0000000000\nmap st anon size 16K at 0x7e0000020000 growsdown")
    sim("write 0x7e000001f000")
    assert sim.last().si_code == "SEGV_MAPERR"


def test_map_fixed_replaces_what_was_there(sim):
    sim("map a anon size 16K at 0x7e0000000000\nwrite a[*] = 3\nmap b anon size 4K at 0x7e0000001000")
    assert len(sim.task().mm.vmas) == 3
    assert sim.task().mm.rss() == 3
