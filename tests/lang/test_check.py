"""check.py: static errors are ScenarioErrors at the right node, all of them reported."""

from __future__ import annotations

import pytest

from faultlang.errors import ScenarioError
from faultlang.lang import ast, check, check_all, parse_text
from faultlang.lang.settings import DEFAULTS, check_setting


def errors(text: str) -> list[str]:
    return [e.message for e in check_all(parse_text(text, "c.fault"))]


def test_a_clean_scenario_has_no_errors() -> None:
    assert errors("set ram 64M\nmap a anon size 64K\nwrite a[*]\nexpect delta minflt == 16\n") == []


def test_check_all_reports_every_problem_in_order() -> None:
    found = errors("map a anon size 5000\nread b[0]\nset ram 1M\n")
    assert found == ["a mapping size of 5000 is not a multiple of 4K", "unknown mapping 'b'",
                     "'set ram' comes after the first access"]


def test_check_raises_the_first_problem_with_its_span() -> None:
    with pytest.raises(ScenarioError) as caught:
        check(parse_text("map heap anon size 64K\nread heap[99]\nread nope[0]\n", "c.fault"))
    assert caught.value.span == ast.Span(2, 6, 2, 14)
    assert caught.value.render().startswith("c.fault:2:6: error: page 99 is outside 'heap'")


def test_hugetlb_pages_are_indexed_in_4k_units() -> None:
    assert errors("map h hugetlb size 4M\nread h[1023]\nread h[512]\n") == []
    assert errors("map h hugetlb size 4M\nread h[1024]\n") == [
        "page 1024 is outside 'h', which has 1024 pages"]


def test_set_before_the_first_access_is_fine_even_after_declarations() -> None:
    assert errors("map a anon size 4K\nfork c\nset swap 1M\nread a[0]\n") == []


def test_a_trace_counts_as_an_access() -> None:
    assert errors("trace t.lackey\nset ram 1M\n") == ["'set ram' comes after the first access"]


def test_single_page_ranges_are_fine_for_expect_value() -> None:
    assert errors("map a anon size 8K\nexpect value a[1..2] == 0\n") == []
    assert errors("map a anon size 4K\nexpect state a[*] == zero\n") == []


def test_numa_nodes_setting_enables_process_nodes() -> None:
    assert errors("set numa_nodes 4\nprocess p node 3\n") == []


def test_nested_as_built_by_hand_is_reported() -> None:
    inner = ast.As("main", ast.Access("read", ast.Absolute(0)))
    scenario = ast.Scenario((ast.As("main", inner),))
    assert [e.message for e in check_all(scenario)] == ["'as' cannot be nested"]


def test_word_values_from_yaml_are_checked() -> None:
    scenario = ast.Scenario((
        ast.Map("a", "anon", 4096, prot="rwz", options=("hugepages",)),
        ast.Madvise(ast.PageRange("a"), "dontned"),
        ast.ExpectOutcome("<", "minor"),
        ast.Show("pagetables"),
    ))
    messages = [e.message for e in check_all(scenario)]
    assert messages == ["'rwz' is not a protection", "unknown mapping option 'hugepages'",
                        "unknown madvise advice 'dontned'", "unknown comparison '<'",
                        "unknown view 'pagetables'"]
    assert check_all(scenario)[2].hint == "did you mean 'dontneed'?"


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_every_default_setting_is_allowed(key: str) -> None:
    assert check_setting(key, DEFAULTS[key]) is None


@pytest.mark.parametrize("key, value", [
    ("mthp", 16 << 10), ("mthp", 1 << 20), ("fault_around", 4096), ("fault_around", 2 << 20),
    ("fault_around", 96 << 10), ("page_cluster", 0), ("page_cluster", 10), ("swap", 0),
    ("read_ahead", 0), ("ram", 64 << 10),
    ("policy", "opt"), ("policy", "fifo"), ("hugepages", 0), ("numa_nodes", 64),
])
def test_edge_values_are_allowed(key: str, value: object) -> None:
    assert check_setting(key, value) is None


@pytest.mark.parametrize("key, value", [
    ("mthp", 8 << 10), ("mthp", 2 << 20), ("mthp", 48 << 10), ("fault_around", 4 << 20),
    ("page_cluster", 11), ("ram", 0), ("ram", 1000), ("ram", 128 << 30), ("swap_device", "tape"), ("zero_page", "maybe"),
    ("kernel", "6.6"), ("levels", "4"), ("numa_nodes", 65), ("thp", 1),
])
def test_bad_values_are_refused_with_a_hint(key: str, value: object) -> None:
    problem = check_setting(key, value)
    assert problem is not None and all(problem)


HUGETLBFS = "file f size 4M on hugetlbfs"


@pytest.mark.parametrize("clause, message", [
    ("uncached", "'uncached' means nothing on hugetlbfs: the file has no backing store, its "
                 "contents exist only in hugetlb pool pages"),
    ("folio 64K", "a hugetlbfs file is cached in 2 MiB huge pages, not 64K folios"),
    ("folio 4K", "a hugetlbfs file is cached in 2 MiB huge pages, not 4K folios"),
    ("cached [0..4]", "cached pages 0..4 cover part of a 2 MiB huge page: a hugetlbfs file is "
                      "allocated in whole huge pages"),
    ("cached 100", "cached pages 0..100 cover part of a 2 MiB huge page: a hugetlbfs file is "
                   "allocated in whole huge pages"),
])
def test_hugetlbfs_file_clauses_that_mean_nothing_there(clause: str, message: str) -> None:
    assert errors(f"{HUGETLBFS} {clause}\n") == [message]


def test_hugetlbfs_file_clauses_that_fit() -> None:
    for clause in ("", "cached", "cached 512", "cached [512..1024]", "folio 2M"):
        assert errors(f"{HUGETLBFS} {clause}\n") == [], clause
    assert errors("file f size 64K on tmpfs uncached folio 4K\n") == []


def test_uncached_and_folio_are_kept_out_of_equality() -> None:
    plain, written = (parse_text(f"{HUGETLBFS}{c}").statements[0] for c in ("", " uncached"))
    assert plain == written and written.written == ("uncached",) and plain.written == ()


def test_hugetlbfs_mappings_and_truncates_are_in_whole_huge_pages() -> None:
    assert errors(f"{HUGETLBFS}\nmap a file f size 3M\n") == [
        "a mapping size of 3M is not a multiple of 2M"]
    assert errors(f"{HUGETLBFS}\nmap a file f offset 4K size 2M\n") == [
        "file offset 0x1000 is not 2 MiB aligned: a hugetlbfs file is mapped in whole huge "
        "pages (mmap fails with EINVAL)"]
    assert errors(f"{HUGETLBFS}\nmap a file f size 2M at 0x7e0000001000\n") == [
        "address 0x7e0000001000 is not aligned to 2M"]
    assert errors(f"{HUGETLBFS}\ntruncate f 1M\n") == [
        "a hugetlbfs file cannot be truncated to 1M: its size is a whole number of 2 MiB "
        "pages (EINVAL)"]
    assert errors(f"{HUGETLBFS}\nmap a file f offset 2M size 2M\ntruncate f 2M\nread a[0]\n") == []


def test_uffd_mode_words_belong_to_their_ioctl() -> None:
    base = "map u anon size 16K\n"
    assert errors(base + "uffd copy u[0] dontwake wp\nuffd move u[0] to u[1] allow_src_holes\n") == []
    assert errors(base + "uffd zeropage u[0] wp\n") == ["uffd zeropage has no 'wp' mode"]
    assert errors(base + "uffd poison u[0] allow_src_holes\n") == [
        "uffd poison has no 'allow_src_holes' mode"]
    assert errors(base + "uffd copy u[0] wp wp\n") == ["a uffd mode word is given twice"]
