"""Every scenario under scenarios/ runs cleanly, and those with a golden `.out` beside
them print exactly that (100 columns, no colour). `pytest --update-golden` rewrites
the goldens; review their diff like code."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from faultlang.lang import check, parse_path
from faultlang.render import make_console, render_report
from faultlang.runtime.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p for p in (ROOT / "scenarios").rglob("*")
                   if p.suffix in (".fault", ".yaml", ".yml"))


def render(path: Path) -> tuple[str, bool]:
    scenario = parse_path(path)
    check(scenario)
    report = run_scenario(scenario)
    report.scenario = str(path.relative_to(ROOT))
    out = io.StringIO()
    render_report(report, make_console(file=out, width=100, color=False))
    return out.getvalue(), report.ok


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: str(p.relative_to(ROOT / "scenarios")))
def test_scenario_runs_and_matches_its_golden(path: Path, update_golden: bool) -> None:
    text, ok = render(path)
    assert ok, text
    golden = path.with_suffix(".out")
    if update_golden:
        golden.write_text(text)
    elif golden.exists():
        assert text == golden.read_text()


def test_yaml_twins_give_the_same_ast() -> None:
    for yaml_path in (p for p in SCENARIOS if p.suffix in (".yaml", ".yml")):
        twin = yaml_path.with_suffix(".fault")
        if twin.exists():
            assert parse_path(yaml_path) == parse_path(twin), yaml_path
