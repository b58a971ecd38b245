"""Files in verify without the real kernel: the scratch directory, which statements
depend on read_ahead, and how file statements are compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlang.errors import FaultlangError
from faultlang.kernel.settings import Settings
from faultlang.lang import parse_text
from faultlang.verify import files, host
from faultlang.verify.cgen import generate
from faultlang.verify.compare import compare, simulate
from faultlang.verify.measure import KIND_CONTROL, Record, Run
from faultlang.verify.result import AGREE, DIFFER

COLD = ("file cold size 128K uncached\nfile warm size 64K cached\n"
        "map c file cold size 128K shared\nmap w file warm size 64K shared\n"
        "read c[0]\nread w[*]\nread c[*]\n")
READ_AHEAD = {"read_ahead": "read_ahead is 8M here but 128K in the scenario; "
                            "--setup (root) sets it for the run"}


def program(text: str, unavailable=None):
    scenario = parse_text(text, "files.fault")
    return generate(scenario, simulate(scenario).layout, unavailable)


def test_without_the_scenarios_read_ahead_only_cold_file_faults_are_skipped():
    reasons = {p.line: p.reason for p in program(COLD, READ_AHEAD).statements}
    assert reasons[5] == READ_AHEAD["read_ahead"]
    assert reasons[6] == ""                                  # cached: no readahead
    assert reasons[7] == "mapping 'c' was changed by line 5, which does not run on the " \
                         "real kernel"
    assert all(not p.reason for p in program(COLD).statements)


@pytest.mark.parametrize("text, cold", [
    ("file f size 64K cached\nmap m file f size 64K\n", False),
    ("file f size 64K cached 16\nmap m file f size 64K\n", False),
    ("file f size 64K cached 8\nmap m file f size 64K\n", True),
    ("file f size 64K cached\nmap m file f size 64K\ndrop_caches\n", True),
    ("file f size 64K cached\nmap m file f size 64K\ntruncate f 8K\n", False),
    ("file f size 64K cached\nmap m file f size 64K\ntruncate f 1M\n", True),
    ("memfd f size 64K\nmap m file f size 64K\ndrop_caches\n", False),
    ("file f size 64K uncached\n", False),                  # never mapped
])
def test_read_ahead_is_relevant_when_a_disk_file_may_be_cold(text, cold):
    scenario = parse_text(text)
    assert files.maps_cold_files(scenario) is cold
    rows = host.compare_settings(Settings(), Path("/"), disk_files=cold)
    assert next(r for r in rows if r.key == "read_ahead").relevant is cold


def test_read_ahead_is_written_in_kib():
    assert host._kib("128K") == "128" and host._kib("8M") == "8192"
    assert host._kib("4096") == "4"


def test_the_scratch_directory_is_made_and_removed(tmp_path):
    stale = tmp_path / "files-999999999-abc"                # no such process
    stale.mkdir()
    with files.ScratchDir(tmp_path, needed=True) as place:
        assert place.path is not None and place.path.parent == tmp_path
        assert place.environment == {"FV_SCRATCH": str(place.path)}
        (place.path / "left-over").write_text("x")
    assert list(tmp_path.iterdir()) == []


def test_the_scratch_directory_is_removed_on_an_error(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with files.ScratchDir(tmp_path, needed=True):
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_no_scratch_directory_without_disk_files(tmp_path):
    with files.ScratchDir(tmp_path, needed=False) as place:
        assert place.environment == {} and place.note == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(files.filesystem_type(Path("/dev/shm")) != "tmpfs",
                    reason="needs /dev/shm on tmpfs")
def test_a_tmpfs_scratch_directory_is_refused():
    with pytest.raises(FaultlangError, match="tmpfs, which has no disk"):
        with files.ScratchDir(Path("/dev/shm"), needed=True):
            pass


def test_filesystem_type_reads_mountinfo():
    assert files.filesystem_type(Path("/proc/self")) == "proc"
    assert files.filesystem_type(Path("/no/such/path")) is None


def test_a_missing_scratch_option_is_a_clear_error(tmp_path):
    with pytest.raises(FaultlangError, match="does not exist"):
        files.scratch_root(str(tmp_path / "nope"), tmp_path)
    assert files.scratch_root("", tmp_path) == tmp_path


def _control(stmt: int, value: int, err: int = 0) -> Record:
    return Record(kind=KIND_CONTROL, stmt=stmt, wid=-1, pid=1, value=value, err=err,
                  counters=dict.fromkeys(("minflt", "majflt"), 0))


def test_file_statements_compare_their_result_and_the_pages_cached():
    scenario = parse_text("file f size 64K cached\nfile g size 64K uncached\n"
                          "map m file f size 64K\nread m[0]\ndrop_caches\ntruncate f 8K\n")
    sim = simulate(scenario)
    prog = generate(scenario, sim.layout)
    assert [p.kind for p in prog.statements] == ["control", "control", "measure", "measure",
                                                 "control", "control"]
    assert [s.cached for s in sim.statements] == [16, 0, None, None, 16, 2]
    run = Run((_control(0, 16), _control(1, 3), _control(4, 16), _control(5, 2, err=-13)))
    v = compare(sim, prog, [run], (), "6.18", "files.fault")
    assert v.statements[0].cell("cached").status == AGREE
    assert v.statements[1].cell("cached").status == DIFFER        # not dropped
    assert v.statements[1].cell("cached").real == ("3 pages cached",)
    assert v.statements[5].cell("result").real == ("EACCES",)


def test_hugetlbfs_files_compare_the_pool_pages_they_take_and_give_back():
    # cachestat(2) refuses hugetlbfs files: `file` and `truncate` of one compare the
    # change in free pool pages (HugePages_Free) instead, and drop_caches leaves them out
    scenario = parse_text("set hugepages 4\nfile h size 6M on hugetlbfs cached [512..1536]\n"
                          "file t size 16K on tmpfs cached\nmap m file h size 6M shared\n"
                          "write m[0]\ntruncate h 2M\ndrop_caches\ntruncate h 4M\n")
    sim = simulate(scenario)
    prog = generate(scenario, sim.layout)
    assert [s.pool for s in sim.statements] == [None, -2, None, None, None, 2, None, 0]
    assert [s.cached for s in sim.statements] == [None, None, 4, None, None, None, 4, None]
    run = Run((_control(1, -2), _control(2, 4), _control(5, 1), _control(6, 4),
               _control(7, 0)))
    v = compare(sim, prog, [run], (), "6.18", "files.fault")
    assert v.statements[1].cell("pool").sim == "2 huge pages taken from the pool"
    assert v.statements[1].cell("pool").status == AGREE
    assert v.statements[1].cell("cached") is None
    assert v.statements[5].cell("pool").status == DIFFER
    assert v.statements[5].cell("pool").real == ("1 huge page freed to the pool",)
    assert v.statements[6].cell("cached").status == AGREE
    assert v.statements[7].cell("pool").sim == "pool unchanged"
