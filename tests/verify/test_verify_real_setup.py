"""Real runs with --setup: swap, hugetlb and THP scenarios on this kernel.

Needs Linux on x86-64, root, a C compiler, zram0 (swap scenarios) and hugetlb; skipped
elsewhere. Each test holds the machine's --setup lock, so parallel workers wait, and
checks that every setting is back afterwards: no swap, zram0 reset, the same
nr_hugepages, THP mode and page-cluster as before.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

import pytest

from faultlang.verify import setup
from faultlang.verify.command import verify_scenario
from faultlang.verify.result import SKIPPED
from faultlang.verify.setup import MachineLock

REPO = Path(__file__).resolve().parents[2]
ACCEPTANCE = REPO.parent / "shared" / "acceptance"
THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _why_not() -> str:
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return "needs Linux on x86-64"
    if os.geteuid() != 0:
        return "needs root (--setup)"
    if not (os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")):
        return "needs a C compiler"
    return ""


pytestmark = pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "ok")


def _machine() -> dict:
    return {"swaps": setup.swap_devices(),
            "zram": setup.read_text(setup.ZRAM / "initstate"),
            "hugepages": setup.read_text("/proc/sys/vm/nr_hugepages"),
            "thp": setup.read_text(THP),
            "page_cluster": setup.read_text("/proc/sys/vm/page-cluster")}


@pytest.fixture
def machine_restored():
    lock = MachineLock()
    lock.acquire()
    try:
        if setup.swap_devices():
            pytest.skip("the machine has swap of its own; --setup does not turn it off")
        before = _machine()
        yield before
        assert _machine() == before
    finally:
        lock.release()


def _needs(*what: str) -> None:
    if "zram" in what and (not setup.ZRAM.exists()
                           or setup.read_text(setup.ZRAM / "initstate") != "0"):
        pytest.skip("needs an unused /dev/zram0")
    if "hugetlb" in what and not Path("/proc/sys/vm/nr_hugepages").exists():
        pytest.skip("needs hugetlb")
    if "thp" in what and not THP.exists():
        pytest.skip("needs transparent huge pages")


def _scenario(path: Path) -> str:
    if not path.exists():
        pytest.skip(f"{path} is not there")
    return str(path)


@pytest.mark.parametrize("name, needs", [("12-hugetlb", ("hugetlb",)),
                                         ("14-zram-swap", ("zram",)),
                                         ("03-thp-madvise", ("thp",))])
def test_acceptance_scenario_agrees_with_setup(machine_restored, name, needs, assert_agrees):
    _needs(*needs)
    assert_agrees(verify_scenario(_scenario(ACCEPTANCE / f"{name}.fault"), repeat=2,
                                  setup=True), allow_skips=False)


@pytest.mark.parametrize("name, needs", [
    ("swap/01-zram-major-per-page", ("zram",)), ("swap/03-write-after-swapout", ("zram",)),
    ("huge/05-hugetlb-private", ("hugetlb",)), ("huge/06-hugetlb-shared-fork", ("hugetlb",)),
    ("huge/08-hugetlb-noreserve-sigbus", ("hugetlb",)),
    ("huge/09-hugetlbfs-shared-file", ("hugetlb",)), ("huge/10-hugetlbfs-private-cow", ("hugetlb",)),
    ("huge/11-hugetlbfs-truncate", ("hugetlb",))])
def test_swap_and_hugetlb_scenarios_agree_with_setup(machine_restored, name, needs, assert_agrees):
    _needs(*needs)
    assert_agrees(verify_scenario(_scenario(REPO / "scenarios" / f"{name}.fault"), repeat=2,
                                  setup=True), allow_skips=False)


def test_swapout_counts_the_pages_that_went_to_swap(machine_restored, tmp_path, assert_agrees):
    _needs("zram")
    path = tmp_path / "s.fault"
    path.write_text("set swap 16M\nset swap_device zram\nmap a anon size 64K\nwrite a[0..8]\n"
                    "swapout a[*]\nexpect state a[3] == swapped\nexpect state a[9] == none\n")
    v = verify_scenario(str(path), repeat=1, setup=True)
    swapout = next(s for s in v.statements if s.text == "swapout a[*]")
    assert swapout.cell("outcome").real == ("8 swapped out",)
    assert_agrees(v)


def test_without_setup_what_needs_swap_is_skipped_saying_why(machine_restored):
    _needs("zram")
    v = verify_scenario(_scenario(ACCEPTANCE / "14-zram-swap.fault"), repeat=1)
    swapout = next(s for s in v.statements if s.text == "swapout a[*]")
    assert swapout.status == SKIPPED
    assert swapout.reason == ("swap is 0 here but 256M in the scenario; --setup (root) sets "
                              "it for the run")
    read = next(s for s in v.statements if s.text == "read a[*]")
    assert read.status == SKIPPED and "line 9" in read.reason


def test_hugetlbfs_files_take_and_give_back_pool_pages_as_simulated(machine_restored, tmp_path, assert_agrees):
    # hugetlb memfds: fallocate of part of one, a fallocate that runs out of pool pages
    # (ENOSPC, keeping what it took), a page another process has not mapped (read from
    # the file), a truncation that unmaps and frees
    _needs("hugetlb")
    path = tmp_path / "h.fault"
    path.write_text("set hugepages 2\nfile f size 4M on hugetlbfs cached [0..512]\n"
                    "file g size 4M on hugetlbfs cached\nmap b file f size 2M shared\n"
                    "write b[0] = 4\nprocess other\nas other: map d file f size 2M shared\n"
                    "as other: expect value d[0] == 4\nas other: expect state d[0] == none\n"
                    "truncate f 0\nread b[0]\n")
    v = verify_scenario(str(path), repeat=1, setup=True)
    assert_agrees(v)
    rows = {s.line: s for s in v.statements}
    assert rows[2].cell("pool").real == ("1 huge page taken from the pool",)
    assert rows[3].cell("result").real == ("ENOSPC",)
    assert rows[3].cell("pool").real == ("1 huge page taken from the pool",)
    assert rows[8].cell("value").real == (4,)
    assert rows[10].cell("pool").real == ("1 huge page freed to the pool",)
    assert rows[11].cell("outcome").real == ("1× SIGBUS BUS_ADRERR",)
