"""`faultlang run --svg FILE / --html FILE`: a run exported for slides and handouts.

Uses faultlang.render.export (recording console, faultlang theme, truecolor, fixed
width), so the same scenario always exports to the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from faultlang.snapshots import RunReport

EXPORT_WIDTH = 100


def export_report(report: RunReport, svg: Optional[str] = None, html: Optional[str] = None,
                  verbose: bool = False) -> None:
    from faultlang.render import export_html, export_svg
    from faultlang.render.report import RunReportView

    view = RunReportView(report, verbose=verbose)
    if svg:
        Path(svg).write_text(export_svg(view, width=EXPORT_WIDTH,
                                        title=report.title or "faultlang"))
    if html:
        Path(html).write_text(export_html(view, width=EXPORT_WIDTH))
