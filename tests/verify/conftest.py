"""Fixtures for the verify tests: golden files and a private cache directory.

Golden files live in tests/verify/golden/: the generated part of the C program for one
small scenario per statement kind (`.c`), and the text of the view (`.txt`).
Regenerate with `pytest tests/verify --update-golden` and review the diff like code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from faultlang.verify.result import AGREE, DIFFER, NA, NOISY, SKIPPED, Verification

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture
def golden(golden_file: Callable[[Path, str], None]) -> Callable[[str, str], None]:
    """golden(name, text): assert text equals golden/<name> (or rewrite it)."""
    return lambda name, text: golden_file(GOLDEN_DIR / name, text)


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


# counted by the measured thread alone, and what a statement did: these must agree
EXACT = ("minflt", "majflt", "page_faults", "perf_minor", "perf_major",
         "result", "cached", "outcome", "state", "value", "expect", "pool")


@pytest.fixture
def assert_agrees() -> Callable[..., None]:
    """assert_agrees(v[, allow_skips]): the real kernel agrees with the simulation,
    statement by statement (and, unless allowed, no statement was skipped).

    A count that moved between runs (DAMON, a loaded machine) is noisy, as verify
    reports it, when one of the runs gave the simulated value. Machine-wide counters
    (pgfault, pgmajfault) may only show other processes' faults on top."""

    def check(v: Verification, allow_skips: bool = True) -> None:
        for s in v.statements:
            assert allow_skips or s.status != SKIPPED, \
                f"line {s.line} `{s.text}` skipped: {s.reason}"
            for cell in s.cells:
                where = f"line {s.line} `{s.text}` {cell.name}: sim {cell.sim}, real {cell.real}"
                if cell.name in EXACT:
                    assert cell.status in (AGREE, NA) or \
                        cell.status == NOISY and cell.sim in cell.real, where
                elif cell.status == DIFFER:
                    assert cell.name in ("pgfault", "pgmajfault") and \
                        min(cell.real) >= cell.sim, where

    return check
