"""Swap: MADV_PAGEOUT, do_swap_page, the swap cache and readahead (mm/swap_state.c)."""

from faultlang.runtime.invariants import check_invariants


def outcomes(sim, rec):
    return [s.outcome for s in sim.steps(rec)]


def test_zram_swapin_is_one_major_per_page_and_frees_the_slots(sim):
    sim("set swap 64M\nset swap_device zram\nmap a anon size 64K\nwrite a[*]\nwrite a[3] = 7")
    sim("swapout a[*]")
    assert sim.machine.system.swap.used() == 16
    assert sim.machine.system.swap.cache_pages() == 0          # zram: freed at once
    rec = sim("read a[*]")
    assert outcomes(sim, rec) == ["major"] * 16
    assert "do_swap_page" in sim.last().path
    assert sim.steps(rec)[3].value == 7
    assert sim.machine.system.swap.used() == 0                 # count 1: slot freed
    assert check_invariants(sim.machine.system) == []


def test_disk_pageout_leaves_the_folio_in_the_swap_cache_so_a_retouch_is_minor(sim):
    sim("set swap 64M\nmap a anon size 64K\nwrite a[*]\nswapout a[*]")
    assert sim.machine.system.swap.cache_pages() == 16
    rec = sim("expect state a[0] == swapcache\nread a[*]")
    assert outcomes(sim, rec) == ["minor"] * 16
    assert check_invariants(sim.machine.system) == []


def test_a_later_reclaim_pass_frees_the_written_folios(sim):
    sim("set swap 64M\nmap a anon size 64K\nwrite a[*]\nmadvise a[*] pageout\nreclaim 16")
    assert sim.machine.system.swap.cache_pages() == 0
    rec = sim("expect state a[0] == swapped\nread a[0]")
    assert outcomes(sim, rec) == ["major"]


def test_cluster_readahead_makes_later_faults_minor(sim):
    sim("set swap 64M\nmap a anon size 256K\nwrite a[*]\nswapout a[*]\nreclaim 64")
    rec = sim("read a[*]")
    got = outcomes(sim, rec)
    assert got.count("major") <= 64 // 8 + 3
    assert "swap_cluster_readahead" in [f.symbol for f in sim.steps(rec)[0].frames]
    assert [s.value for s in sim.steps(rec)] == list(range(1, 65))


def test_ssd_uses_vma_readahead(sim):
    sim("set swap 64M\nset swap_device ssd\nmap a anon size 256K\nwrite a[*]\nswapout a[*]\n"
        "reclaim 64")
    rec = sim("read a[*]")
    assert outcomes(sim, rec).count("major") < 16
    assert "swap_vma_readahead" in [f.symbol for f in sim.steps(rec)[0].frames]


def test_write_after_swapout_is_one_fault_per_page(sim):
    sim("set swap 64M\nset swap_device zram\nmap a anon size 64K\nwrite a[*]\nswapout a[*]")
    rec = sim("write a[*]")
    assert outcomes(sim, rec) == ["major"] * 16
    assert all("do_wp_page" not in s.path for s in sim.steps(rec))
    rec = sim("write a[*]")
    assert outcomes(sim, rec) == ["none"] * 16


def test_fork_duplicates_swap_entries_and_both_read_the_value(sim):
    sim("set swap 64M\nmap a anon size 16K\nwrite a[0] = 11\nwrite a[1] = 12\nswapout a[*]\n"
        "reclaim 4\nfork c")
    si = sim.machine.system.swap
    assert si.count(1) == 2
    rec = sim("as c: read a[0]\nread a[0]")
    assert sim.last().value == 11 and sim.last().outcome == "minor"   # swap-cache hit
    rec = sim("as c: write a[1] = 5")
    rec = sim("read a[1]")
    assert sim.last().value == 12
    assert check_invariants(sim.machine.system) == []
    sim("exit c\nmunmap a[*]")
    assert si.used() == 0 and si.cache_pages() == 0
    assert check_invariants(sim.machine.system) == []


def test_pages_mapped_by_several_processes_are_skipped(sim):
    sim("set swap 64M\nmap a anon size 16K\nwrite a[*]\nfork c\nswapout a[*]")
    assert sim.machine.system.swap.used() == 0
    rec = sim("read a[*]")
    assert outcomes(sim, rec) == ["none"] * 4


def test_clean_file_pages_are_dropped_and_refault_major(sim):
    sim("file f size 64K cached\nmap m file f size 64K private\nread m[*]\nswapout m[*]")
    assert not sim.machine.system.files["f"].i_pages
    rec = sim("read m[0]")
    assert outcomes(sim, rec) == ["major"]


def test_dirty_shared_file_pages_are_written_back_before_they_go(sim):
    sim("file f size 16K\nmap m file f size 16K shared\nwrite m[0] = 9\nswapout m[*]")
    assert sim.machine.system.files["f"].disk[0] == 9
    rec = sim("read m[0]")
    assert sim.last().value == 9


def test_willneed_and_populate_read_bring_swapped_pages_back(sim):
    sim("set swap 64M\nset swap_device zram\nmap a anon size 64K\nwrite a[*]\nswapout a[*]\n"
        "madvise a[*] willneed")
    rec = sim("read a[*]")
    assert outcomes(sim, rec) == ["minor"] * 16
    sim("swapout a[*]\nreclaim 16\nmadvise a[*] populate_read")
    rec = sim("read a[*]")
    assert outcomes(sim, rec) == ["none"] * 16
    assert [s.value for s in sim.steps(rec)] == list(range(1, 17))


def test_shmem_pages_swap_through_shmem_swapin_folio(sim):
    sim("set swap 64M\nset swap_device zram\nmap s anon size 16K shared\nwrite s[0] = 5\n"
        "swapout s[*]")
    assert sim.machine.system.swap.used() == 1
    rec = sim("read s[0]")
    assert outcomes(sim, rec) == ["major"]
    assert "shmem_swapin_folio" in sim.last().path
    assert sim.last().value == 5
    assert check_invariants(sim.machine.system) == []


def test_show_swap_and_expect_swap_used(sim):
    rec = sim("set swap 64M\nmap a anon size 16K\nwrite a[*]\nswapout a[*]\nshow swap")
    assert "4 used" in rec.snapshot.text
    rec = sim("expect swap_used == 4")
    assert rec.expect.ok
