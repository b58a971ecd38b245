"""Fixtures for the render tests: capture a view as plain text, compare with goldens.

Golden files live in tests/render/golden/<name>.txt: plain text, no colour, exactly
what the console printed. Regenerate with `pytest tests/render --update-golden` and
review the diff like code.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import pytest
from rich.console import Console, RenderableType

GOLDEN_DIR = Path(__file__).parent / "golden"


def render_text(renderable: RenderableType, width: int = 100) -> str:
    """What a plain, colourless console of `width` columns prints for `renderable`."""
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


@pytest.fixture
def render() -> Callable[..., str]:
    return render_text


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Output must not depend on the terminal the tests happen to run in.
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE",
                 "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def golden(golden_file: Callable[[Path, str], None]) -> Callable[[str, str], None]:
    """golden(name, text): assert text equals golden/<name>.txt (or rewrite it)."""
    return lambda name, text: golden_file(GOLDEN_DIR / f"{name}.txt", text)
