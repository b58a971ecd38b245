""":help, drawn from the command registry and the language's own usage table.

Nothing here is written twice: commands come from their @command declarations, and
statements from faultlang.lang.diagnostics.USAGE (the forms the parser's error messages
show), so help cannot drift from what is accepted.
"""

from __future__ import annotations

from typing import Optional

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from faultlang.repl.commands import Command, CommandRegistry

__all__ = ["KEYS", "TARGETS", "command_help", "overview", "statement_help", "topic_help"]

KEYS = (
    ("Enter", "run the input, or start a new line when the statement is not finished"),
    ("Alt-Enter, Esc Enter, Ctrl-J", "new line, for several statements at once (vi: Ctrl-J)"),
    ("Tab", "complete a keyword, a name, a setting, a file or a kernel function"),
    ("→ or Ctrl-E", "accept the grey suggestion from history"),
    ("Up, Down", "previous and next input in the history"),
    ("Ctrl-R", "search the history backwards"),
    ("Ctrl-C", "cancel the input; while a statement runs, interrupt and undo it"),
    ("Ctrl-D", "quit (on an empty line)"),
)

TARGETS = (
    ("heap[3]", "page 3 of mapping heap (its first byte)"),
    ("heap[0..16]", "pages 0 to 15"),
    ("heap[0..16 step 2]", "pages 0, 2, ..., 14"),
    ("heap[*]", "every page of the mapping (add `reverse` for last first)"),
    ("heap+0x1800", "byte offset 0x1800 into heap"),
    ("0x7f0000003000", "an absolute virtual address"),
)

_INTRO = ("Type statements of the scenario language, such as `map heap anon size 64K` "
          "or `write heap[3]`; each one runs at once and shows what the kernel did. "
          "Lines that start with a colon are commands to the REPL:")


def _table(rows: tuple[tuple[str, str], ...], style: str = "kfunc.name") -> Table:
    table = Table.grid(padding=(0, 2))
    for left, right in rows:
        table.add_row(Text(left, style=style), Text(right))
    return table


def overview(registry: CommandRegistry) -> RenderableType:
    table = Table.grid(padding=(0, 2))
    for cmd in registry:
        names = ", ".join(cmd.aliases)
        table.add_row(Text(cmd.usage(), style="kfunc.name"), Text(cmd.summary),
                      Text(names, style="dim"))
    return Group(Text(_INTRO), Text(""), Padding(table, (0, 0, 0, 2), expand=False), Text(""),
                 Text(":help TOPIC explains a command (:help undo), a statement (:help map), "
                      "targets (:help targets) or the keys (:help keys).", style="dim"))


def command_help(cmd: Command) -> RenderableType:
    parts: list[RenderableType] = [Text(cmd.usage(), style="header")]
    if cmd.aliases:
        parts.append(Text(f"also: {', '.join(cmd.aliases)}", style="dim"))
    parts += [Text(""), Text(cmd.details)]
    described = tuple((a.usage(), a.help) for a in cmd.args.args if a.help)
    if described:
        parts += [Text(""), _table(described)]
    return Group(*parts)


def statement_help(keyword: str) -> Optional[RenderableType]:
    from faultlang.lang.diagnostics import USAGE

    usage = USAGE.get(keyword)
    if usage is None:
        return None
    return Group(Text(usage, style="header"),
                 Text("the whole language: docs/language.md; the REPL: docs/repl.md",
                      style="dim"))


def topic_help(registry: CommandRegistry, topic: str) -> Optional[RenderableType]:
    """Help on one topic, or None when there is none by that name. `keys` is the
    editing keys; the :keys command is `:help :keys`."""
    if topic == "keys":
        return Group(Text("editing keys (emacs mode; :keys vi for vi)", style="header"),
                     _table(KEYS))
    if topic == "targets":
        return Group(Text("targets: how statements name pages", style="header"),
                     _table(TARGETS, style="addr"))
    cmd = registry.get(topic)
    if cmd is not None:
        return command_help(cmd)
    return statement_help(topic)
