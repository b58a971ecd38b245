"""The three kinds of trouble, never mixed (see docs/design.md):

1. simulated outcomes (SIGSEGV, SIGBUS, OOM, RETRY, MAJOR) are VM_FAULT_* values, not exceptions;
2. user errors are FaultlangError: they carry a span and print as file:line:col, the source
   line, a caret, one sentence on the problem and one on the fix;
3. simulator bugs raise SimulatorBug (the analogue of VM_BUG_ON) and are never swallowed.
"""

from __future__ import annotations

from typing import Optional

from faultlang.lang.ast import NO_SPAN, Span


class FaultlangError(Exception):
    """A problem with the user's input. `message` says what is wrong, `hint` how to fix it."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "", span: Span = NO_SPAN,
                 source_name: str = "<input>", source_text: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.span = span
        self.source_name = source_name
        self.source_text = source_text

    def located(self, source_name: str, source_text: str) -> "FaultlangError":
        """Attach the source (when raised before it was known) and return self."""
        if not self.source_text:
            self.source_name = source_name
            self.source_text = source_text
        return self

    def render(self) -> str:
        """file:line:col: error: MESSAGE, the source line, a caret, then the hint."""
        span = self.span
        if span.line <= 0:
            head = f"{self.source_name}: error: {self.message}"
            return head + (f"\n  hint: {self.hint}" if self.hint else "")
        lines = self.source_text.splitlines()
        text = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
        width = 1
        if span.end_line == span.line and span.end_column > span.column:
            width = span.end_column - span.column
        width = max(1, min(width, max(1, len(text) - span.column + 1)))
        out = [f"{self.source_name}:{span.line}:{span.column}: error: {self.message}"]
        if text:
            out.append(f"  {text}")
            out.append("  " + " " * (span.column - 1) + "^" * width)
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


class ScenarioSyntaxError(FaultlangError):
    """The text does not parse (or a YAML document is not a scenario)."""


class ScenarioError(FaultlangError):
    """The scenario parses but means something impossible (unknown name, bad size...)."""


class NotSupportedYet(ScenarioError):
    """A statement of the language whose simulation belongs to a later engine issue."""


class StepLimitExceeded(FaultlangError):
    """Bounded work: the run needed more page operations than --max-steps allows."""


class SimulatorBug(AssertionError):
    """An engine invariant broke (VM_BUG_ON). Never caught by the REPL or the CLI."""


def span_of(node: object) -> Optional[Span]:
    return getattr(node, "span", None)
