"""DAX files (ext4 -o dax): fs/dax.c and ext4's DAX vm_ops, one test per decision.

Address map: the first mapping starts at 0x7f0000000000 (2 MiB aligned); a DAX file's
blocks start on a 2 MiB boundary of the pmem device, just above RAM.
"""

import pytest

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import VM_HUGEPAGE, VM_MIXEDMAP
from faultlang.lang import check_all, parse_text
from faultlang.runtime.inspect import leaf_entry, page_state
from faultlang.runtime.invariants import check_invariants

BASE = 0x7F0000000000


def pte_at(sim, address, process="main"):
    return leaf_entry(sim.task(process).mm, address)[0]


def path(sim):
    return sim.last().path


@pytest.fixture
def dax(sim):
    sim(f"file d size 64K on ext4 dax\nmap s file d size 64K shared at {BASE:#x}")
    return sim


def test_a_dax_file_has_no_page_cache_and_the_vma_is_hugepage_not_mixedmap(dax):
    mapping = dax.machine.system.files["d"]
    assert mapping.i_pages == {} and len(mapping.dax.blocks) == 16
    vma = dax.task().mm.vma_lookup(BASE)
    assert vma.vm_flags & VM_HUGEPAGE and not vma.vm_flags & VM_MIXEDMAP
    assert vma.vm_ops.name == "ext4_dax_vm_ops"


def test_a_read_maps_the_device_page_with_a_normal_pte_counted_in_rss(dax):
    dax("read s[0]")
    assert dax.last().outcome == "minor"
    assert "dax_iomap_pte_fault" in path(dax) and "vmf_insert_page_mkwrite" in path(dax)
    pte = pte_at(dax, BASE)
    assert not pte & pt._PAGE_SPECIAL and not pte & pt._PAGE_RW      # write-notify
    assert pt.pte_pfn(pte) == dax.machine.system.files["d"].dax.blocks[0]
    assert dax.task().mm.rss_stat[0] == 1
    folio = dax.machine.system.phys.page_folio(pt.pte_pfn(pte))
    assert (folio.refcount, folio.mapcount) == (1, 1)
    assert check_invariants(dax.machine.system) == []


def test_there_is_no_fault_around(dax):
    dax("read s[0]\nread s[1]")
    assert dax.last().outcome == "minor"
    assert "filemap_map_pages" not in path(dax)


def test_the_first_fault_under_the_vma_lock_retries_without_map_pages(dax):
    dax("read s[0]")
    assert "VM_FAULT_RETRY" in str(dax.last().frames) and path(dax).count("ext4_dax_fault") == 1
    assert dax.task().maj_flt == 0


def test_a_write_to_an_unmapped_shared_page_is_mapped_writable_without_page_mkwrite(dax):
    dax("write s[0] = 4")
    assert "do_shared_fault" in path(dax) and "do_page_mkwrite" not in path(dax)
    assert pte_at(dax, BASE) & pt._PAGE_RW and pte_at(dax, BASE) & pt._PAGE_DIRTY
    assert dax.machine.system.files["d"].dax.entries[0].dirty


def test_a_write_after_a_read_goes_through_pfn_mkwrite(dax):
    dax("read s[0]\nwrite s[0] = 4")
    assert "wp_pfn_shared" in path(dax) and "ext4_dax_fault" in path(dax)
    assert "wp_page_shared" not in path(dax)
    assert dax.last().outcome == "minor"
    dax("write s[0] = 5")
    assert dax.last().outcome == "none"


def test_msync_write_protects_dirty_dax_pages_so_the_next_write_faults(dax):
    dax("write s[0] = 4\nmsync s[*]")
    assert not pte_at(dax, BASE) & (pt._PAGE_RW | pt._PAGE_DIRTY)
    dax("write s[0] = 5")
    assert dax.last().outcome == "minor" and "wp_pfn_shared" in path(dax)


def test_a_private_write_is_a_cow_that_dax_fills_itself(dax):
    dax(f"write s[0] = 6\nmap p file d size 64K private at {BASE + 0x200000:#x}\nwrite p[0] = 9")
    assert "dax_fault_cow_page" in path(dax) and "VM_FAULT_DONE_COW" in str(dax.last().frames)
    assert dax.last().outcome == "minor"
    dax("read s[0]")
    assert dax.last().value == 6
    assert page_state(dax.task().mm, BASE + 0x200000) == "resident"
    assert dax.task().mm.rss_stat[1] == 1
    assert check_invariants(dax.machine.system) == []


def test_a_private_write_after_a_read_copies_the_device_page(dax):
    dax(f"write s[1] = 6\nmap p file d size 64K private at {BASE + 0x200000:#x}\n"
        "read p[1]\nwrite p[1] = 9")
    assert "wp_page_copy" in path(dax)
    dax("read s[1]")
    assert dax.last().value == 6
    assert check_invariants(dax.machine.system) == []


def test_a_hole_reads_as_the_zero_page_and_a_write_allocates_a_block_major(dax):
    dax(f"truncate d 128K\nmap g file d size 128K shared at {BASE + 0x200000:#x}\nread g[20]")
    assert page_state(dax.task().mm, BASE + 0x200000 + 20 * 4096) == "zero"
    assert "dax_load_hole" in path(dax) and dax.last().outcome == "minor"
    dax("write g[20] = 3")
    assert dax.last().outcome == "major"
    assert dax.machine.system.vmstat.pgmajfault == 1
    assert 20 in dax.machine.system.files["d"].dax.blocks
    dax("write g[21] = 4")
    assert dax.last().outcome == "major"
    dax("write g[21] = 5\nread g[0]")
    assert dax.last().outcome == "minor"
    assert check_invariants(dax.machine.system) == []


def test_truncate_unmaps_and_drops_the_entries_beyond_eof(dax):
    dax("write s[10] = 1\ntruncate d 16K\nread s[10]")
    assert dax.last().outcome == "SIGBUS"
    mapping = dax.machine.system.files["d"]
    assert max(mapping.dax.blocks) == 3 and all(k < 4 for k in mapping.dax.entries)
    assert check_invariants(dax.machine.system) == []


def test_a_shared_dax_vma_is_not_copied_at_fork(dax):
    dax("write s[0] = 2\nfork c\nas c: read s[0]")
    assert dax.last().outcome == "minor" and dax.last().value == 2


# --- PMD faults ----------------------------------------------------------------------


@pytest.fixture
def big(sim):
    sim(f"file b size 4M on ext4 dax\nmap m file b size 4M shared at {BASE:#x}")
    return sim


def test_an_aligned_2m_block_is_mapped_by_one_pmd(big):
    big("read m[0]")
    assert page_state(big.task().mm, BASE) == "huge"
    assert "dax_iomap_pmd_fault" in path(big) and "vmf_insert_folio_pmd" in path(big)
    assert big.task().mm.rss_stat[0] == 512
    big("read m[1..512]")
    assert big.task().min_flt == 1
    assert check_invariants(big.machine.system) == []


def test_a_write_to_a_read_only_dax_pmd_goes_through_huge_fault(big):
    big("read m[0]\nwrite m[5] = 1")
    assert "wp_huge_pmd" in path(big) and "ext4_dax_huge_fault" in path(big)
    assert leaf_entry(big.task().mm, BASE)[0] & pt._PAGE_RW
    assert big.machine.system.vmstat.thp_split_pmd == 0


def test_a_private_write_falls_back_to_ptes(big):
    big(f"map p file b size 4M private at {BASE + 0x400000:#x}\nwrite p[0] = 1")
    assert "do_cow_fault" in path(big)
    assert page_state(big.task().mm, BASE + 0x400000) == "resident"
    assert big.machine.system.vmstat.thp_fault_fallback >= 1


def test_a_misaligned_file_offset_falls_back_to_ptes(big):
    big(f"map o file b offset 4K size 2M shared at {BASE + 0x400000:#x}\nread o[0]")
    assert "dax_iomap_pte_fault" in path(big)
    assert page_state(big.task().mm, BASE + 0x400000) == "resident"


def test_a_pte_entry_in_the_block_makes_the_pmd_fault_fall_back(big):
    # a mapping at file offset 4K cannot use PMDs: its read leaves a PTE entry at index 1
    big(f"map o file b offset 4K size 2M shared at {BASE + 0x400000:#x}\nread o[0]\n"
        f"map q file b size 4M shared at {BASE + 0x800000:#x}\nread q[0]")
    assert "a PTE-sized entry is in the 2 MiB block" in str(big.last().frames)
    assert page_state(big.task().mm, BASE + 0x800000) == "resident"


def test_a_2m_hole_reads_as_the_huge_zero_page(big):
    big(f"truncate b 8M\nmap g file b size 8M shared at {BASE + 0x800000:#x}\nread g[1100]")
    assert page_state(big.task().mm, BASE + 0x800000 + 0x200000 * 2) == "huge"
    assert "dax_pmd_load_hole" in path(big)
    big("write g[1100] = 1")
    assert big.last().outcome == "minor"            # the PMD path never counts major
    assert leaf_entry(big.task().mm, BASE + 0x800000 + 1100 * 4096)[0] & pt._PAGE_RW
    assert check_invariants(big.machine.system) == []


def test_munmap_of_part_of_a_dax_pmd_zaps_it_whole(big):
    big("read m[0]\nmunmap m[0..4]\nread m[8]")
    assert big.last().outcome == "minor" and page_state(big.task().mm, BASE + 8 * 4096) == "resident"
    assert check_invariants(big.machine.system) == []


# --- the kernel 6.12 profile -----------------------------------------------------------


def test_612_maps_dax_pfns_with_special_devmap_ptes_and_no_rss(sim):
    sim(f"set kernel 6.12\nfile d size 64K on ext4 dax\nmap s file d size 64K shared at {BASE:#x}\n"
        "read s[0]")
    assert "vmf_insert_mixed" in path(sim)
    pte = pte_at(sim, BASE)
    assert pte & pt._PAGE_SPECIAL and pte & pt._PAGE_DEVMAP
    assert sim.task().mm.rss_stat == [0, 0, 0, 0]
    sim("write s[0] = 1")
    assert "wp_pfn_shared" in path(sim) and sim.last().outcome == "minor"
    assert check_invariants(sim.machine.system) == []


def test_612_maps_a_dax_pmd_with_a_devmap_pmd(sim):
    sim(f"set kernel 6.12\nfile b size 2M on ext4 dax\nmap m file b size 2M shared at {BASE:#x}\n"
        "read m[0]")
    assert "vmf_insert_pfn_pmd" in path(sim)
    assert leaf_entry(sim.task().mm, BASE)[0] & pt._PAGE_DEVMAP
    assert sim.task().mm.rss_stat[0] == 0
    assert check_invariants(sim.machine.system) == []


def test_612_fault_around_maps_only_the_window_of_a_large_folio(sim):
    sim(f"set kernel 6.12\nfile f size 256K cached folio 128K\nmap m file f size 256K shared at {BASE:#x}\n"
        "read m[0]\nread m[16]")
    assert sim.last().outcome == "minor"
    other = type(sim)()                 # the 6.18 default maps the whole folio
    other(f"file f size 256K cached folio 128K\nmap m file f size 256K shared at {BASE:#x}\n"
          "read m[0]\nread m[16]")
    assert other.last().outcome == "none"


def test_612_finish_fault_maps_one_pte_of_a_large_file_folio(sim):
    sim(f"set kernel 6.12\nfile f size 256K cached folio 128K\nmap m file f size 256K shared at {BASE:#x}\n"
        "write m[0]\nwrite m[1]")
    assert sim.last().outcome == "minor"
    assert "kernel 6.12" in str(sim.machine.steps[-2].frames)


# --- the language ----------------------------------------------------------------------


@pytest.mark.parametrize("text, words", [
    ("file d size 64K on ext4 dax cached", "no page cache"),
    ("file d size 64K on ext4 dax folio 64K", "no page-cache folios"),
])
def test_page_cache_clauses_on_a_dax_file_are_errors(text, words):
    errors = check_all(parse_text(text))
    assert errors and words in str(errors[0])
