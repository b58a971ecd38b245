"""make_console and export: deterministic bytes, colour only when asked for."""

from __future__ import annotations

import io
import re
from pathlib import Path

from faultlang.render import (
    CallPathView,
    PageTableView,
    RunReportView,
    export_html,
    export_svg,
    make_console,
)
from faultlang.render._samples import sample_pagetable, sample_report, sample_retry_step

ESCAPE = re.compile(r"\x1b\[")


def _print(renderable, **kwargs) -> str:
    out = io.StringIO()
    make_console(file=out, **kwargs).print(renderable)
    return out.getvalue()


def test_rendering_twice_gives_identical_text():
    for view in (RunReportView(sample_report(), verbose=True), PageTableView(sample_pagetable()),
                 CallPathView(sample_retry_step())):
        assert _print(view) == _print(view)


def test_files_get_the_fixed_width_and_no_colour(monkeypatch):
    monkeypatch.setenv("COLUMNS", "37")
    monkeypatch.setenv("FORCE_COLOR", "1")
    console = make_console(file=io.StringIO())
    assert console.width == 100
    assert console.color_system is None
    text = _print(RunReportView(sample_report()))
    assert not ESCAPE.search(text)
    assert max(len(line) for line in text.splitlines()) <= 100


def test_no_color_means_no_escape_codes(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ESCAPE.search(_print(RunReportView(sample_report())))
    assert not ESCAPE.search(_print(PageTableView(sample_pagetable()), color=False))


def test_colour_can_be_forced_and_is_still_deterministic():
    coloured = _print(CallPathView(sample_retry_step()), color=True)
    assert ESCAPE.search(coloured)
    assert coloured == _print(CallPathView(sample_retry_step()), color=True)


def test_width_argument_is_honoured():
    text = _print(RunReportView(sample_report()), width=80)
    assert max(len(line) for line in text.splitlines()) <= 80


def test_recording_console_exports_text():
    console = make_console(file=io.StringIO(), record=True)
    console.print(CallPathView(sample_retry_step()))
    assert console.export_text().startswith("step 3: read data[3]")


def test_svg_and_html_exports_are_deterministic():
    svg = export_svg(CallPathView(sample_retry_step()), width=80)
    assert svg.startswith("<svg") and "filemap_fault" in svg
    assert svg == export_svg(CallPathView(sample_retry_step()), width=80)
    html = export_html(PageTableView(sample_pagetable()))
    assert "<html" in html.lower() and "P4D" in html
    assert html == export_html(PageTableView(sample_pagetable()))


def test_render_imports_no_engine_layer():
    """faultlang.render reads snapshots only (docs/design.md layering)."""
    package = Path(__file__).resolve().parents[2] / "faultlang" / "render"
    imports = re.compile(r"^\s*(?:from|import)\s+(faultlang\.[\w.]+)", re.M)
    for path in package.glob("*.py"):
        for module in imports.findall(path.read_text(encoding="utf-8")):
            assert module == "faultlang.snapshots" or module.startswith("faultlang.render"), \
                f"{path.name} imports {module}"


def test_package_exports_resolve():
    import faultlang.render as render

    assert sorted(render.__all__) == sorted([*render._EXPORTS, "render_report"])
    for name in render.__all__:
        assert getattr(render, name) is not None
