"""pytest plugin: scenario files (.fault, .yaml, .yml) as test items.

Enable it with `-p faultlang.course.pytest_plugin` or the `pytest11` entry point.
It collects a scenario only where it was asked to, so a project whose own tests live
beside scenarios (this repository) never collects them twice:

- every scenario under a path given on the command line (`pytest scenarios/`), but
  not under the ini `testpaths` pytest falls back to when no path is given;
- every scenario pytest reaches, when the ini sets `faultlang_scenarios = true`.

Each scenario gives a `golden` item (its rendering equals NAME.out; skipped when there
is no golden yet), one item per `expect` (named by line), and for a YAML twin a
`twin` item (it parses to the .fault's AST). Items hold only paths and line numbers,
so pytest-xdist workers collect the same ids and each runs the scenarios it needs.
`--faultlang-update` writes missing goldens and rewrites differing ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from faultlang.course.golden import (SUFFIXES, Rendered, display_name, find_root,
                                     format_expect, golden_for, render_golden, twin_of,
                                     unified_diff)
from faultlang.errors import FaultlangError


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("faultlang")
    group.addoption("--faultlang-update", action="store_true", default=False,
                    help="write missing scenario goldens and rewrite differing ones")
    parser.addini("faultlang_scenarios", type="bool", default=False,
                  help="collect every scenario file pytest reaches, not only those "
                       "under paths given on the command line")


def _given_paths(config: pytest.Config) -> list[Path]:
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return []
    base = config.invocation_params.dir
    return [(base / arg.split("::")[0]).resolve() for arg in config.args]


def _enabled(file_path: Path, config: pytest.Config) -> bool:
    if config.getini("faultlang_scenarios"):
        return True
    here = file_path.resolve()
    return any(here == given or given in here.parents for given in _given_paths(config))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Collector]:
    if file_path.suffix in SUFFIXES and _enabled(file_path, parent.config):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """One scenario: it is parsed to name the items and run once for all of them."""

    _rendered: Optional[Rendered] = None
    _error: Optional[str] = None

    def collect(self) -> Iterator[pytest.Item]:
        from faultlang.lang import ast, parse_path
        try:
            scenario = parse_path(self.path)
        except FaultlangError:
            # The golden item reports the syntax error with its caret.
            yield ScenarioItem.from_parent(self, name="golden", kind="golden", line=0)
            return
        if twin_of(self.path) is not None:
            yield ScenarioItem.from_parent(self, name="twin", kind="twin", line=0)
        else:
            yield ScenarioItem.from_parent(self, name="golden", kind="golden", line=0)
        for stmt in scenario.statements:
            inner = stmt.statement if isinstance(stmt, ast.As) else stmt
            if type(inner).__name__.startswith("Expect"):
                line = stmt.span.line
                yield ScenarioItem.from_parent(self, name=f"line {line}", kind="expect",
                                               line=line)

    def rendered(self) -> Rendered:
        if self._rendered is None and self._error is None:
            try:
                self._rendered = render_golden(self.path, find_root(self.path))
            except FaultlangError as err:
                self._error = err.render()
        if self._error is not None:
            raise ScenarioFailure(self._error)
        assert self._rendered is not None
        return self._rendered


class ScenarioFailure(Exception):
    """A check failed; its message is the whole readable report (diff, expects, error)."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, kind: str, line: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.line = line

    def runtest(self) -> None:
        scenario: ScenarioFile = self.parent  # type: ignore[assignment]
        if self.kind == "twin":
            self._check_twin()
            return
        rendered = scenario.rendered()
        if rendered.error:
            raise ScenarioFailure(rendered.error)
        if self.kind == "golden":
            self._check_golden(rendered)
        else:
            self._check_expect(rendered)

    def _check_golden(self, rendered: Rendered) -> None:
        golden = golden_for(self.path)
        assert golden is not None
        update = self.config.getoption("--faultlang-update")
        current = golden.read_text() if golden.exists() else None
        if current == rendered.text:
            return
        if update:
            golden.write_text(rendered.text)
            return
        name = display_name(golden, find_root(self.path))
        if current is None:
            pytest.skip(f"no golden {name} (run pytest --faultlang-update to write it)")
        raise ScenarioFailure(f"output differs from {name}:\n"
                              + unified_diff(current, rendered.text, name))

    def _check_expect(self, rendered: Rendered) -> None:
        results = [e for e in rendered.expects if e.line == self.line]
        if not results:
            raise ScenarioFailure(f"line {self.line}: the run stopped before this expect")
        failed = [e for e in results if not e.ok]
        if failed:
            raise ScenarioFailure("\n".join(format_expect(e) for e in failed))

    def _check_twin(self) -> None:
        from faultlang.lang import parse_path
        twin = twin_of(self.path)
        assert twin is not None
        try:
            same = parse_path(self.path) == parse_path(twin)
        except FaultlangError as err:
            raise ScenarioFailure(err.render()) from None
        if not same:
            raise ScenarioFailure(f"{self.path.name} and {twin.name} give different ASTs")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.line - 1, 0), f"{self.path.name}::{self.name}"
