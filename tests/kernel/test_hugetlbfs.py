"""Files on hugetlbfs (fs/hugetlbfs/inode.c, mm/hugetlb.c): a page cache of huge pages
from the pool, shared and private mappings, reservations, alignment, truncate."""

from faultlang.runtime.inspect import memory_view, peek_value
from faultlang.runtime.invariants import check_invariants

FILE = "set hugepages 4\nfile f size 4M on hugetlbfs\n"


def ok(sim):
    assert check_invariants(sim.machine.system) == []


def pool(sim):
    h = sim.machine.system.hstate
    return h.free_huge_pages, h.resv_huge_pages


def test_two_processes_sharing_a_file_see_each_others_writes(sim):
    sim(FILE + "process p\nmap a file f size 4M shared\nas p: map b file f size 4M shared\n"
        "write a[0] = 5\nas p: read b[0]")
    assert sim.last().value == 5 and sim.last().outcome == "minor"
    assert "found in the hugetlb page cache" in str(sim.last().frames)
    sim("as p: write b[700] = 9\nread a[700]")
    assert sim.last().value == 9
    assert pool(sim) == (2, 0)                       # two pages in the cache, no reservation left
    ok(sim)


def test_a_fault_is_one_minor_fault_per_huge_page_never_major(sim):
    sim(FILE + "map a file f size 4M shared\nwrite a[*]")
    t = sim.task()
    assert (t.min_flt, t.maj_flt) == (2, 0)
    assert all("hugetlb_no_page" in s.path for s in sim.machine.steps if s.outcome == "minor")


def test_private_mapping_reads_the_file_then_copies_on_write(sim):
    sim(FILE + "map s file f size 4M shared\nwrite s[1] = 3\nmap p file f size 4M private\n"
        "read p[1]")
    assert sim.last().value == 3
    sim("write s[1] = 4\nread p[1]")                  # still the page cache page: sees it
    assert sim.last().value == 4
    rec = sim("write p[1] = 7")
    assert "hugetlb_wp" in sim.steps(rec)[0].path
    assert "page cache" in str(sim.steps(rec)[0].frames)
    start = sim.machine.mappings
    assert peek_value(sim.task().mm, start["s"].start + 4096) == 4     # the file unchanged
    sim("write s[1] = 5\nread p[1]")                  # the private copy no longer follows
    assert sim.last().value == 7
    ok(sim)


def test_private_miss_allocates_an_anonymous_page_not_in_the_cache(sim):
    sim(FILE + "map p file f size 4M private\nwrite p[0] = 8\nmap s file f size 4M shared\n"
        "read s[0]")
    assert sim.last().value == 0
    assert len(sim.machine.system.files["f"].cache) == 1
    ok(sim)


def test_shared_mmap_reserves_once_private_reserves_every_page(sim):
    sim("set hugepages 8\nfile f size 4M on hugetlbfs\nmap a file f size 4M shared")
    assert pool(sim) == (8, 2)
    sim("map b file f size 4M shared")
    assert pool(sim) == (8, 2)                       # the inode's reserve map holds them
    sim("write a[0]\nmap p file f size 4M private")
    assert pool(sim) == (7, 3)                       # 1 still for the file, 2 for p
    ok(sim)


def test_mmap_fails_with_enomem_when_the_pool_cannot_reserve(sim):
    rec = sim("set hugepages 1\nfile f size 4M on hugetlbfs\nmap a file f size 4M shared")
    assert any("ENOMEM" in n for n in rec.notes)
    assert "a" not in sim.machine.mappings
    rec = sim("map n file f size 4M shared noreserve")
    assert not any("failed" in n for n in rec.notes)


def test_reservations_and_pages_outlive_the_mapping(sim):
    sim(FILE + "map a file f size 4M shared\nwrite a[0] = 6\nmunmap a[*]")
    assert pool(sim) == (3, 1)                       # page 0 cached, page 1 still reserved
    sim("map b file f size 2M shared\nread b[0]")
    assert sim.last().value == 6
    ok(sim)


def test_misaligned_length_offset_or_address_is_einval(sim):
    sim(FILE)
    for stmt in ("map a file f size 1M", "map b file f offset 4K size 2M",
                 "map c file f size 2M at 0x7e0000001000"):
        rec = sim(stmt)
        assert any("EINVAL" in n for n in rec.notes), (stmt, rec.notes)
    assert not sim.machine.mappings
    assert pool(sim) == (4, 0)


def test_a_writable_mapping_past_eof_grows_the_file(sim):
    sim("set hugepages 4\nfile f size 2M on hugetlbfs\nmap r file f size 4M r--\nread r[512]")
    assert sim.last().outcome == "SIGBUS"
    sim("map w file f size 4M shared\nread r[512]")
    assert sim.machine.system.files["f"].i_size == 4 << 20
    assert sim.last().outcome == "minor"


def test_truncate_unmaps_frees_the_pool_pages_and_sigbus_beyond(sim):
    sim(FILE + "map a file f size 4M shared\nmap p file f size 4M private\nwrite a[*] = 1\n"
        "write p[600] = 2\nfork c")
    rec = sim("truncate f 2M")
    assert rec.notes == ("f: size 2097152; 1536 PTEs unmapped",)   # a, p and c's p
    assert sorted(sim.machine.system.files["f"].cache) == [0]
    sim("read a[512]")
    assert sim.last().outcome == "SIGBUS"
    sim("as c: read p[600]")                         # private COW copies go too
    assert sim.last().outcome == "SIGBUS"
    sim("read a[0]")
    assert sim.last().value == 1
    assert pool(sim)[0] == 3
    ok(sim)
    assert sim("truncate f 4M").notes == ("f: size 4194304; 0 PTEs unmapped",)
    sim("read a[512]")
    assert sim.last().value == 0                    # a hole again
    ok(sim)


def test_truncate_to_a_partial_huge_page_is_einval(sim):
    rec = sim(FILE + "truncate f 1M")
    assert rec.notes[0].startswith("truncate failed: EINVAL")
    assert sim.machine.system.files["f"].i_size == 4 << 20


def test_cached_allocates_from_the_pool_like_fallocate(sim):
    rec = sim("set hugepages 4\nfile f size 4M on hugetlbfs cached")
    assert rec.notes == ("f: 4194304 bytes on hugetlbfs, 2 huge pages allocated from the pool",)
    view = memory_view(sim.machine.system)
    assert (view.hugepages_total, view.hugepages_free) == (4, 2)
    sim("map a file f size 4M shared")
    assert pool(sim) == (2, 0)                       # nothing left to reserve
    ok(sim)


def test_cached_beyond_the_pool_is_enospc_keeping_what_was_allocated(sim):
    rec = sim("set hugepages 1\nfile f size 4M on hugetlbfs cached")
    assert rec.notes[1].startswith("fallocate failed: ENOSPC")
    assert len(sim.machine.system.files["f"].cache) == 1


def test_show_pagecache_lists_the_huge_folios(sim):
    sim(FILE + "map a file f size 4M shared\nwrite a[512] = 1")
    text = sim.machine.pagecache_text("f")
    assert text.splitlines()[0] == "f: hugetlbfs, size 4194304, 512 pages cached in 1 folios"
    assert text.splitlines()[2].split()[:2] == ["512..1023", "9"]
    assert "dirty" in text


def test_drop_caches_keeps_hugetlbfs_pages(sim):
    sim(FILE + "map a file f size 4M shared\nwrite a[0] = 4\nmunmap a[*]\ndrop_caches\n"
        "map b file f size 2M shared\nread b[0]")
    assert sim.last().value == 4


def test_fork_of_a_shared_file_mapping_copies_no_page_tables(sim):
    rec = sim(FILE + "map a file f size 4M shared\nwrite a[0] = 2\nfork c")
    assert any("page tables not copied" in n for n in rec.notes)
    sim("as c: read a[0]")
    assert (sim.last().outcome, sim.last().value) == ("minor", 2)
    ok(sim)



def test_a_deep_copied_machine_keeps_the_shared_hugetlb_vm_ops(sim):
    import copy
    from faultlang.kernel.mm.hugetlb import hugetlb_vm_ops
    sim(FILE + "map a file f size 4M shared\nmap h hugetlb size 2M\nwrite a[0] = 1")
    machine = copy.deepcopy(sim.machine)
    assert all(v.vm_ops is hugetlb_vm_ops for v in machine.processes["main"].mm.vmas)
    assert machine.system.files["f"] is not sim.machine.system.files["f"]


def test_willneed_is_ignored_and_populate_maps_every_huge_page(sim):
    rec = sim(FILE + "map a file f size 4M shared\nmadvise a[*] willneed")
    assert rec.notes == ("0 pages",) and not sim.machine.system.files["f"].cache
    sim("map b file f size 4M shared populate\nread a[700]")
    assert len(sim.machine.system.files["f"].cache) == 2
    assert sim.last().outcome == "minor"             # b's faults do not map a
    ok(sim)
