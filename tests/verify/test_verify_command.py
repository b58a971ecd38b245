"""run_verify: exit status 2 (a FaultlangError, which the CLI prints) with one clear
sentence and a hint when verify cannot run here."""

from __future__ import annotations

import argparse
import platform
import shutil

import pytest

from faultlang.errors import FaultlangError
from faultlang.verify.command import run_verify

SCENARIO = "map a anon size 16K\nwrite a[*]\n"


def args(path, **changes) -> argparse.Namespace:
    values = dict(scenario=str(path), json=False, repeat=3, setup=False, keep_source=None,
                  no_color=True, width=100)
    values.update(changes)
    return argparse.Namespace(**values)


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "s.fault"
    path.write_text(SCENARIO)
    return path


@pytest.fixture
def linux(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")


def test_verify_refuses_a_machine_that_is_not_linux(scenario, monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    with pytest.raises(FaultlangError) as info:
        run_verify(args(scenario))
    err = info.value
    assert err.exit_code == 2 and err.hint
    assert err.message.startswith("verify runs scenarios on a real Linux x86-64 kernel, "
                                  "and this is Darwin")
    assert err.render().startswith("faultlang verify: error:")


def test_verify_without_a_compiler_says_so(scenario, linux, monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FaultlangError, match="verify needs a C compiler and none was found"):
        run_verify(args(scenario))


def test_verify_checks_the_scenario_first(tmp_path, linux):
    path = tmp_path / "bad.fault"
    path.write_text("write nowhere[0]\n")
    with pytest.raises(FaultlangError) as info:
        run_verify(args(path))
    assert info.value.render().startswith(f"{path}:1:")


def test_repeat_must_be_positive(scenario, linux):
    with pytest.raises(FaultlangError, match="--repeat must be at least 1"):
        run_verify(args(scenario, repeat=0))
