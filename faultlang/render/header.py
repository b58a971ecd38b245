"""HeaderView: what ran, on which modelled kernel, with which non-default settings.

Echoing the configuration first (as OSTEP's simulators do) makes a saved transcript
self-describing: a reader can rerun it without the scenario file at hand.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from faultlang.render._fmt import glyphs
from faultlang.snapshots import RunReport

__all__ = ["HeaderView", "kernel_label"]


def kernel_label(kernel: str) -> str:
    """"6.18" → "Linux 6.18" (a value already naming Linux is kept)."""
    kernel = kernel.strip()
    return kernel if kernel.lower().startswith("linux") else f"Linux {kernel}"


class HeaderView:
    """Three to four lines: the tool and kernel, the scenario, its title, changed settings."""

    def __init__(self, report: RunReport) -> None:
        self.report = report

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        g = glyphs(options)
        report = self.report
        yield Text(f"faultlang {g.dot} modelled on {kernel_label(report.kernel)}", style="header")
        yield Text.assemble(("scenario  ", "dim"), report.scenario)
        if report.title:
            yield Text.assemble(("title     ", "dim"), report.title)
        changed = [f"{key}={value}" for key, value, default in report.settings if value != default]
        yield Text.assemble(("settings  ", "dim"), ", ".join(changed) if changed else "defaults")
