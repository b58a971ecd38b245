"""File-backed mappings: filemap_fault, fault-around, readahead, write-notify, COW, truncate.

Address map used by most tests (mapping 2 MiB-aligned at 0x7f0000000000):

    0x7f0000000000  PTE 0 ........ PTE 15 | PTE 16 ... | ... PTE 511 | next page table
                    \\__ one 16-page fault-around window _/
"""

from faultlang.kernel.mm.readahead import force_page_cache_readahead  # noqa: F401 (import check)
from faultlang.runtime.inspect import page_state, peek_value
from faultlang.runtime.invariants import check_invariants

BASE = 0x7F0000000000


def outcomes(sim, rec):
    return [s.outcome for s in sim.steps(rec)]


def test_read_of_a_cached_page_is_a_minor_hit_that_maps_the_window(sim):
    rec = sim(f"file f size 64K cached\nmap m file f size 64K at {BASE:#x}\nread m[0]")
    assert outcomes(sim, rec) == ["minor"]
    assert "filemap_map_pages" in sim.last().path
    assert "filemap_fault" not in sim.last().path
    rec = sim("read m[1..16]")
    assert outcomes(sim, rec) == ["none"] * 15
    assert check_invariants(sim.machine.system) == []


def test_read_of_an_uncached_page_is_major_retried_and_counted_once(sim):
    rec = sim(f"file f size 64K\nmap m file f size 64K at {BASE:#x}\nread m[0]")
    assert outcomes(sim, rec) == ["major"]
    t = sim.task()
    assert (t.maj_flt, t.min_flt) == (1, 0)
    assert sim.machine.system.vmstat.pgmajfault == 1
    path = sim.last().path
    assert path.count("filemap_fault") == 1 and "do_sync_mmap_readahead" in path
    assert path.count("handle_mm_fault") == 2        # the retry after VM_FAULT_RETRY


def test_read_beyond_eof_is_sigbus_and_not_counted(sim):
    sim("file f size 8K cached\nmap m file f size 16K shared\nread m[2]")
    assert sim.last().outcome == "SIGBUS" and sim.last().si_code == "BUS_ADRERR"
    assert (sim.task().min_flt, sim.task().maj_flt) == (0, 0)
    assert sim.machine.system.vmstat.pgfault == 1


def test_fault_around_window_is_clipped_at_the_vma_start(sim):
    # the VMA starts at PTE 1: the window starts there, PTEs 1..16 (not 0..15)
    sim(f"file f size 128K cached\nmap m file f size 128K shared at {BASE + 0x1000:#x}\n"
        "read m[0]")
    mapped = [page_state(sim.task().mm, BASE + 0x1000 * (i + 1)) for i in range(17)]
    assert mapped == ["resident"] * 16 + ["none"]
    assert outcomes(sim, sim("read m[15]")) == ["none"]
    assert outcomes(sim, sim("read m[16]")) == ["minor"]


def test_fault_around_window_is_clipped_at_the_2m_page_table_boundary(sim):
    # 32 pages starting 8 pages below a 2 MiB boundary: the window stops at PTE 511
    start = BASE + 0x200000 - 8 * 4096
    sim(f"file f size 128K cached\nmap m file f size 128K shared at {start:#x}\nread m[0]")
    mm = sim.task().mm
    assert [page_state(mm, start + i * 4096) for i in range(9)] == ["resident"] * 8 + ["none"]


def test_fault_around_skips_a_readahead_marked_folio_and_touching_it_reads_ahead(sim):
    sim(f"file f size 1M\nmap m file f size 1M at {BASE:#x}\nread m[0]")
    f = sim.machine.system.files["f"]
    mark = [i for i, fo in f.i_pages.items() if fo.readahead]
    assert mark == [24]                        # 32-page window, async_size 8
    assert page_state(sim.task().mm, BASE + 24 * 4096) == "none"
    rec = sim("read m[24]")
    assert outcomes(sim, rec) == ["minor"]
    assert "page_cache_async_ra" in sim.last().path
    assert 63 in f.i_pages and 64 not in f.i_pages


def test_madvise_random_reads_only_the_faulting_page(sim):
    rec = sim("file f size 64K\nmap m file f size 64K shared random\nread m[*]")
    assert outcomes(sim, rec) == ["major"] * 16
    assert len(sim.machine.system.files["f"].i_pages) == 16


def test_madvise_willneed_makes_later_faults_minor(sim):
    sim("file f size 256K\nmap m file f size 256K\nmadvise m[*] willneed")
    rec = sim("read m[*]")
    assert "major" not in outcomes(sim, rec)
    assert sim.machine.system.vmstat.pgmajfault == 0


def test_shared_ext4_first_write_notifies_then_writes_are_free(sim):
    sim(f"file f size 64K cached\nmap m file f size 64K shared at {BASE:#x}\nread m[0]")
    rec = sim("write m[0] = 7")
    assert outcomes(sim, rec) == ["minor"]
    path = sim.last().path
    assert "wp_page_shared" in path and "do_page_mkwrite" in path
    rec = sim("write m[0] = 8")
    assert outcomes(sim, rec) == ["none"]
    assert sim.machine.system.files["f"].i_pages[0].dirty


def test_write_first_on_shared_ext4_goes_through_do_shared_fault(sim):
    rec = sim("file f size 64K cached\nmap m file f size 64K shared\nwrite m[3] = 1")
    assert "do_shared_fault" in sim.last().path and "do_page_mkwrite" in sim.last().path
    assert outcomes(sim, rec) == ["minor"]


def test_private_write_copies_and_keeps_the_file_intact(sim):
    sim("file f size 128K cached\nmap p file f size 128K private\nmap s file f size 64K shared")
    sim("write s[0] = 5\nread p[0]")
    assert page_state(sim.task().mm, sim.machine.mappings["p"].start) == "cow"
    sim("write p[0] = 9")
    assert "wp_page_copy" in sim.last().path
    mm = sim.task().mm
    assert peek_value(mm, sim.machine.mappings["p"].start) == 9
    assert peek_value(mm, sim.machine.mappings["s"].start) == 5
    assert sim.machine.system.files["f"].value(0) == 5
    sim("write p[20] = 3")                     # never read: not prefaulted
    assert "do_cow_fault" in sim.last().path
    assert sim.machine.system.files["f"].value(20) == 0
    assert check_invariants(sim.machine.system) == []


def test_shared_mappings_of_one_file_see_each_others_writes_across_processes(sim):
    sim("file f size 64K cached\nprocess other\nmap a file f size 64K shared\n"
        "as other: map b file f size 64K shared\nwrite a[2] = 42")
    rec = sim("as other: read b[2]")
    assert sim.steps(rec)[0].value == 42
    sim("as other: write b[3] = 7")
    rec = sim("read a[3]")
    assert sim.steps(rec)[0].value == 7


def test_fork_does_not_copy_shared_or_never_written_private_file_mappings(sim):
    rec = sim("file f size 64K cached\nmap s file f size 64K shared\nmap p file f size 64K\n"
              "read s[*]\nread p[*]\nfork child")
    assert any("s: no anonymous pages" in n for n in rec.notes)
    assert any("p: no anonymous pages" in n for n in rec.notes)
    rec = sim("as child: read s[*]")
    assert outcomes(sim, rec).count("minor") == 1          # one fault-around window
    assert check_invariants(sim.machine.system) == []


def test_fork_copies_a_private_file_mapping_that_was_written(sim):
    sim("file f size 64K cached\nmap p file f size 64K\nwrite p[0] = 4\nfork child")
    rec = sim("as child: read p[0]")
    assert outcomes(sim, rec) == ["none"] and sim.steps(rec)[0].value == 4


def test_truncate_unmaps_and_later_access_is_sigbus(sim):
    sim("file f size 64K cached\nmap m file f size 64K shared\nread m[*]\ntruncate f 8K")
    f = sim.machine.system.files["f"]
    assert sorted(f.i_pages) == [0, 1]
    assert outcomes(sim, sim("read m[1]")) == ["none"]
    assert outcomes(sim, sim("read m[2]")) == ["SIGBUS"]
    assert check_invariants(sim.machine.system) == []


def test_msync_writes_back_and_write_protects_again(sim):
    sim("file f size 64K cached\nmap m file f size 64K shared\nwrite m[0] = 6\nmsync m[*]")
    f = sim.machine.system.files["f"]
    assert f.disk[0] == 6 and not f.i_pages[0].dirty
    rec = sim("write m[0] = 7")
    assert outcomes(sim, rec) == ["minor"]              # write-notify again


def test_large_folios_are_mapped_whole_by_fault_around_and_finish_fault(sim):
    rec = sim(f"file f size 2M cached folio 1M\nmap m file f size 2M shared at {BASE:#x}\n"
              "write m[*]")
    assert outcomes(sim, rec).count("minor") == 2
    # fault-around maps a folio whole only when it ends before the file's last page
    # ("file_end >= folio_next_index"): the second 1M folio goes 16 pages at a time
    # (measured on 6.18.44: 17 faults)
    rec = sim(f"map r file f size 2M at {BASE + 0x400000:#x}\nread r[*]")
    assert outcomes(sim, rec).count("minor") == 17


def test_show_pagecache_lists_folios(sim):
    rec = sim("file f size 16K cached [1..3]\nshow pagecache f")
    text = rec.snapshot.text
    assert "f: ext4" in text and "2 pages cached" in text


def test_device_mapping_faults_beyond_mapped_part_with_sigbus(sim):
    sim("map d device size 16K mapped 8K")
    assert outcomes(sim, sim("read d[0]")) == ["none"]
    assert outcomes(sim, sim("read d[2]")) == ["SIGBUS"]
    assert "do_fault" in sim.last().path
