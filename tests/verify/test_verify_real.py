"""Real runs: acceptance scenarios and the anonymous-memory scenarios on this kernel.

Needs Linux on x86-64, root (perf counting kernel-mode faults, /proc/kpageflags) and a C
compiler, as in CI; skipped elsewhere. Per-thread counters (getrusage, perf) must agree
exactly; vmstat counters are machine-wide, so other processes can only add to them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
from pathlib import Path

import pytest

from faultlang.verify.command import run_verify, verify_scenario
from faultlang.verify.setup import MachineLock


def _why_not() -> str:
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return "needs Linux on x86-64"
    if os.geteuid() != 0:
        return "needs root (perf events for kernel-mode faults, /proc/kpageflags)"
    if not (os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")):
        return "needs a C compiler"
    return ""


pytestmark = pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "ok")

REPO = Path(__file__).resolve().parents[2]
ACCEPTANCE = REPO.parent / "shared" / "acceptance"
ACCEPTED = ["01-anon-first-touch", "02-zero-page-then-cow", "10-madvise-mprotect", "11-fork-cow"]
ANON = sorted((REPO / "scenarios" / "anon").glob("*.fault"))
THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


@pytest.fixture(autouse=True)
def _settings_steady():
    """Hold the machine's --setup lock: a --setup test (or thp_always below) in another
    worker would otherwise change THP or the pool under these runs (a write to 2 MiB of
    anonymous memory is then one THP fault, not 512). Re-entrant, so thp_always nests."""
    lock = MachineLock()
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


@pytest.mark.parametrize("name", ACCEPTED)
def test_acceptance_scenario_agrees_with_the_real_kernel(name, assert_agrees):
    path = ACCEPTANCE / f"{name}.fault"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    assert_agrees(verify_scenario(str(path), repeat=2))


@pytest.mark.parametrize("path", ANON, ids=[p.stem for p in ANON])
def test_anon_scenario_agrees_with_the_real_kernel(path, assert_agrees):
    assert_agrees(verify_scenario(str(path), repeat=2))


def test_after_fork_each_side_counts_only_the_scenarios_faults(tmp_path):
    # The "+1 noise": the first write to each private page after fork is a COW fault,
    # stack and runtime data included. The fork window and the next statements on both
    # sides must count the scenario's page alone; the rest happens between windows.
    path = tmp_path / "fork.fault"
    path.write_text("map a anon size 16K\nwrite a[*]\nfork child\nwrite a[0]\n"
                    "as child: write a[1]\n")
    v = verify_scenario(str(path), repeat=3)
    fork, parent, child = v.statements[2], v.statements[3], v.statements[4]
    assert fork.mode == "fork" and fork.cell("minflt").real == (0, 0, 0)
    assert fork.cell("page_faults").real == (0, 0, 0)
    assert parent.cell("minflt").real == (1, 1, 1)
    assert child.cell("minflt").real == (1, 1, 1)
    assert all(n > 0 for n in v.extra["outside_windows"]["main"])   # the pre-touching


def test_json_output_has_the_real_counts(tmp_path, capsys):
    path = tmp_path / "s.fault"
    path.write_text("map a anon size 64K\nwrite a[*]\nexpect delta minflt == 16\n")
    options = argparse.Namespace(scenario=str(path), json=True, repeat=2, setup=False,
                                 keep_source=None, no_color=True, width=100)
    assert run_verify(options) == 0
    data = json.loads(capsys.readouterr().out)
    write = data["statements"][1]
    assert write["cells"]["minflt"] == {"sim": 16, "real": [16, 16], "status": "agree"}
    assert data["kernel"] == platform.release() and data["runs"] == 2


@pytest.fixture
def thp_always():
    """The machine's THP mode set to `always` for the test, then put back."""
    if not THP.exists():
        pytest.skip("no transparent hugepage support")
    lock = MachineLock()        # other workers' --setup tests wait meanwhile
    lock.acquire()
    old = next(w.strip("[]") for w in THP.read_text().split() if w.startswith("["))
    THP.write_text("always\n")
    try:
        yield
    finally:
        THP.write_text(old + "\n")
        lock.release()


def test_setup_sets_thp_for_the_run_and_restores_it(thp_always, assert_agrees):
    if not (ACCEPTANCE / "01-anon-first-touch.fault").exists():
        pytest.skip("../shared/acceptance is not beside this checkout")
    path = str(ACCEPTANCE / "01-anon-first-touch.fault")
    without = verify_scenario(path, repeat=1)
    write = next(s for s in without.statements if s.text == "write buf[*]")
    assert write.cell("minflt").real == (1,)          # one PMD fault: a THP
    assert without.exit_code == 1
    with_setup = verify_scenario(path, repeat=1, setup=True)
    assert_agrees(with_setup)
    assert "[always]" in THP.read_text()
