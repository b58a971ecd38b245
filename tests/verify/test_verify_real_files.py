"""Real runs of file scenarios: acceptance 05-08 and scenarios/files on this kernel.

Needs Linux on x86-64, root (perf for kernel-mode faults, /proc/kpageflags,
/proc/self/map_files, drop_caches, --setup for read_ahead_kb) and a C compiler, as in
CI; skipped elsewhere. The disk files go to a scratch directory on the disk holding
the test's temporary directory, so the tests also skip where that is tmpfs.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

import pytest

from faultlang.errors import FaultlangError
from faultlang.verify import files
from faultlang.verify.command import verify_scenario
from faultlang.verify.result import AGREE

REPO = Path(__file__).resolve().parents[2]
ACCEPTANCE = REPO.parent / "shared" / "acceptance"
ACCEPTED = ["05-memfd-fault-around", "06-ext4-shared-writenotify", "07-private-file-cow",
            "08-cold-file-readaround"]
# 10 maps a device, which verify does not translate
FILES = sorted(p for p in (REPO / "scenarios" / "files").glob("*.fault")
               if not p.name.startswith("10-"))


def _why_not() -> str:
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return "needs Linux on x86-64"
    if os.geteuid() != 0:
        return "needs root (perf, /proc/kpageflags, drop_caches, read_ahead_kb)"
    if not (os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")):
        return "needs a C compiler"
    return ""


pytestmark = pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "ok")


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    if files.filesystem_type(tmp_path) in ("tmpfs", "ramfs", None):
        pytest.skip("the temporary directory is not on a disk")
    return tmp_path


@pytest.mark.parametrize("name", ACCEPTED)
def test_acceptance_file_scenario_agrees_with_the_real_kernel(name, scratch, assert_agrees):
    path = ACCEPTANCE / f"{name}.fault"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    v = verify_scenario(str(path), repeat=2, setup=True, scratch=str(scratch))
    assert_agrees(v)
    assert not any(s.status == "skipped" for s in v.statements)
    assert list(scratch.iterdir()) == []                 # the scratch directory is gone


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_file_scenario_agrees_with_the_real_kernel(path, scratch, assert_agrees):
    assert_agrees(verify_scenario(str(path), repeat=2, setup=True, scratch=str(scratch)))


def test_uncached_files_leave_the_page_cache_and_drop_caches_drops(tmp_path, scratch):
    path = tmp_path / "cache.fault"
    path.write_text("file a size 256K uncached\nfile b size 256K cached [0..8, 32..40]\n"
                    "file c size 64K cached\nmap m file c size 64K shared\nread m[0]\n"
                    "drop_caches\nmemfd t size 64K\ntruncate t 16K\n")
    v = verify_scenario(str(path), repeat=2, scratch=str(scratch))
    cached = {s.line: s.cell("cached") for s in v.statements if s.cell("cached")}
    assert cached[1].real == ("0 pages cached",) * 2
    assert cached[2].real == ("16 pages cached",) * 2
    assert cached[6].sim == "16 pages cached" and cached[6].status == AGREE   # c is mapped
    assert all(c.status == AGREE for c in cached.values())


def test_without_setup_cold_reads_are_skipped_when_read_ahead_differs(tmp_path, scratch):
    path = tmp_path / "cold.fault"
    path.write_text("set read_ahead 4K\nfile a size 64K uncached\n"
                    "map m file a size 64K shared\nread m[*]\n")
    v = verify_scenario(str(path), repeat=1, scratch=str(scratch))
    read = v.statements[3]
    assert read.status == "skipped" and "read_ahead" in read.reason


def test_a_scratch_directory_on_tmpfs_is_refused(tmp_path):
    if files.filesystem_type(Path("/dev/shm")) != "tmpfs":
        pytest.skip("needs /dev/shm on tmpfs")
    path = tmp_path / "f.fault"
    path.write_text("file a size 16K cached\nmap m file a size 16K\nread m[0]\n")
    with pytest.raises(FaultlangError, match="no disk"):
        verify_scenario(str(path), repeat=1, scratch="/dev/shm")
