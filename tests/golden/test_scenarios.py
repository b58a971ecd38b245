"""Every scenario under scenarios/ runs cleanly, and those with a golden `.out` beside
them print exactly that (100 columns, no colour). `pytest --update-golden` rewrites
the goldens; review their diff like code."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlang.course.golden import golden_for, render_golden
from faultlang.lang import parse_path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p for p in (ROOT / "scenarios").rglob("*")
                   if p.suffix in (".fault", ".yaml", ".yml"))


def render(path: Path) -> tuple[str, bool]:
    rendered = render_golden(path, ROOT)
    return rendered.text, rendered.ok


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: str(p.relative_to(ROOT / "scenarios")))
def test_scenario_runs_and_matches_its_golden(path: Path, update_golden: bool) -> None:
    text, ok = render(path)
    assert ok, text
    golden = golden_for(path)          # None for a YAML twin: its .fault owns the golden
    if golden is None:
        return
    if update_golden:
        golden.write_text(text)
    elif golden.exists():
        assert text == golden.read_text()


def test_yaml_twins_give_the_same_ast() -> None:
    for yaml_path in (p for p in SCENARIOS if p.suffix in (".yaml", ".yml")):
        twin = yaml_path.with_suffix(".fault")
        if twin.exists():
            assert parse_path(yaml_path) == parse_path(twin), yaml_path
