"""hugetlb (mm/hugetlb.c): the pool, reservations, one fault per huge page, fork."""

from faultlang.runtime.inspect import memory_view, page_state, peek_value
from faultlang.runtime.invariants import check_invariants


def ok(sim):
    assert check_invariants(sim.machine.system) == []


def test_hugetlb_pool_is_taken_from_ram_at_boot(sim):
    sim("set hugepages 4\nmap x anon size 4K")
    view = memory_view(sim.machine.system)
    assert (view.hugepages_total, view.hugepages_free) == (4, 4)
    assert view.free_frames == view.total_frames - 4 * 512
    ok(sim)


def test_hugetlb_private_read_then_write(sim):
    rec = sim("set hugepages 8\nmap h hugetlb size 4M private\nread h[*]")
    t = sim.task()
    assert t.min_flt == 2
    assert all("hugetlb_no_page" in s.path for s in sim.steps(rec) if s.outcome == "minor")
    rec = sim("write h[*]")
    assert t.min_flt == 4 and t.maj_flt == 0
    faults = [s for s in sim.steps(rec) if s.outcome == "minor"]
    assert len(faults) == 2 and all("hugetlb_wp" in s.path for s in faults)
    assert page_state(t.mm, sim.machine.mappings["h"].start + 512 * 4096) == "huge"
    ok(sim)


def test_hugetlb_write_first_is_one_fault_per_huge_page(sim):
    sim("set hugepages 8\nmap g hugetlb size 4M\nwrite g[*]")
    assert sim.task().min_flt == 2
    ok(sim)


def test_hugetlb_mapping_is_2m_aligned(sim):
    sim("set hugepages 2\nmap s anon size 4K\nmap h hugetlb size 2M")
    assert sim.machine.mappings["h"].start % (2 << 20) == 0


def test_hugetlb_reservation_failure_is_enomem(sim):
    rec = sim("set hugepages 1\nmap h hugetlb size 4M")
    assert any("ENOMEM" in n for n in rec.notes)
    assert "h" not in sim.machine.mappings


def test_hugetlb_reservation_counts_rsvd(sim):
    sim("set hugepages 4\nmap h hugetlb size 4M\nwrite h[0]")
    h = sim.machine.system.hstate
    assert (h.free_huge_pages, h.resv_huge_pages) == (3, 1)


def test_hugetlb_noreserve_sigbus_when_pool_empty(sim):
    sim("set hugepages 1\nmap a hugetlb size 2M\nmap n hugetlb size 2M noreserve\nwrite n[0]")
    assert sim.last().outcome == "SIGBUS"


def test_hugetlb_noreserve_uses_free_page(sim):
    sim("set hugepages 1\nmap n hugetlb size 2M noreserve\nwrite n[0]")
    assert sim.last().outcome == "minor"
    ok(sim)


def test_hugetlb_shared_is_shared_across_fork(sim):
    sim("set hugepages 4\nmap h hugetlb size 4M shared\nwrite h[*] = 3\nfork c\n"
        "as c: read h[*]\nas c: write h[1] = 7")
    assert sim.task("c").min_flt == 2
    assert peek_value(sim.task().mm, sim.machine.mappings["h"].start + 4096) == 7
    ok(sim)


def test_hugetlb_private_fork_cow_copies_2m(sim):
    sim("set hugepages 4\nmap h hugetlb size 2M private\nwrite h[*] = 3\nfork c\n"
        "as c: write h[1] = 7")
    assert "hugetlb_wp" in sim.last().path
    start = sim.machine.mappings["h"].start
    assert peek_value(sim.task().mm, start + 4096) == 3
    assert peek_value(sim.task("c").mm, start + 4096) == 7
    assert peek_value(sim.task("c").mm, start + 8192) == 3
    ok(sim)


def test_hugetlb_munmap_returns_pages_to_pool(sim):
    sim("set hugepages 4\nmap h hugetlb size 4M\nwrite h[0]\nmunmap h[*]")
    h = sim.machine.system.hstate
    assert (h.free_huge_pages, h.resv_huge_pages) == (4, 0)
    ok(sim)


def test_hugetlb_dontneed_rounds_down(sim):
    sim("set hugepages 4\nmap h hugetlb size 4M\nwrite h[*]\nmadvise h[0..600] dontneed")
    mm = sim.task().mm
    start = sim.machine.mappings["h"].start
    assert page_state(mm, start) == "none"
    assert page_state(mm, start + 600 * 4096) == "huge"
    ok(sim)


def test_hugetlb_never_major(sim):
    sim("set hugepages 2\nmap h hugetlb size 4M\nwrite h[*]\nmadvise h[*] dontneed\nread h[*]")
    assert sim.task().maj_flt == 0


def test_hugetlb_unaligned_munmap_is_einval(sim):
    rec = sim("set hugepages 2\nmap h hugetlb size 4M\nwrite h[*]\nmunmap h[0..4]")
    assert any("EINVAL" in n for n in rec.notes)
    ok(sim)


def test_hugetlb_mprotect_round_trip_no_fault(sim):
    sim("set hugepages 2\nmap h hugetlb size 4M\nwrite h[*]\nmprotect h[0..512] r--\n"
        "mprotect h[0..512] rw-\nwrite h[*]")
    assert sim.task().min_flt == 2
    ok(sim)


def test_hugetlb_shared_dontneed_keeps_page_cache(sim):
    sim("set hugepages 2\nmap h hugetlb size 2M shared\nwrite h[0] = 5\nmadvise h[*] dontneed\n"
        "read h[0]")
    assert sim.last().outcome == "minor" and sim.last().value == 5
    ok(sim)


def test_hugetlb_dontneed_unaligned_start_is_einval(sim):
    rec = sim("set hugepages 2\nmap h hugetlb size 4M\nwrite h[*]\nmadvise h[1..600] dontneed")
    assert any("EINVAL" in n for n in rec.notes)
