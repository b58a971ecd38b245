"""Loading grammar/faultlang.lark into a cached LALR parser, plus the two questions the
REPL asks of it: which tokens may come next, and has the input ended early.

The grammar ships inside the wheel as faultlang/grammar/faultlang.lark (hatch
force-include) and lives at the top of a source checkout; it is never looked up relative
to the working directory. The LALR tables are cached per user (XDG cache dir, mode 0700),
keyed by the grammar text and the Lark and Python versions.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterator, Optional

import lark
from lark import Lark, Token
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
)

__all__ = ["build_parser", "grammar_text", "grammar_path", "expected_tokens", "is_incomplete",
           "keywords", "token_text"]

_GRAMMAR_FILE = "grammar/faultlang.lark"


class _WholeWords:
    """Postlexer whose only job is `always_accept`: with NAME in every lexer state, Lark
    matches a whole word first and turns it into a keyword only when it equals one that
    the parser expects (its "unless" rule), so keywords are whole words and contextual."""

    always_accept = ("NAME",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


def grammar_path() -> Path:
    """Where the grammar is: inside the installed package, else the source checkout."""
    try:
        packaged = resources.files("faultlang") / _GRAMMAR_FILE
        if packaged.is_file():
            return Path(str(packaged))
    except (ModuleNotFoundError, TypeError, NotADirectoryError):
        pass
    return Path(__file__).resolve().parents[2] / _GRAMMAR_FILE


@lru_cache(maxsize=1)
def grammar_text() -> str:
    return grammar_path().read_text(encoding="utf-8")


def _cache_dir() -> Optional[Path]:
    """The per-user cache directory, or None when it is missing, foreign or shared."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    path = Path(base) / "faultlang"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return None
    # A pickle is loaded from here, so only trust a directory nobody else can write.
    foreign = hasattr(os, "getuid") and info.st_uid != os.getuid()
    if foreign or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    if not os.access(path, os.W_OK | os.X_OK):
        return None
    return path


def _cache_file(text: str) -> Optional[str]:
    folder = _cache_dir()
    if folder is None:
        return None
    key = f"{text}\0{lark.__version__}\0{sys.version_info[:2]}".encode()
    return str(folder / f"grammar-{hashlib.sha256(key).hexdigest()[:24]}.lalr")


@lru_cache(maxsize=1)
def build_parser() -> Lark:
    """The LALR parser for .fault text (start rule `start`), built once per process."""
    text = grammar_text()
    options = {"parser": "lalr", "lexer": "contextual", "propagate_positions": True,
               "maybe_placeholders": True, "postlex": _WholeWords(),
               "source_path": str(grammar_path())}
    cache = _cache_file(text)
    if cache is not None:
        try:
            return Lark(text, cache=cache, **options)
        except OSError:
            pass
    return Lark(text, **options)


@lru_cache(maxsize=None)
def _terminal_patterns() -> dict[str, str]:
    """Terminal name -> its literal text, for keyword and punctuation terminals."""
    found: dict[str, str] = {}
    for term in build_parser().terminals:
        if term.pattern.type == "str":
            found[term.name] = term.pattern.value
    return found


def keywords() -> frozenset[str]:
    """Every keyword and punctuation literal of the grammar."""
    return frozenset(_terminal_patterns().values())


def token_text(terminal: str) -> str:
    """How a terminal is typed: `MAP` -> `map`, `__ANON_2` -> `==`; classes stay upper
    case (NAME, NUMBER, STRING, PROT, VERSION) and the end of a line is NEWLINE."""
    if terminal in ("_NL", "$END"):
        return "NEWLINE"
    return _terminal_patterns().get(terminal, terminal)


def expected_tokens(text: str) -> set[str]:
    """What may follow `text` (the text so far, ending between words): keywords and
    punctuation as typed (`write`, `==`, `[`), classes as NAME, NUMBER, STRING, PROT,
    VERSION, and NEWLINE when the statement may end here. Empty if `text` is already wrong."""
    try:
        interactive = build_parser().parse_interactive(text)
        interactive.exhaust_lexer()
        accepts = interactive.accepts()
    except (LarkError, UnexpectedInput):
        return set()
    return {token_text(name) for name in accepts}


def is_incomplete(text: str) -> bool:
    """True when `text` stops in the middle of a statement (`map a anon size`, an open
    string, a trailing backslash), so a REPL should read another line and join it to this
    one with a space. False for complete input and for input that is wrong already."""
    stripped = text.rstrip(" \t\r\n")
    if not stripped:
        return False
    if stripped.endswith("\\"):
        return True
    try:
        build_parser().parse(stripped)
    except UnexpectedToken as err:
        return err.token.type == "$END"
    except UnexpectedCharacters as err:
        return _opens_string(stripped, err.pos_in_stream or 0)
    except (LarkError, UnexpectedInput):
        return False
    return False


def _opens_string(text: str, pos: int) -> bool:
    """The lexer stopped at a quote that is never closed on its line."""
    if pos >= len(text) or text[pos] != '"':
        return False
    return "\n" not in text[pos:]
