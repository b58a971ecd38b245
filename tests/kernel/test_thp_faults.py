"""Transparent huge pages (mm/huge_memory.c): one decision per test, and the machine's
invariants after fork, COW, split and munmap of PMD-mapped folios."""

from faultlang.runtime.inspect import page_state, peek_value
from faultlang.runtime.invariants import check_invariants

MADV = "map big anon size 4M at 0x7f0000000000 hugepage\n"


def ok(sim):
    assert check_invariants(sim.machine.system) == []


def test_thp_write_maps_one_pmd_per_2m(sim):
    rec = sim(MADV + "write big[*]")
    t = sim.task()
    assert t.min_flt == 2 and t.mm.rss() == 1024
    assert sim.machine.system.vmstat.thp_fault_alloc == 2
    assert page_state(t.mm, 0x7f0000000000 + 511 * 4096) == "huge"
    faults = [s for s in sim.steps(rec) if s.outcome == "minor"]
    assert all("do_huge_pmd_anonymous_page" in s.path for s in faults)
    ok(sim)


def test_thp_madvise_mode_needs_vm_hugepage(sim):
    sim("map big anon size 2M\nwrite big[*]")
    assert sim.task().min_flt == 512


def test_thp_always_mode_needs_no_advice(sim):
    sim("set thp always\nmap big anon size 2M\nwrite big[*]")
    assert sim.task().min_flt == 1


def test_thp_never_mode_and_nohugepage(sim):
    sim("set thp never\n" + MADV + "write big[0..512]")
    assert sim.task().min_flt == 512


def test_thp_nohugepage_advice_wins_over_always(sim):
    sim("set thp always\nmap big anon size 2M nohugepage\nwrite big[*]")
    assert sim.task().min_flt == 512


def test_thp_unaligned_block_falls_back_to_ptes(sim):
    sim("set thp always\nmap big anon size 1M\nwrite big[*]")
    assert sim.task().min_flt == 256


def test_thp_read_maps_huge_zero_page(sim):
    sim("set thp always\nmap big anon size 2M\nread big[*]")
    t = sim.task()
    assert t.min_flt == 1 and t.mm.rss() == 0
    assert peek_value(t.mm, 0x7f0000000000 + 7 * 4096) == 0
    ok(sim)


def test_thp_write_to_huge_zero_allocates_thp_in_618(sim):
    sim("set thp always\nmap big anon size 2M\nread big[*]\nwrite big[5] = 9")
    assert "do_huge_zero_wp_pmd" in sim.last().path
    t = sim.task()
    assert t.min_flt == 2 and t.mm.rss() == 512
    assert peek_value(t.mm, 0x7f0000000000 + 5 * 4096) == 9
    ok(sim)


def test_thp_write_to_huge_zero_splits_in_612(sim):
    sim("set thp always\nset kernel 6.12\nmap big anon size 2M\nread big[*]\nwrite big[5] = 9")
    assert "wp_page_copy" in sim.last().path
    t = sim.task()
    assert t.mm.rss() == 1 and page_state(t.mm, 0x7f0000000000) == "zero"
    assert sim.machine.system.vmstat.thp_split_pmd == 1
    ok(sim)


def test_thp_alloc_failure_counts_fallback(sim):
    sim("set ram 2M\nset thp always\nmap s anon size 4K\nwrite s[0]\n"
        "map big anon size 2M\nwrite big[0]")
    assert sim.machine.system.vmstat.thp_fault_fallback >= 1
    assert sim.last().outcome == "minor"


def test_thp_fork_shares_pmd_without_faults(sim):
    sim(MADV + "write big[*] = 1\nfork child\nas child: read big[*]")
    assert sim.task("child").min_flt == 0
    assert sim.task("child").mm.rss() == 1024
    ok(sim)


def test_thp_cow_after_fork_splits_and_copies_4k(sim):
    sim(MADV + "write big[*] = 1\nfork child\nas child: write big[3] = 2")
    assert "wp_page_copy" in sim.last().path
    assert sim.machine.system.vmstat.thp_split_pmd == 1
    assert peek_value(sim.task().mm, 0x7f0000003000) == 1
    assert peek_value(sim.task("child").mm, 0x7f0000003000) == 2
    ok(sim)


def test_thp_exclusive_again_after_child_exit_is_reused(sim):
    sim(MADV + "write big[*] = 1\nfork child\nexit child\nwrite big[100] = 3")
    path = sim.last().path
    assert "do_huge_pmd_wp_page" in path and "_split_huge_pmd" not in path
    assert page_state(sim.task().mm, 0x7f0000000000) == "huge"
    ok(sim)


def test_thp_partial_munmap_splits_the_pmd(sim):
    sim(MADV + "write big[*] = 1\nmunmap big[0..16]")
    t = sim.task()
    assert t.mm.rss() == 1008
    assert page_state(t.mm, 0x7f0000010000) == "resident"
    assert page_state(t.mm, 0x7f0000000000 + 600 * 4096) == "huge"
    ok(sim)


def test_thp_whole_munmap_frees_the_folio(sim):
    sim(MADV + "write big[*] = 1")
    free = sim.machine.system.phys.nr_free()
    sim("munmap big[*]")
    assert sim.machine.system.phys.nr_free() == free + 1024
    ok(sim)


def test_thp_dontneed_part_splits_then_refaults_4k(sim):
    sim(MADV + "write big[*] = 1\nmadvise big[0..4] dontneed\nwrite big[0]")
    assert sim.last().outcome == "minor"
    assert "do_anonymous_page" in sim.last().path
    ok(sim)


def test_thp_mprotect_round_trip_keeps_pmd_writable(sim):
    sim(MADV + "write big[*] = 1\nmprotect big[*] r--\nmprotect big[*] rw-\nwrite big[*] = 2")
    assert sim.task().min_flt == 2
    ok(sim)


def test_thp_partial_mprotect_splits(sim):
    sim(MADV + "write big[*] = 1\nmprotect big[0..1] r--")
    assert page_state(sim.task().mm, 0x7f0000001000) == "resident"
    assert sim.machine.system.vmstat.thp_split_pmd == 1
    ok(sim)


def test_thp_exit_after_fork_keeps_invariants(sim):
    sim(MADV + "write big[*] = 1\nfork child\nas child: write big[3] = 2\nexit child\nexit main")
    ok(sim)


def test_mthp_64k_write_costs_one_fault_per_16_pages(sim):
    sim("set mthp 64K\nmap a anon size 2M\nwrite a[*]")
    assert sim.task().min_flt == 32
    ok(sim)


def test_mthp_reads_stay_per_page(sim):
    sim("set mthp 64K\nmap a anon size 2M\nread a[*]\nwrite a[*]")
    assert sim.task().min_flt == 1024


def test_mthp_block_not_all_none_falls_back(sim):
    sim("set mthp 64K\nmap a anon size 64K\nread a[3]\nwrite a[0]")
    assert sim.task().mm.rss() == 1
    ok(sim)


def test_mthp_fork_cow_keeps_invariants(sim):
    sim("set mthp 64K\nmap a anon size 128K\nwrite a[*] = 1\nfork c\nas c: write a[2] = 5\n"
        "munmap a[0..4]\nexit c")
    ok(sim)
