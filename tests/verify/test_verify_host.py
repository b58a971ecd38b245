"""host: the machine's settings, and --setup restoring what it changed."""

from __future__ import annotations

import json
import os

import pytest

from faultlang.errors import FaultlangError
from faultlang.kernel.settings import Settings
from faultlang.verify import host
from faultlang.verify.result import SettingRow
from faultlang.verify.setup import MachineLock


@pytest.mark.parametrize("machine, differs", [("6.18.44-fc", False), ("6.18", False),
                                              ("6.12.9", True), ("6.180.1", True)])
def test_a_kernel_release_matches_its_series(machine, differs):
    assert SettingRow("kernel", "6.18", machine, True, False).differs is differs


def test_an_unreadable_setting_never_counts_as_different():
    assert not SettingRow("fault_around", "64K", "?", False, False).differs


def test_every_scenario_setting_of_the_anon_engine_is_shown(tmp_path):
    rows = host.compare_settings(Settings(), tmp_path)
    assert [r.key for r in rows][:4] == ["kernel", "thp", "mthp", "zero_page"]
    assert {r.key for r in rows if r.relevant} == {"kernel", "thp", "mthp", "zero_page",
                                                   "page_cluster", "hugepages", "swap",
                                                   "swap_device"}
    assert all(r.scenario for r in rows)


@pytest.fixture
def fake_thp(tmp_path, monkeypatch):
    """A THP `enabled` file of our own, so --setup can be tested without root."""
    path = tmp_path / "enabled"
    path.write_text("[always] madvise never\n")
    fake = host.HostSetting("thp", lambda: host._bracketed(host._read(path)),
                            lambda v: {path: v}, relevant=True)
    monkeypatch.setattr(host, "host_settings", lambda scratch: (fake,))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    return path


def test_setup_sets_the_scenario_value_and_restores_the_old_one(fake_thp, tmp_path):
    journal = tmp_path / "journal.json"
    with host.Setup(Settings(), journal, tmp_path, MachineLock(tmp_path / "lock")) as setup:
        assert fake_thp.read_text() == "madvise\n"
        assert setup.changed == ["thp"]
        assert json.loads(journal.read_text()) == [["write", str(fake_thp), "always"]]
    assert fake_thp.read_text() == "always\n"
    assert not journal.exists()


def test_setup_restores_when_the_run_fails(fake_thp, tmp_path):
    with pytest.raises(RuntimeError):
        with host.Setup(Settings(), tmp_path / "j.json", tmp_path,
                        MachineLock(tmp_path / "lock")):
            raise RuntimeError("the program crashed")
    assert fake_thp.read_text() == "always\n"


def test_a_journal_left_by_a_killed_run_is_repaired(fake_thp, tmp_path):
    journal = tmp_path / "journal.json"
    fake_thp.write_text("never\n")
    journal.write_text(json.dumps([["write", str(fake_thp), "always"]]))
    lock = MachineLock(tmp_path / "lock")
    assert lock.acquire()
    assert host.repair_interrupted_setup(journal, lock) == [f"write {fake_thp} always"]
    lock.release()
    assert fake_thp.read_text() == "always\n" and not journal.exists()


def test_setup_needs_root(fake_thp, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(FaultlangError, match="needs root"):
        with host.Setup(Settings(), tmp_path / "j.json", tmp_path,
                        MachineLock(tmp_path / "lock")):
            pass
    assert fake_thp.read_text() == "[always] madvise never\n"


def test_what_the_machine_lacks_is_unavailable_unless_setup_sets_it():
    rows = [SettingRow("swap", "64M", "0", True, True),
            SettingRow("kernel", "6.12", "6.18.44", True, False),
            SettingRow("read_ahead", "128K", "8M", False, False),
            SettingRow("thp", "madvise", "madvise", True, True)]
    assert host.unavailable(rows, setup=False) == {
        "swap": "swap is 0 here but 64M in the scenario; --setup (root) sets it for the run",
        "kernel": "kernel is 6.18.44 here but 6.12 in the scenario; verify cannot change it"}
    assert list(host.unavailable(rows, setup=True)) == ["kernel"]
