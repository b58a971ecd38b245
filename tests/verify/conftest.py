"""Fixtures for the verify tests: golden files and a private cache directory.

Golden files live in tests/verify/golden/: the generated part of the C program for one
small scenario per statement kind (`.c`), and the text of the view (`.txt`).
Regenerate with `pytest tests/verify --update-golden` and review the diff like code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture
def golden(update_golden: bool) -> Callable[[str, str], None]:
    """golden(name, text): assert text equals golden/<name> (or rewrite it)."""

    def check(name: str, text: str) -> None:
        path = GOLDEN_DIR / name
        if update_golden:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"missing golden file {path}; run pytest with --update-golden")
        assert text == path.read_text(encoding="utf-8")

    return check


@pytest.fixture(scope="session")
def verify_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session, so each scenario compiles once."""
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def _private_cache(verify_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never write binaries into the developer's own ~/.cache.
    monkeypatch.setenv("XDG_CACHE_HOME", str(verify_cache))
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
