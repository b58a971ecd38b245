"""Fixtures for the REPL tests: an isolated environment and a session to type into.

Every test gets its own XDG directories and history file, so nothing is read from or
written to the user's real ones, and no terminal setting leaks into rendered text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from faultlang.repl.session import CommandResult, ReplSession


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    for name in ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        folder = home / name.lower()
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
    monkeypatch.setenv("FAULTLANG_HISTORY", str(home / "history"))
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE",
                 "TTY_INTERACTIVE", "PAGER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def session(tmp_path: Path) -> ReplSession:
    return ReplSession(cwd=tmp_path)


Type = Callable[[str], str]


@pytest.fixture
def type_(session: ReplSession) -> Type:
    """Type one input and get the plain text the REPL shows (errors included)."""

    def run(text: str) -> str:
        result: CommandResult = session.execute(text)
        return result.text(width=100)

    return run
