"""Meta-commands (`:help`, `:undo`, `:explain` ...): one declaration each.

Each command is declared once, with `@COMMANDS.command(name, aliases, ArgSpec, summary)`
on its handler; `:help`, argument checking (with a caret under the bad argument) and
completion are all derived from that declaration. The registry is an explicit object,
filled when this module is imported and never changed afterwards.

Handlers are thin: they parse nothing themselves and call the ReplSession's public
methods, returning a CommandResult.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional, Union

from faultlang.errors import FaultlangError
from faultlang.lang.ast import Span
from faultlang.lang.lexical import LexicalError, one_of, parse_number, suggestion, unquote

if TYPE_CHECKING:
    from faultlang.repl.session import CommandResult, ReplSession

__all__ = ["COMMANDS", "Arg", "ArgKind", "ArgSpec", "Args", "Command", "CommandError",
           "CommandRegistry", "Token", "help_topics", "split_args"]


class CommandError(FaultlangError):
    """A meta-command typed wrongly: unknown name, missing or bad argument."""


class ArgKind(Enum):
    WORD = "word"            # one of `choices`
    NUMBER = "number"        # an integer (a line or a count)
    FILE = "file"            # a path, completed from the file system
    FUNCTION = "function"    # a mirrored kernel function
    TARGET = "target"        # an address or target, the rest of the line (grammar-checked)
    TOPIC = "topic"          # a command or a statement keyword


Choices = Union[tuple[str, ...], Callable[[], Iterable[str]]]


@dataclass(frozen=True)
class Arg:
    name: str
    kind: ArgKind
    optional: bool = False
    choices: Choices = ()
    help: str = ""

    def choice_list(self) -> tuple[str, ...]:
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def usage(self) -> str:
        shown = "|".join(self.choice_list()) if self.kind is ArgKind.WORD else self.name.upper()
        return f"[{shown}]" if self.optional else shown


@dataclass(frozen=True)
class Token:
    text: str
    column: int              # 1-based, in the typed line


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|\S+')


def split_args(line: str) -> list[Token]:
    """Words of a command line with their columns; "quoted words" keep their spaces."""
    return [Token(m.group(), m.start() + 1) for m in _TOKEN.finditer(line)]


@dataclass(frozen=True)
class ArgSpec:
    """The arguments a command takes, in order. A TARGET takes the rest of the line."""

    args: tuple[Arg, ...] = ()

    def usage(self) -> str:
        return " ".join(arg.usage() for arg in self.args)

    def parse(self, line: str, tokens: list[Token], command: str) -> dict[str, Any]:
        """Values by argument name (missing optional ones are None)."""
        values: dict[str, Any] = {}
        rest = list(tokens)
        for arg in self.args:
            if not rest:
                if not arg.optional:
                    raise _error(f"{command} needs {arg.name.upper()}",
                                 f"write {command} {self.usage()}", line, len(line) + 1, 1)
                values[arg.name] = None
                continue
            if arg.kind is ArgKind.TARGET:
                values[arg.name] = Token(line[rest[0].column - 1:].rstrip(), rest[0].column)
                rest = []
                continue
            values[arg.name] = _convert(arg, rest.pop(0), line, command)
        if rest:
            extra = rest[0]
            raise _error(f"{command} takes {len(self.args) or 'no'} argument"
                         f"{'' if len(self.args) == 1 else 's'}",
                         f"write {command} {self.usage()}".rstrip(), line, extra.column,
                         len(line) - extra.column + 1)
        return values


def _error(message: str, hint: str, line: str, column: int, width: int) -> CommandError:
    return CommandError(message, hint, Span(1, column, 1, column + max(1, width)),
                        "<repl>", line)


def _convert(arg: Arg, token: Token, line: str, command: str) -> Any:
    text = token.text
    if arg.kind is ArgKind.NUMBER:
        try:
            return parse_number(text)
        except LexicalError as err:
            raise _error(err.message, err.hint, line, token.column, len(text)) from None
    if arg.kind is ArgKind.WORD:
        choices = arg.choice_list()
        if text not in choices:
            raise _error(f"{command} takes {one_of(choices)}, not '{text}'",
                         suggestion(text, choices, f"write {command} {arg.usage()}"),
                         line, token.column, len(text))
        return text
    if arg.kind is ArgKind.FILE and text.startswith('"'):
        return unquote(text if text.endswith('"') and len(text) > 1 else text + '"')
    return text


@dataclass(frozen=True)
class Args:
    """A parsed command line: argument values by name, and the line as typed (so that a
    handler that checks an argument further can put a caret under it)."""

    values: dict[str, Any]
    line: str

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


Handler = Callable[["ReplSession", Args], "CommandResult"]


@dataclass(frozen=True)
class Command:
    name: str                     # with the colon: ":undo"
    aliases: tuple[str, ...]
    args: ArgSpec
    summary: str                  # one line, for the :help table
    handler: Handler = field(compare=False)

    @property
    def details(self) -> str:
        """The handler's docstring: the long help of `:help NAME`."""
        import inspect

        return inspect.cleandoc(self.handler.__doc__ or self.summary)

    def usage(self) -> str:
        return f"{self.name} {self.args.usage()}".rstrip()


class CommandRegistry:
    """Meta-commands by name and alias, in declaration order."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._by_name: dict[str, Command] = {}

    def command(self, name: str, *, summary: str, aliases: tuple[str, ...] = (),
                args: ArgSpec = ArgSpec()) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            cmd = Command(name, aliases, args, summary, handler)
            for key in (name, *aliases):
                if key in self._by_name:
                    raise ValueError(f"meta-command {key} declared twice")
                self._by_name[key] = cmd
            self._commands.append(cmd)
            return handler
        return register

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands)

    def names(self) -> list[str]:
        """Every name and alias, colon included."""
        return list(self._by_name)

    def get(self, name: str) -> Optional[Command]:
        return self._by_name.get(name if name.startswith(":") else f":{name}")

    def parse(self, line: str) -> tuple[Command, Args]:
        """The command a typed line names, and its argument values."""
        tokens = split_args(line)
        head = tokens[0]
        cmd = self._by_name.get(head.text)
        if cmd is None:
            raise _error(f"unknown command '{head.text}'",
                         suggestion(head.text, self._by_name, ":help lists the commands"),
                         line, head.column, len(head.text))
        return cmd, Args(cmd.args.parse(line, tokens[1:], cmd.name), line)


COMMANDS = CommandRegistry()


def help_topics() -> list[str]:
    from faultlang.lang.lexical import STATEMENT_KEYWORDS

    return [c.name[1:] for c in COMMANDS] + list(STATEMENT_KEYWORDS) + ["targets", "keys"]


# --- the commands, in the order :help lists them ------------------------------------------
# The larger handlers live in _meta, imported when called: _meta imports the session
# module, which imports this one.

@COMMANDS.command(":help", aliases=(":h", ":?"), summary="list the commands, or explain one",
                  args=ArgSpec((Arg("topic", ArgKind.TOPIC, optional=True, choices=help_topics,
                                    help="a command, a statement, 'targets' or 'keys'"),)))
def _help(session: ReplSession, args: Args) -> CommandResult:
    """Without a topic: every meta-command and how to type statements. With one: the
    usage and help of a command (`:help undo`), the form of a statement (`:help map`),
    how to name addresses (`:help targets`) or the editing keys (`:help keys`)."""
    from faultlang.repl import _meta

    return _meta.help(session, args["topic"])


@COMMANDS.command(":load", summary="run a .fault or .yaml scenario file in this session",
                  args=ArgSpec((Arg("file", ArgKind.FILE),)))
def _load(session: ReplSession, args: Args) -> CommandResult:
    """Parse and check the whole file first (errors name the file's line and column), then
    run its statements here one by one, as if typed. Each one can be undone."""
    from faultlang.repl import _meta

    return _meta.load(session, args["file"])


@COMMANDS.command(":save", summary="write the session as a runnable .fault file",
                  args=ArgSpec((Arg("file", ArgKind.FILE),)))
def _save(session: ReplSession, args: Args) -> CommandResult:
    """One statement per line, in canonical form, so line N of the file is the statement
    the REPL echoed as "line N". `faultlang run FILE` replays the session exactly."""
    from faultlang.repl import _meta

    return _meta.save(session, args["file"])


@COMMANDS.command(":reset", summary="start again with a fresh machine (cannot be undone)")
def _reset(session: ReplSession, args: Args) -> CommandResult:
    """Forget every statement, setting and snapshot: the same as restarting the REPL
    (command history and options such as :trace stay)."""
    return session.reset()


@COMMANDS.command(":undo", aliases=(":back",), summary="go back N statements (default 1)",
                  args=ArgSpec((Arg("n", ArgKind.NUMBER, optional=True),)))
def _undo(session: ReplSession, args: Args) -> CommandResult:
    """Restore the machine as it was before the last N statements that changed it: page
    tables, counters, the step log (show and expect lines after them go too). :forward
    goes the other way until a new statement is run."""
    return session.travel(-(args["n"] or 1))


@COMMANDS.command(":forward", aliases=(":redo",), summary="redo N undone statements",
                  args=ArgSpec((Arg("n", ArgKind.NUMBER, optional=True),)))
def _forward(session: ReplSession, args: Args) -> CommandResult:
    """Step forward again through statements undone with :undo."""
    return session.travel(args["n"] or 1)


@COMMANDS.command(":diff", summary="what changed in page tables and counters since line N",
                  args=ArgSpec((Arg("line", ArgKind.NUMBER, optional=True),)))
def _diff(session: ReplSession, args: Args) -> CommandResult:
    """Compare now with the state before line N ran (default: the last statement): every
    page-table entry that appeared, went away or changed, and every counter's change."""
    from faultlang.repl import _meta

    return _meta.diff(session, args["line"])


@COMMANDS.command(":explain", aliases=(":x",), summary="a kernel function: file, job, callers",
                  args=ArgSpec((Arg("function", ArgKind.FUNCTION),)))
def _explain(session: ReplSession, args: Args) -> CommandResult:
    """Its kernel source file, its docstring (what it decides), the branches of the
    mirrored source that call it, and how the faults of this session reached it."""
    from faultlang.repl import _meta

    return _meta.explain(session, args["function"])


@COMMANDS.command(":why", summary="the decisions behind the last fault at an address",
                  args=ArgSpec((Arg("target", ArgKind.TARGET,
                                    help="heap[3], heap+0x10 or 0x7f0000003000"),)))
def _why(session: ReplSession, args: Args) -> CommandResult:
    """Find the most recent access to that page that faulted (in any process) and list,
    in call order, the reason each kernel function gave for the branch it took."""
    from faultlang.repl import _meta

    return _meta.why(session, args["target"], args.line)


@COMMANDS.command(":trace", summary="show the whole call path after every fault",
                  args=ArgSpec((Arg("state", ArgKind.WORD, optional=True,
                                    choices=("on", "off")),)))
def _trace(session: ReplSession, args: Args) -> CommandResult:
    """With trace on, every statement that faults prints the call tree of each fault
    (as `show path` does), with the reason each function gave. Without an argument,
    say whether it is on."""
    return session.set_trace(args["state"])


@COMMANDS.command(":keys", summary="emacs or vi key bindings",
                  args=ArgSpec((Arg("mode", ArgKind.WORD, optional=True,
                                    choices=("emacs", "vi")),)))
def _keys(session: ReplSession, args: Args) -> CommandResult:
    """Switch the editing keys (also: `faultlang repl --vi`). See `:help keys`."""
    return session.set_keys(args["mode"])


@COMMANDS.command(":quit", aliases=(":q", ":exit"), summary="leave (Ctrl-D does too)")
def _quit(session: ReplSession, args: Args) -> CommandResult:
    """Leave the REPL. The command history is kept; the session is not: :save it first."""
    from faultlang.repl.session import CommandResult

    return CommandResult(quit=True)
