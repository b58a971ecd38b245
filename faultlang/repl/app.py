"""Wiring only: a prompt_toolkit PromptSession around a ReplSession, and a loop that
prints what each input returns (through a pager when it would not fit on the screen).

Start-up is kept short by importing the engine, the parser and rich only when first
needed; a background thread imports them while the user types the first line.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Optional

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.enums import EditingMode
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding.vi_state import InputMode
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.output import Output

from faultlang import __version__
from faultlang.repl.completion import FaultCompleter
from faultlang.repl.key_bindings import load_faultlang_bindings
from faultlang.repl.lexer import FaultLexer
from faultlang.repl.session import CommandResult, ReplOptions, ReplSession
from faultlang.repl.style import faultlang_style
from faultlang.repl.toolbar import toolbar_fragments

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["history_path", "run_repl"]

BANNER = (f"faultlang {__version__}, modelled on Linux 6.18. Type a statement such as "
          "`map heap anon size 64K`;\n:help lists the commands, Ctrl-D quits.")


def history_path(environ: Mapping[str, str] = os.environ) -> Path:
    """$FAULTLANG_HISTORY, else $XDG_STATE_HOME/faultlang/history (~/.local/state/...)."""
    override = environ.get("FAULTLANG_HISTORY")
    if override:
        return Path(override).expanduser()
    base = environ.get("XDG_STATE_HOME", "")
    # The XDG spec says to ignore a relative path.
    state = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return state / "faultlang" / "history"


def _history(path: Path) -> tuple[History, Optional[str]]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as err:
        return InMemoryHistory(), f"history not saved: cannot write {path} ({err.strerror})"
    return FileHistory(str(path)), None


def _prompt_session(session: ReplSession, history: History, input: Optional[Input],
                    output: Optional[Output]) -> PromptSession[str]:
    def message() -> StyleAndTextTuples:
        return [("class:prompt", "fault("), ("class:prompt.process", session.current_process()),
                ("class:prompt", ")> ")]

    def continuation(width: int, line_number: int, wrap_count: int) -> StyleAndTextTuples:
        return [("class:continuation", "." * (width - 1) + " ")]

    prompt: PromptSession[str] = PromptSession(
        message, multiline=True, prompt_continuation=continuation,
        key_bindings=load_faultlang_bindings(session.needs_more),
        lexer=PygmentsLexer(FaultLexer), completer=FaultCompleter(session),
        complete_while_typing=True, auto_suggest=AutoSuggestFromHistory(), history=history,
        style=faultlang_style(), include_default_pygments_style=False,
        editing_mode=_mode(session), input=input, output=output)

    def toolbar() -> StyleAndTextTuples:
        vi_state = None
        if prompt.app.editing_mode is EditingMode.VI:
            mode = prompt.app.vi_state.input_mode
            vi_state = "insert" if mode is InputMode.INSERT else \
                "replace" if mode is InputMode.REPLACE else "nav"
        return toolbar_fragments(session.status(), vi_state)  # type: ignore[return-value]

    prompt.bottom_toolbar = toolbar
    return prompt


def _mode(session: ReplSession) -> EditingMode:
    return EditingMode.VI if session.options.keys == "vi" else EditingMode.EMACS


class _Screen:
    """Where results go: a rich Console made on first use (rich is slow to import)."""

    def __init__(self, console: Optional[Console]) -> None:
        self._console = console

    @property
    def console(self) -> Console:
        if self._console is None:
            from faultlang.render.console import make_console

            self._console = make_console()
        return self._console

    def line(self, text: str) -> None:
        if self._console is None:
            print(text, flush=True)
        else:
            self._console.print(text, markup=False, highlight=False)

    def show(self, result: CommandResult) -> None:
        renderables = result.renderables()
        if not renderables:
            return
        console = self.console
        if not console.is_terminal:
            for renderable in renderables:
                console.print(renderable)
            return
        with console.capture() as captured:
            for renderable in renderables:
                console.print(renderable)
        text = captured.get()
        # Room for the prompt and the toolbar: otherwise the top would scroll away.
        if text.count("\n") > console.size.height - 3:
            _page(text, console)
        else:
            console.file.write(text)
            console.file.flush()


def _page(text: str, console: Console) -> None:
    """Through $PAGER (default less), keeping colour and leaving the text on screen."""
    env = dict(os.environ)
    env.setdefault("LESS", "-R -X -F")
    command = shlex.split(env.get("PAGER") or "less")
    try:
        subprocess.run(command, input=text, text=True, env=env, check=False)
    except OSError:
        console.file.write(text)


def run_repl(vi: bool = False, *, input: Optional[Input] = None,
             output: Optional[Output] = None, console: Optional[Console] = None,
             cwd: Optional[Path] = None, max_steps: Optional[int] = None) -> int:
    """The interactive loop. Returns the exit status (0)."""
    options = ReplOptions(keys="vi" if vi else "emacs", max_steps=max_steps)
    session = ReplSession(cwd=cwd or Path.cwd(), options=options)
    history, warning = _history(history_path())
    prompt = _prompt_session(session, history, input, output)
    screen = _Screen(console)
    screen.line(BANNER)
    if warning:
        screen.line(warning)
    threading.Thread(target=session.warm_up, name="faultlang-warm-up", daemon=True).start()
    while True:
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:
            continue                          # Ctrl-C: drop the input, keep going
        except EOFError:
            break                             # Ctrl-D on an empty line
        try:
            result = session.execute(text)
            screen.show(result)
        except KeyboardInterrupt:
            screen.line("interrupted")
            continue
        if result.quit:
            break
        prompt.editing_mode = _mode(session)
    return 0


if __name__ == "__main__":
    sys.exit(run_repl("--vi" in sys.argv))
