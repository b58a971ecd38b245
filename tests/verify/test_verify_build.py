"""build: the cache directory, finding a compiler, compiling once per source."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from faultlang.errors import FaultlangError
from faultlang.verify import build

needs_gcc = pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc")


def test_the_cache_is_under_xdg_cache_home_with_mode_0700(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = build.cache_dir()
    assert path == tmp_path / "faultlang" / "verify"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_a_loose_cache_directory_is_tightened(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "faultlang" / "verify").mkdir(parents=True, mode=0o755)
    assert stat.S_IMODE(build.cache_dir().stat().st_mode) == 0o700


def test_without_a_compiler_verify_cannot_run(monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FaultlangError, match="needs a C compiler") as info:
        build.find_compiler()
    assert "apt-get install gcc" in info.value.hint and info.value.exit_code == 2


@needs_gcc
def test_the_same_source_compiles_once(tmp_path):
    first = build.build("int main(void) { return 0; }\n", directory=tmp_path)
    again = build.build("int main(void) { return 0; }\n", directory=tmp_path)
    assert not first.cached and again.cached and again.binary == first.binary
    assert os.access(first.binary, os.X_OK)
    other = build.build("int main(void) { return 1; }\n", directory=tmp_path)
    assert other.binary != first.binary


@needs_gcc
def test_a_compile_error_names_the_log(tmp_path):
    with pytest.raises(FaultlangError, match="did not compile") as info:
        build.build("int main(void) { return nope; }\n", directory=tmp_path)
    assert ".log" in info.value.hint
    assert list(tmp_path.glob("*.log"))
