"""Key bindings added to prompt_toolkit's emacs/vi sets (ptpython's `load_*_bindings`).

* Enter runs the input, unless the statement is unfinished (the parser says so): then
  it starts a new line, so `map a anon size` + Enter waits for the size.
* Alt-Enter / Esc Enter always starts a new line (terminals send the same two bytes
  for both), to type several statements before running them; Ctrl-J too. In vi mode
  only Ctrl-J: there Esc must switch to navigation at once, not wait for an Enter.
  Shift-Enter is not used: most terminals cannot tell it from Enter.
Ctrl-C, Ctrl-D, Ctrl-R and the history keys are prompt_toolkit's own.
"""

from __future__ import annotations

from typing import Callable

from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import (
    completion_is_selected,
    emacs_insert_mode,
    has_completions,
    has_focus,
    vi_insert_mode,
    vi_navigation_mode,
)
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

__all__ = ["load_faultlang_bindings"]


def load_faultlang_bindings(needs_more: Callable[[str], bool]) -> KeyBindings:
    """Bindings for a multi-line prompt whose Enter asks `needs_more(text)` first."""
    bindings = KeyBindings()
    # Only in the input itself: Enter in the Ctrl-R search field keeps its own meaning.
    editing = has_focus(DEFAULT_BUFFER)
    typing = editing & (emacs_insert_mode | vi_insert_mode)

    @bindings.add("enter", filter=(typing | (editing & vi_navigation_mode))
                  & ~(has_completions & completion_is_selected))
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if needs_more(buffer.text):
            buffer.insert_text("\n")
        else:
            buffer.validate_and_handle()

    @bindings.add("enter", filter=editing & has_completions & completion_is_selected)
    def _accept_completion(event: KeyPressEvent) -> None:
        # Enter on a highlighted completion takes it, as in ptpython; a second Enter runs.
        event.current_buffer.complete_state = None

    @bindings.add("escape", "enter", filter=editing & emacs_insert_mode)
    @bindings.add("c-j", filter=typing)
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings
