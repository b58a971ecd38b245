"""SettingsView: every machine setting with its default; changed values are marked."""

from __future__ import annotations

from typing import Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from faultlang.render._tables import plain_table
from faultlang.render._trim import trimmed

__all__ = ["SettingsView"]


class SettingsView:
    """(key, value, default) rows in the given order, with a "changed" mark."""

    def __init__(self, settings: Sequence[tuple[str, str, str]]) -> None:
        self.settings = tuple(settings)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = plain_table("setting", "value", "default", "", title="settings",
                            ascii_only=options.ascii_only)
        for key, value, default in self.settings:
            changed = value != default
            table.add_row(key, Text(value, style="header" if changed else ""), default,
                          Text("changed", style="fault.major") if changed else "")
        yield from trimmed(console, options, [table])
