"""Project-wide pytest options (they must live in the top-level conftest to be parsed)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files from the current output instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was started with --update-golden."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def golden_file(update_golden: bool) -> Callable[[Path, str], None]:
    """golden_file(path, text): assert `text` equals the golden file at `path`, or
    rewrite it when the run was started with --update-golden."""

    def check(path: Path, text: str) -> None:
        if update_golden:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"missing golden file {path}; run pytest with --update-golden")
        assert text == path.read_text(encoding="utf-8"), path.name

    return check
