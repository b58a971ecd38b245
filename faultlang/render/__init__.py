"""Rich views of faultlang runs. Reads only faultlang.snapshots (never the engine).

Every view is a small class with `__rich_console__`; print it on a console from
`make_console` for deterministic output, or export it with export_svg/export_html.

Names are imported on first use (PEP 562), so `python -m faultlang.render.pagetable`
runs its demo without the package having imported that module already.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from faultlang.render.callpath import CallPathView
    from faultlang.render.console import make_console
    from faultlang.render.counters import CountersView
    from faultlang.render.expects import ExpectsView
    from faultlang.render.export import export_html, export_svg
    from faultlang.render.header import HeaderView
    from faultlang.render.log import LogView
    from faultlang.render.memory import MemoryView
    from faultlang.render.pagetable import PageTableView
    from faultlang.render.report import RunReportView, snapshot_view
    from faultlang.render.settings import SettingsView
    from faultlang.render.theme import FAULTLANG_THEME
    from faultlang.render.vmas import VmasView
    from faultlang.snapshots import RunReport

_EXPORTS = {
    "CallPathView": "callpath", "CountersView": "counters", "ExpectsView": "expects",
    "HeaderView": "header", "LogView": "log", "MemoryView": "memory",
    "PageTableView": "pagetable", "RunReportView": "report", "SettingsView": "settings",
    "VmasView": "vmas", "FAULTLANG_THEME": "theme", "export_html": "export",
    "export_svg": "export", "make_console": "console", "snapshot_view": "report",
}

__all__ = [
    "FAULTLANG_THEME", "CallPathView", "CountersView", "ExpectsView", "HeaderView", "LogView",
    "MemoryView", "PageTableView", "RunReportView", "SettingsView", "VmasView", "export_html",
    "export_svg", "make_console", "render_report", "snapshot_view",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)


def render_report(report: RunReport, console: Console, verbose: bool = False) -> None:
    """Print the text output of `faultlang run` for `report` on `console`."""
    from faultlang.render.report import RunReportView

    console.print(RunReportView(report, verbose=verbose))
