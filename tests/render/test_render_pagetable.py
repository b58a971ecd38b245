"""PageTableView: the tree, folded PTE runs, huge PMDs, exact text at 80 and 100 columns.

The sample table (faultlang.render._samples.sample_pagetable), 4 levels:

    0x7f0000000000                                      0x7f0000200000      0x7f0000400000
    [ buf 000–255 written | 256–287 zero | 288 cow | 289 swap | 290–299 | lib 300–511 ][ thp ]
      one PTE table, all 512 entries used                                   one 2 MiB PMD
"""

from __future__ import annotations

import dataclasses

import pytest

from faultlang.render._samples import BASE, sample_pagetable
from faultlang.render.pagetable import (
    PageTableView,
    flag_letters,
    leaf_runs,
    table_span,
)
from faultlang.snapshots import PageTableSnapshot, PteView, TableView


@pytest.mark.parametrize("width", [80, 100])
def test_sample_page_table_matches_golden(render, golden, width):
    golden(f"pagetable_{width}", render(PageTableView(sample_pagetable()), width))


def test_a_512_entry_table_fits_on_one_screen(render):
    lines = render(PageTableView(sample_pagetable()), 100).splitlines()
    assert len(lines) < 30
    assert any("[000–255]" in line and "0x1000–0x10ff" in line and "resident" in line
               for line in lines)


def test_zero_page_entries_fold_on_their_shared_pfn(render):
    text = render(PageTableView(sample_pagetable()), 100)
    row = next(line for line in text.splitlines() if "[256–287]" in line)
    assert "0x3c7 " in row and "zero" in row and "buf[256..288]" in row


def test_full_prints_every_entry(render):
    text = render(PageTableView(sample_pagetable(), full=True), 100)
    assert "–" not in "".join(line for line in text.splitlines() if "] 0x7f" in line)
    for index in (0, 255, 256, 511):
        assert f"[{index:03d}] " in text


def test_runs_of_sixteen_stay_expanded_and_seventeen_fold():
    leaves = tuple(PteView(index=i, address=BASE + i * 4096, level="PTE", raw=0,
                           flags=("present",), pfn=0x100 + i, state="resident",
                           mapping=f"a[{i}]") for i in range(17))
    assert [len(run) for run in leaf_runs(leaves)] == [17]

    def rows(n):
        pte = TableView(level="PTE", index=0, address=BASE, leaves=leaves[:n])
        snap = PageTableSnapshot("main", 4, TableView(level="PGD", index=-1, address=0,
                                                      children=(pte,)))
        view = PageTableView(snap)
        return [line for line in _render_plain(view).splitlines() if "a[" in line]

    assert len(rows(16)) == 16
    assert len(rows(17)) == 1


def test_runs_break_on_a_pfn_gap_or_a_state_change():
    leaf = PteView(index=0, address=BASE, level="PTE", raw=0, flags=("present",), pfn=1,
                   state="resident", mapping="a[0]")
    gap = dataclasses.replace(leaf, index=1, pfn=5, mapping="a[1]")
    cow = dataclasses.replace(leaf, index=2, pfn=6, state="cow", mapping="a[2]")
    assert [len(run) for run in leaf_runs([leaf, gap, cow])] == [1, 1, 1]


def test_huge_pmd_says_how_much_it_covers(render):
    text = render(PageTableView(sample_pagetable()), 100)
    assert "[001] PMD leaf  0x7f0000200000  thp[0]  huge" in text
    assert "2 MiB huge page, covers 512 pages  pfn 0x40000–0x401ff" in text


def test_folded_p4d_is_labelled_and_covers_one_pgd_entry(render):
    text = render(PageTableView(sample_pagetable()), 100)
    assert "[254] P4D (folded)  0x7f0000000000–0x7f7fffffffff  512 GiB" in text
    p4d = TableView(level="P4D", index=254, address=BASE, folded=True)
    assert table_span(p4d, 4) == 1 << 39
    assert table_span(dataclasses.replace(p4d, folded=False), 5) == 1 << 48


def test_flag_letters_are_positional_with_extra_names():
    assert flag_letters(("present", "rw", "user", "nx", "special")) == "PWU--N special"
    assert flag_letters(()) == "------"


def test_narrow_consoles_drop_the_address_column_rather_than_wrap(render):
    assert "address" in render(PageTableView(sample_pagetable()), 100)
    assert "address" not in render(PageTableView(sample_pagetable()), 80)


def _render_plain(view) -> str:
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(view)
    return console.file.getvalue()
