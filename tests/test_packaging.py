"""The wheel ships the grammar inside the package, so a non-editable install works from
any directory (the grammar is loaded with importlib.resources, never from the cwd)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_the_grammar(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"could not build a wheel here: {proc.stderr.strip()[-200:]}")
    wheel = next(tmp_path.glob("faultlang-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "faultlang/grammar/faultlang.lark" in names
    grammar = zipfile.ZipFile(wheel).read("faultlang/grammar/faultlang.lark")
    assert grammar == (ROOT / "grammar" / "faultlang.lark").read_bytes()
