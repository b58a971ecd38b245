"""Golden files: how a scenario is rendered for comparison, and which files go together.

One rendering for every consumer (tests/golden, `faultlang test`, the pytest plugin),
so a golden written by one is byte-identical for the others: 100 columns, no colour,
and the header's scenario path relative to the course root.

Pairing rules:
- the golden of NAME.fault / NAME.yaml / NAME.yml is NAME.out beside it;
- a YAML file with a NAME.fault beside it is a *twin*: the .fault owns NAME.out (the
  YAML's header and line numbers differ), the twin must parse to the same AST;
- NAME.out with no scenario beside it is *stale*.
"""

from __future__ import annotations

import difflib
import io
import os
from types import ModuleType
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from faultlang.snapshots import ExpectResult

SUFFIXES = (".fault", ".yaml", ".yml")
GOLDEN_SUFFIX = ".out"
WIDTH = 100
# Files that mark the top of a course repository (the same markers pytest uses for
# its rootdir, plus .git), so `faultlang test` and `pytest` agree on header paths.
ROOT_MARKERS = ("pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg", ".git")

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Rendered:
    """A scenario's golden text and its expects (plain data: crosses process pools)."""

    text: str
    ok: bool
    expects: tuple[ExpectResult, ...]
    error: Optional[str] = None


def render_golden(path: PathLike, root: PathLike) -> Rendered:
    """Parse, check, run and render `path` exactly as goldens are written.

    Raises FaultlangError (located) for a scenario that does not parse, check or run.
    """
    check, parse_path = lang_function("check"), lang_function("parse_path")
    from faultlang.render import make_console, render_report
    from faultlang.runtime.runner import run_scenario

    path = Path(path)
    scenario = parse_path(path)
    check(scenario)
    report = run_scenario(scenario)
    report.scenario = display_name(path, Path(root))
    out = io.StringIO()
    render_report(report, make_console(file=out, width=WIDTH, color=False))
    return Rendered(out.getvalue(), report.ok, tuple(report.expects), report.error)


def lang_function(name: str) -> Any:
    """faultlang.lang's function `name`, without touching its submodules first.

    The package exports functions named like its submodules (check): importing
    faultlang.lang.checker directly before the package's lazy attribute is read leaves
    `faultlang.lang.checker` bound to the module, which breaks `from faultlang.lang
    import check` elsewhere in the process.
    """
    import faultlang.lang as lang
    value = getattr(lang, name)
    return getattr(value, name) if isinstance(value, ModuleType) else value


def display_name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def find_root(path: PathLike) -> Path:
    """The course root for `path`: the nearest ancestor holding a ROOT_MARKERS file,
    else the working directory when `path` is inside it, else the path's directory."""
    start = Path(path).resolve()
    here = start if start.is_dir() else start.parent
    for candidate in (here, *here.parents):
        if any((candidate / marker).exists() for marker in ROOT_MARKERS):
            return candidate
    cwd = Path.cwd().resolve()
    if cwd == here or cwd in here.parents:
        return cwd
    return here


def is_scenario(path: Path) -> bool:
    return path.suffix in SUFFIXES and path.is_file()


def twin_of(path: Path) -> Optional[Path]:
    """The .fault a YAML scenario twins, or None."""
    if path.suffix in (".yaml", ".yml"):
        twin = path.with_suffix(".fault")
        if twin.exists():
            return twin
    return None


def golden_for(path: Path) -> Optional[Path]:
    """Where `path`'s golden lives (it may not exist yet), or None for a YAML twin."""
    if twin_of(path) is not None:
        return None
    return path.with_suffix(GOLDEN_SUFFIX)


def unified_diff(expected: str, actual: str, golden: str) -> str:
    lines = difflib.unified_diff(expected.splitlines(keepends=True),
                                 actual.splitlines(keepends=True),
                                 fromfile=f"{golden} (golden)", tofile=f"{golden} (actual)")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def discover(paths: Iterable[PathLike]) -> tuple[list[Path], list[Path]]:
    """Scenarios and stale goldens under `paths` (files or directories), sorted.

    Hidden directories are skipped, as pytest skips them.
    """
    scenarios: set[Path] = set()
    goldens: set[Path] = set()
    for given in map(Path, paths):
        if given.is_file():
            (goldens if given.suffix == GOLDEN_SUFFIX else scenarios).add(given)
            continue
        for dirpath, dirnames, filenames in os.walk(given):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                file = Path(dirpath) / name
                if file.suffix in SUFFIXES:
                    scenarios.add(file)
                elif file.suffix == GOLDEN_SUFFIX:
                    goldens.add(file)
    stale = sorted(g for g in goldens
                   if not any(g.with_suffix(s).exists() for s in SUFFIXES))
    return sorted(scenarios), stale


def format_expect(result: ExpectResult) -> str:
    verdict = "ok" if result.ok else f"FAILED: expected {result.expected}, got {result.actual}"
    return f"line {result.line}: {result.text}  {verdict}"
