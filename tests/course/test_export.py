"""`faultlang run --svg/--html` export a lesson for slides and handouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LESSON = Path(__file__).resolve().parents[2] / "scenarios/lessons/01-first-touch.fault"


def test_run_exports_svg_and_html_deterministically(tmp_path: Path, faultlang: Any) -> None:
    # A subprocess: cli.cmd_run imports faultlang.lang.checker directly, which in this
    # process would rebind faultlang.lang.checker to the module for later tests.
    def main(argv: list[str]) -> int:
        return faultlang(*argv, cwd=tmp_path).returncode

    svg, html = tmp_path / "a.svg", tmp_path / "a.html"
    assert main(["run", str(LESSON), "--no-color", "--svg", str(svg), "--html", str(html)]) == 0
    first = svg.read_text()
    assert first.startswith("<svg") and "do_anonymous_page" in first
    assert "<html" in html.read_text().lower() and "Lesson 1" in html.read_text()
    assert main(["run", str(LESSON), "--no-color", "--svg", str(svg)]) == 0
    assert svg.read_text() == first


def test_the_picture_in_the_tutorial_is_what_the_lesson_prints(tmp_path: Path,
                                                               faultlang: Any) -> None:
    root = LESSON.parents[2]
    shown = root / "docs/img/03-fork-cow.svg"
    assert "(img/03-fork-cow.svg)" in (root / "docs/tutorial.md").read_text()
    fresh = tmp_path / "fresh.svg"
    done = faultlang("run", "scenarios/lessons/03-fork-cow.fault", "--svg", str(fresh),
                     cwd=root)
    assert done.returncode == 0, done.stderr
    assert fresh.read_text() == shown.read_text(), (
        "regenerate it: faultlang run scenarios/lessons/03-fork-cow.fault "
        "--svg docs/img/03-fork-cow.svg")
