"""FaultLexer: Pygments highlighting for .fault scenarios and REPL input.

Used twice: by the REPL (through prompt_toolkit's PygmentsLexer) and, registered as a
Pygments plugin (entry point group `pygments.lexers`), by documentation tools for
```fault code blocks. It is a plain RegexLexer on the word lists of
faultlang.lang.lexical, so highlighting never needs the Lark parser: keywords are
contextual in the grammar, and a lexer cannot know the context, so a word directly
followed by `[` or `+` is always a mapping name (`read read[0]` highlights right).
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words  # type: ignore[import-untyped]
from pygments.token import (  # type: ignore[import-untyped]
    Comment,
    Error,
    Keyword,
    Literal,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

from faultlang.lang import lexical

__all__ = ["FaultLexer"]

_NAME = r"[A-Za-z_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?"
_END = r"(?![A-Za-z0-9_.\-])"

# Words that introduce a clause inside a statement (the grammar's anonymous keywords).
CLAUSE_WORDS = ("size", "at", "offset", "mapped", "on", "cached", "uncached", "folio",
                "node", "features", "by", "manually", "format", "step", "reverse",
                "contains", "delta", "last", "private", "shared", "dax", "off")
UFFD_VERBS = ("register", "unregister", "handle", "copy", "zeropage", "continue",
              "writeprotect", "wake")
BUILTINS = tuple(dict.fromkeys(
    lexical.MAP_KINDS + lexical.MAP_OPTIONS + lexical.FS_TYPES + lexical.SHOW_VIEWS
    + lexical.COUNTERS + lexical.UFFD_MODES + lexical.UFFD_ACTIONS + lexical.UFFD_FEATURES
    + lexical.TRACE_FORMATS + UFFD_VERBS))
SIGNALS = ("SIGSEGV", "SIGBUS", "EFAULT", "oom")
CONSTANTS = tuple(w for w in dict.fromkeys(lexical.OUTCOMES + lexical.PAGE_STATES)
                  if w not in SIGNALS)


class FaultLexer(RegexLexer):
    """Lexer for faultlang scenarios (.fault) and faultlang REPL input."""

    name = "faultlang"
    aliases: ClassVar[list[str]] = ["fault", "faultlang"]
    filenames: ClassVar[list[str]] = ["*.fault"]
    mimetypes: ClassVar[list[str]] = ["text/x-faultlang"]
    url = "https://github.com/faultlang/faultlang"

    tokens = {
        "root": [
            (r"\n", Whitespace),
            (r"[\t \f\r]+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r"^(:[A-Za-z?]+)", Keyword.Pseudo, "meta"),
            (r"\\[\t \f\r]*(?=\n)", Text),
            (r'"(?:[^"\\\r\n]|\\.)*"', String.Double),
            (r'"[^\n]*', Error),
            (r"(contains)(\s+)(" + _NAME + ")", bygroups(Keyword, Whitespace, Name.Function)),
            (r"(set)(\s+)(" + _NAME + ")", bygroups(Keyword, Whitespace, Name.Attribute)),
            (_NAME + r"(?=[\t ]*[\[+])", Name.Variable),
            (words(lexical.STATEMENT_KEYWORDS, suffix=_END), Keyword),
            (words(CLAUSE_WORDS, suffix=_END), Keyword),
            (words(BUILTINS, suffix=_END), Name.Builtin),
            (words(SIGNALS, suffix=_END), Name.Exception),
            (words(CONSTANTS, suffix=_END), Name.Constant),
            (r"(?=[rwx-])(?:[r-][w-][x-]|r?w?x?)" + _END, Literal),
            (r"[0-9]+(?:\.[0-9]+)+" + _END, Number.Float),
            (r"0[xX][0-9A-Za-z_]*", Number.Hex),
            (r"[0-9][0-9A-Za-z_]*", Number.Integer),
            (_NAME, Name),
            (r"->|==|!=|<=|>=|\.\.|[<>=*+]", Operator),
            (r"[\[\],:]", Punctuation),
            (r".", Error),
        ],
        "meta": [
            (r"\n", Whitespace, "#pop"),
            (r"[\t \f\r]+", Whitespace),
            (r'"(?:[^"\\\r\n]|\\.)*"', String.Double),
            (r"0[xX][0-9A-Za-z_]*|[0-9][0-9A-Za-z_]*", Number),
            (_NAME + r"(?=[\t ]*[\[+])", Name.Variable),
            (r"[^\s\[\]+*]+", Name),
            (r"[\[\]+*]", Punctuation),
        ],
    }
