"""setup: the journal of changes --setup makes, and the swap devices it makes.

The journal tests use files of their own. The device tests change the real machine
(zram0, a swap file, nr_hugepages, THP): they need root and what they use, skip
cleanly without it, and check that every setting is back afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from faultlang.kernel.settings import M, Settings
from faultlang.verify import host, setup
from faultlang.verify.setup import Journal, MachineLock

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")
HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")


def test_undo_puts_back_every_value_last_change_first(tmp_path):
    knob = tmp_path / "knob"
    knob.write_text("[a] b c\n")
    journal = Journal(tmp_path / "journal.json")
    journal.write(knob, "b")
    journal.write(knob, "c")            # the second change remembers the first
    assert knob.read_text() == "c\n"
    assert json.loads(journal.path.read_text()) == [["write", str(knob), "a"],
                                                    ["write", str(knob), "b"]]
    assert journal.undo() == []
    assert knob.read_text() == "a\n" and not journal.path.exists()


def test_writing_the_value_already_there_changes_nothing(tmp_path):
    knob = tmp_path / "knob"
    knob.write_text("3\n")
    journal = Journal(tmp_path / "journal.json")
    journal.write(knob, "3")
    assert journal.steps == [] and not journal.path.exists()


def test_undo_goes_on_after_a_step_that_fails(tmp_path):
    knob = tmp_path / "knob"
    knob.write_text("new\n")
    journal = Journal(tmp_path / "journal.json")
    journal.push("write", str(knob), "old")
    journal.push("write", str(tmp_path / "gone" / "knob"), "x")
    problems = journal.undo()
    assert len(problems) == 1 and "gone" in problems[0]
    assert knob.read_text() == "old\n"


def test_the_kernel_not_keeping_a_value_is_an_error_and_still_undone(tmp_path, monkeypatch):
    from faultlang.errors import FaultlangError

    knob = tmp_path / "nr"
    knob.write_text("0\n")
    journal = Journal(tmp_path / "journal.json")
    # as nr_hugepages does when memory is short: the write "works", the value stays
    monkeypatch.setattr(setup, "write_text", lambda path, value: None)
    with pytest.raises(FaultlangError, match="is 0 after writing 8"):
        journal.write(knob, "8")
    assert journal.steps == [["write", str(knob), "0"]]


def test_a_live_run_keeps_its_journal_from_repairs(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(setup, "LOCK", tmp_path / "lock")
    knob = tmp_path / "knob"
    knob.write_text("changed\n")
    path = tmp_path / "journal.json"
    path.write_text(json.dumps([["write", str(knob), "old"]]))
    holder = subprocess.Popen(          # another verify --setup, running
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)",
         str(tmp_path / "lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert not MachineLock().acquire(wait=False)
        assert setup.repair(path) == []
        assert knob.read_text() == "changed\n"
    finally:
        holder.kill()
        holder.wait()
    assert setup.repair(path) == [f"write {knob} old"]
    assert knob.read_text() == "old\n" and not path.exists()


def test_a_journal_of_the_older_format_is_repaired(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    knob = tmp_path / "knob"
    knob.write_text("x\n")
    path = tmp_path / "journal.json"
    path.write_text(json.dumps({str(knob): "always"}))
    monkeypatch.setattr(setup, "LOCK", tmp_path / "lock")
    assert setup.repair(path) == [f"write {knob} always"]
    assert knob.read_text() == "always\n"


def test_the_swap_header_is_the_kernels_union_swap_header(tmp_path):
    path = tmp_path / "swap"
    path.write_bytes(bytes(64 * 4096))
    setup.write_swap_header(str(path), 64 * 4096)
    page = path.read_bytes()[:4096]
    assert page[1024:1028] == (1).to_bytes(4, "little")          # version
    assert page[1028:1032] == (63).to_bytes(4, "little")         # last_page
    assert page[1032:1036] == bytes(4)                           # nr_badpages
    assert page[-10:] == b"SWAPSPACE2"


# --- on the machine ----------------------------------------------------------------------


def _root_or_skip() -> None:
    if sys.platform != "linux":
        pytest.skip("needs Linux")
    if os.geteuid() != 0:
        pytest.skip("needs root: swapon, zram and sysctl writes")


def _no_swap_or_skip() -> None:
    if setup.swap_devices():
        pytest.skip("the machine has swap of its own; these tests make their own")


def _machine() -> dict:
    return {"swaps": setup.swap_devices(),
            "zram": setup.read_text(setup.ZRAM / "initstate"),
            "hugepages": setup.read_text(HUGEPAGES),
            "thp": setup.read_text(THP),
            "page_cluster": setup.read_text("/proc/sys/vm/page-cluster")}


@pytest.fixture
def machine_restored():
    """The machine's state before the test (which asserts it is back), with the machine's
    --setup lock held throughout: other verify runs and test workers wait."""
    _root_or_skip()
    lock = MachineLock()
    lock.acquire()
    try:
        _no_swap_or_skip()
        yield _machine()
    finally:
        lock.release()


def test_zram_swap_is_made_and_undone(machine_restored, tmp_path):
    if not setup.ZRAM.exists() or setup.read_text(setup.ZRAM / "initstate") != "0":
        pytest.skip("needs an unused /dev/zram0")
    journal = Journal(tmp_path / "journal.json")
    try:
        setup.swap_on_zram(journal, 16 * M)
        assert setup.swap_devices() == [("/dev/zram0", 16 * 1024 - 4)]
        assert host._swap_total() == "16M" and host._swap_device() == "zram"
    finally:
        assert journal.undo() == []
    assert _machine() == machine_restored
    assert setup.read_text(setup.ZRAM / "disksize") == "0"


@pytest.mark.parametrize("rotational, kind", [(True, "disk"), (False, "ssd")])
def test_a_swap_file_is_made_on_a_device_of_the_right_kind_and_undone(
        machine_restored, tmp_path, rotational, kind):
    queue = setup.block_device_queue(tmp_path)
    if queue is None or not (queue / "rotational").exists():
        pytest.skip(f"{tmp_path} is not on a block device")
    flag = (queue / "rotational").read_text()
    journal = Journal(tmp_path / "journal.json")
    try:
        try:
            setup.swap_on_file(journal, tmp_path / "swapfile", 16 * M, rotational)
        except Exception as err:     # tmpfs, btrfs...: a file system without swap files
            if "swapon" in str(err):
                pytest.skip(str(err))
            raise
        assert setup.swap_devices() == [(str(tmp_path / "swapfile"), 16 * 1024 - 4)]
        assert host._swap_device() == kind
    finally:
        assert journal.undo() == []
    assert _machine() == machine_restored
    assert (queue / "rotational").read_text() == flag
    assert not (tmp_path / "swapfile").exists()


def test_our_own_swap_header_is_accepted_by_swapon(machine_restored, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)          # as without mkswap
    if setup.block_device_queue(tmp_path) is None:
        pytest.skip(f"{tmp_path} is not on a block device")
    journal = Journal(tmp_path / "journal.json")
    try:
        setup.swap_on_file(journal, tmp_path / "swapfile", 8 * M, rotational=True)
        assert setup.swap_devices() == [(str(tmp_path / "swapfile"), 8 * 1024 - 4)]
    finally:
        assert journal.undo() == []
    assert _machine() == machine_restored


def test_setup_makes_the_scenarios_machine_and_puts_the_old_one_back(machine_restored,
                                                                    tmp_path):
    if not THP.exists() or not HUGEPAGES.exists() or not setup.ZRAM.exists():
        pytest.skip("needs THP, hugetlb and zram")
    settings = Settings(swap=32 * M, swap_device="zram", hugepages=4, thp="never",
                        page_cluster=2)
    with host.Setup(settings, tmp_path / "journal.json", tmp_path,
                    MachineLock(tmp_path / "lock")) as done:
        rows = {r.key: r.machine for r in host.compare_settings(settings, tmp_path)}
        assert rows["swap"] == "32M" and rows["swap_device"] == "zram"
        assert rows["hugepages"] == "4" and rows["thp"] == "never"
        assert rows["page_cluster"] == "2"
        assert done.changed == ["hugepages", "page_cluster", "swap", "thp"]
    assert _machine() == machine_restored


def _signalled_child(tmp_path: Path, how: str) -> subprocess.CompletedProcess:
    """A verify-like process that sets zram swap up and is then stopped by `how`."""
    code = textwrap.dedent(f"""
        import os, signal, sys, time
        from pathlib import Path
        from faultlang.kernel.settings import Settings
        from faultlang.verify import host
        from faultlang.verify.setup import MachineLock
        tmp = Path({str(tmp_path)!r})
        with host.Setup(Settings(swap=8 << 20, swap_device="zram", hugepages=2),
                        tmp / "journal.json", tmp, MachineLock(tmp / "lock")):
            print("set", flush=True)
            os.kill(os.getpid(), signal.{how})
            time.sleep(30)
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_during_the_run_still_restores(machine_restored, tmp_path, how):
    if not setup.ZRAM.exists() or setup.read_text(setup.ZRAM / "initstate") != "0":
        pytest.skip("needs an unused /dev/zram0")
    done = _signalled_child(tmp_path, how)
    assert done.stdout == "set\n", done.stderr
    assert _machine() == machine_restored
    assert not (tmp_path / "journal.json").exists()


def test_a_killed_run_is_repaired_from_its_journal(machine_restored, tmp_path):
    if not setup.ZRAM.exists() or setup.read_text(setup.ZRAM / "initstate") != "0":
        pytest.skip("needs an unused /dev/zram0")
    done = _signalled_child(tmp_path, "SIGKILL")
    assert done.returncode == -signal.SIGKILL and done.stdout == "set\n"
    assert setup.swap_devices() and setup.read_text(HUGEPAGES) == "2"     # left changed
    undone = setup.repair(tmp_path / "journal.json", MachineLock())    # held: ours
    assert undone[0].startswith("swapoff /dev/zram0")
    assert _machine() == machine_restored
