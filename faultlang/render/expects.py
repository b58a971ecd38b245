"""ExpectsView: the failed expects in full, then a one-line summary."""

from __future__ import annotations

from typing import Any, Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from faultlang.snapshots import ExpectResult

__all__ = ["ExpectsView", "expect_line", "expects_summary"]

OK_MARK = "ok"
FAIL_MARK = "FAIL"


def _value(value: Any) -> str:
    return "none" if value is None else str(value)


def expect_line(expect: ExpectResult) -> Text:
    """"line 9: expect minflt == 512  ok", or with FAIL, the expected and actual values."""
    line = Text(f"line {expect.line}: {expect.text}  ")
    if expect.ok:
        line.append(OK_MARK, style="expect.ok")
    else:
        line.append(FAIL_MARK, style="expect.fail")
        line.append(f"  expected {_value(expect.expected)}, actual {_value(expect.actual)}")
    return line


def expects_summary(expects: Sequence[ExpectResult]) -> Text:
    """"7 expects: 7 ok", "2 of 7 expects failed", "no expects"."""
    total = len(expects)
    failed = sum(1 for e in expects if not e.ok)
    if total == 0:
        return Text("no expects", style="dim")
    noun = "expect" if total == 1 else "expects"
    if failed:
        return Text(f"{failed} of {total} {noun} failed", style="expect.fail")
    return Text(f"{total} {noun}: {total} ok", style="expect.ok")


class ExpectsView:
    """Failed expects (line, text, expected, actual), then the summary line."""

    def __init__(self, expects: Sequence[ExpectResult]) -> None:
        self.expects = tuple(expects)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for expect in self.expects:
            if not expect.ok:
                yield expect_line(expect)
        yield expects_summary(self.expects)
