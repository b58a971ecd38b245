"""Lark's parse errors -> ScenarioSyntaxError: file:line:col, a caret, one sentence on
what is wrong and one on how to fix it.

Expected tokens are described in words ("a size such as 64K", "the end of the line"),
never as terminal names; a misspelt keyword gets a "did you mean"; a few common mistakes
are recognised by example (in the manner of Lark's `match_examples`) and get a message
of their own.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Optional

from lark import Token
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
)

from faultlang.errors import ScenarioSyntaxError
from faultlang.lang import lexical
from faultlang.lang.ast import Span
from faultlang.lang.grammar import build_parser, expected_tokens, keywords, token_text

__all__ = ["syntax_error", "USAGE"]

STATEMENT_WORDS = ("map", "read", "write", "expect", "show", "set", "file", "fork")

# The form of each statement, shown when a statement is cut short or malformed.
USAGE = {
    "title": 'title "TEXT"',
    "set": "set KEY VALUE, e.g. set ram 64M",
    "file": "file NAME size SIZE [on ext4 [dax]|tmpfs|hugetlbfs] [cached|uncached|cached N] "
            "[folio SIZE]",
    "memfd": "memfd NAME size SIZE",
    "process": "process NAME [node N]",
    "fork": "fork CHILD or fork PARENT -> CHILD",
    "exit": "exit NAME", "switch": "switch NAME", "as": "as NAME: STATEMENT",
    "map": "map NAME anon|shmem|hugetlb|device|file FILE size SIZE [at ADDR] [PROT] "
           "[private|shared] [OPTIONS]",
    "munmap": "munmap TARGET", "mprotect": "mprotect TARGET PROT, e.g. mprotect heap[*] r",
    "madvise": "madvise TARGET ADVICE, e.g. madvise heap[*] dontneed",
    "mlock": "mlock TARGET", "munlock": "munlock TARGET", "msync": "msync TARGET",
    "truncate": "truncate FILE SIZE",
    "read": "read TARGET, e.g. read heap[0..4]", "write": "write TARGET [= VALUE]",
    "exec": "exec TARGET", "kread": "kread TARGET", "kwrite": "kwrite TARGET [= VALUE]",
    "trace": "trace FILE [format lackey|plain]",
    "swapout": "swapout TARGET", "reclaim": "reclaim N", "drop_caches": "drop_caches",
    "numa_scan": "numa_scan TARGET",
    "migrate": "migrate TARGET to node N [hold], or migrate release",
    "uffd": "uffd register|unregister|handle|copy|zeropage|continue|writeprotect|wake"
            "|move|poison ...",
    "show": "show settings|vmas|pagetable [TARGET]|path [N|last]|counters|memory"
            "|pagecache [FILE]|swap|lru|uffd|log",
    "expect": "expect [delta] [PROC.]COUNTER OP N, expect outcome|path|state|value ...",
}

_CLASS_WORDS = ("NAME", "NUMBER", "STRING", "PROT", "VERSION", "NEWLINE")
_TARGET = "a target such as heap[3], heap[0..16], heap[*], heap+0x10 or 0x7f0000001000"

# Common mistakes: (message, hint) -> inputs that fail the same way (see _labelled).
_EXAMPLES: dict[tuple[str, str], list[str]] = {
    ("'as' cannot be nested",
     "give one statement after 'as NAME:', or use 'switch NAME' for several"):
        ["as a: as b: read x[0]"],
    ("a target needs a page index, a range or an offset after the mapping name",
     "write heap[3], heap[0..16], heap[*] or heap+0x10"):
        ["read heap", "write heap = 1", "munmap heap", "expect value heap == 1"],
    ("'=' assigns; a comparison is written '=='",
     "write it as, e.g., expect minflt == 1"):
        ["expect minflt = 1", "expect delta minflt = 1", "expect value a[0] = 1",
         "expect outcome last = minor", "expect state a[0] = zero", "expect outcome = none"],
    ("expect needs a comparison before the number",
     "write it as, e.g., expect minflt == 1"):
        ["expect minflt 1", "expect delta minflt 1", "expect value a[0] 1"],
}

# Groups of keywords described by one phrase when all of them are expected.
_GROUPS: tuple[tuple[Iterable[str], str], ...] = (
    (lexical.MAP_OPTIONS, "an option such as populate, locked or hugepage"),
    (lexical.ADVICE, "an madvise advice such as dontneed or hugepage"),
    (lexical.MAP_FLAGS, "an option such as populate or locked"),
    (lexical.COUNTERS, "a counter such as minflt"),
    (lexical.OUTCOMES, "an outcome such as minor or SIGSEGV"),
    (lexical.PAGE_STATES, "a page state such as zero or resident"),
    (lexical.SHOW_VIEWS, "a view such as vmas, pagetable or counters"),
    (lexical.CMP_OPS, "a comparison such as == or <="),
    (lexical.EQ_OPS, "== or !="),
    (lexical.UFFD_MODES, "a mode: missing, wp or minor"),
    (lexical.UFFD_ACTIONS, "an action: copy, zeropage, unprotect or continue"),
    (lexical.FS_TYPES, "a file system: ext4, tmpfs or hugetlbfs"),
)


def syntax_error(err: UnexpectedInput, text: str, source_name: str) -> ScenarioSyntaxError:
    """The ScenarioSyntaxError for one of Lark's parse errors on `text`."""
    if isinstance(err, UnexpectedCharacters):
        found = _unexpected_character(err, text)
    elif isinstance(err, UnexpectedToken):
        found = _labelled(err, text) or _unexpected_token(err, text)
    else:
        found = ScenarioSyntaxError("the scenario does not parse", "check the statement",
                                    _span(getattr(err, "line", 0), getattr(err, "column", 0)))
    return found.located(source_name, text)  # type: ignore[return-value]


def _span(line: int, column: int, width: int = 1) -> Span:
    return Span(line, column, line, column + max(1, width))


_WORDS = re.compile(r"->|\.\.|[A-Za-z_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?|[0-9][0-9A-Za-z_]*|\S")


def _line_before(text: str, line: int, column: int) -> list[str]:
    """The words and symbols of `line` before `column`: the left context of an error."""
    lines = text.splitlines() or [""]
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    return _WORDS.findall(source[: max(0, column - 1)])


def _unexpected_character(err: UnexpectedCharacters, text: str) -> ScenarioSyntaxError:
    pos = err.pos_in_stream or 0
    char = text[pos] if pos < len(text) else ""
    where = _span(err.line, err.column)
    if char == '"':
        return ScenarioSyntaxError("this string is not closed",
                                   'end it with a " on the same line', where)
    shown = f"'{char}'" if char.isprintable() and not char.isspace() else repr(char)
    if char and not char.isascii():
        return ScenarioSyntaxError(f"unexpected character {shown}",
                                   "names and keywords use ASCII letters, digits, _ . and -",
                                   where)
    expected = _describe(expected_tokens(text[:pos]),
                         _line_before(text, err.line, err.column))
    hint = f"expected {expected} here" if expected else "remove it"
    return ScenarioSyntaxError(f"unexpected character {shown}", hint, where)


def _labelled(err: UnexpectedToken, text: str) -> Optional[ScenarioSyntaxError]:
    """A message of its own for a mistake in `_EXAMPLES`.

    Like Lark's match_examples, but stricter: the error's line, parsed alone, must fail
    in the same parser state *and* on the same kind of token as an example does. (Parsed
    alone because a parser state also records how many statements came before.)
    """
    local = _fail_alone(text, err.token.line or 0)
    if local is None or _kind(local.token) != _kind(err.token):
        return None
    if _kind(local.token) != "$END" and local.column != err.column:
        return None
    for (message, hint), examples in _EXAMPLES.items():
        for example in examples:
            probe = _fail_alone(example, 1)
            if probe is not None and probe.state == local.state \
                    and _kind(probe.token) == _kind(local.token):
                return ScenarioSyntaxError(message, hint, _token_span(err.token))
    return None


def _fail_alone(text: str, line: int) -> Optional[UnexpectedToken]:
    """The UnexpectedToken that line `line` of `text` raises when parsed on its own."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return None
    try:
        build_parser().parse(lines[line - 1])
    except UnexpectedToken as err:
        return err
    except UnexpectedInput:
        return None
    return None


def _kind(token: Token) -> str:
    return "$END" if token.type in ("$END", "_NL") else token.type


def _token_span(token: Token) -> Span:
    if token.type in ("$END", "_NL") or not token.value:
        line = token.end_line if token.type == "$END" else token.line
        column = token.end_column if token.type == "$END" else token.column
        return _span(line or 1, column or 1)
    line, column = token.line or 1, token.column or 1
    width = 1 if token.end_line != line else (token.end_column or column + 1) - column
    return _span(line, column, width)


def _unexpected_token(err: UnexpectedToken, text: str) -> ScenarioSyntaxError:
    token = err.token
    where = _token_span(token)
    before = _line_before(text, where.line, where.column)
    expected_words = {token_text(name) for name in _accepted(err)}
    expected = _describe(expected_words, before)
    usage = USAGE.get(before[0], "") if before else ""
    expected_keywords = sorted(w for w in expected_words
                               if lexical.is_name(w) and w not in _CLASS_WORDS)
    if token.type in ("$END", "_NL"):
        hint = f"the form is: {usage}" if usage else "finish the statement"
        return ScenarioSyntaxError(f"the statement ends too early: expected {expected}",
                                   hint, where)
    word = str(token.value)
    if before and word in lexical.STATEMENT_KEYWORDS:
        return ScenarioSyntaxError(f"expected {expected}, found '{word}'",
                                   "put each statement on a line of its own", where)
    misspelt = lexical.is_name(word) and word not in keywords()
    close = lexical.did_you_mean(word, expected_keywords) if misspelt else None
    if close:
        return ScenarioSyntaxError(f"unknown word '{word}': expected {expected}",
                                   f"did you mean '{close}'?", where)
    if not before:
        return ScenarioSyntaxError(f"'{word}' does not start a statement",
                                   "a statement starts with a keyword such as map, read, "
                                   "write or expect (see docs/language.md)", where)
    hint = f"the form is: {usage}" if usage else f"write {expected} here"
    return ScenarioSyntaxError(f"expected {expected}, found '{word}'", hint, where)


def _accepted(err: UnexpectedToken) -> set[str]:
    """The terminals the parser accepts at the error. `err.expected` is the LALR state's
    merged lookahead set, which lists tokens that could only follow after reductions that
    this input will not make; `accepts()` simulates them and is exact."""
    interactive = getattr(err, "interactive_parser", None)
    if interactive is not None:
        try:
            return set(interactive.accepts())
        except LarkError:
            pass
    return set(err.expected)


def _describe(expected: set[str], before: list[str]) -> str:
    """Expected tokens (as grammar.token_text spells them) in words, most specific first."""
    words = set(expected)
    phrases: list[str] = []
    if set(STATEMENT_WORDS) <= words:
        phrases.append("a statement such as map, read, write or expect")
        words -= set(lexical.STATEMENT_KEYWORDS)
    for group, phrase in _GROUPS:
        members = set(group)
        if members <= words:
            phrases.append(phrase)
            words -= members
    if "VERSION" in words:
        phrases.append("a value such as 64M, never or 6.18")
        words -= {"NAME", "NUMBER", "VERSION"}
    if {"NAME", "NUMBER"} <= words:
        phrases.append(_TARGET)
        words -= {"NAME", "NUMBER"}
    for cls, describe in _CLASSES.items():
        if cls in words:
            phrases.append(describe(before))
            words.discard(cls)
    ends = "NEWLINE" in words
    words.discard("NEWLINE")
    if words - {"reverse"} or phrases:
        words.discard("reverse")  # always allowed after a range; naming it only adds noise
    if "size" in words:  # the clause a map cannot do without goes first, before any cut
        phrases.insert(0, "'size'")
        words.discard("size")
    phrases.extend(f"'{w}'" for w in sorted(words))
    if ends:
        phrases.append("the end of the line")
    if len(phrases) > 6:
        phrases = phrases[:6] + ["..."]
        return ", ".join(phrases)
    return lexical.one_of(phrases) or "something else"


def _name_phrase(before: list[str]) -> str:
    prev = before[-1] if before else ""
    if prev == "map":
        return "a mapping name such as heap"
    if prev in ("file", "memfd", "truncate", "pagecache", "trace"):
        return "a file name"
    if prev in ("fork", "->", "exit", "switch", "as", "process"):
        return "a process name"
    if prev == "contains":
        return "a kernel function such as do_anonymous_page"
    if prev == "set":
        return "a setting such as ram or thp"
    if prev in ("expect", "delta"):
        return "PROCESS.COUNTER such as child.minflt"
    if prev in ("features", ","):
        return "a feature such as sigbus"
    return "a name"


def _number_phrase(before: list[str]) -> str:
    prev = before[-1] if before else ""
    if prev in ("size", "offset", "mapped", "folio") or (before[:1] == ["truncate"]):
        return "a size such as 64K"
    if prev == "at":
        return "an address such as 0x7f0000000000"
    if prev in ("[", "..", "step", "cached", ","):
        return "a page number"
    return "a number"


_CLASSES: dict[str, Callable[[list[str]], str]] = {
    "NAME": _name_phrase,
    "NUMBER": _number_phrase,
    "VERSION": lambda _: "a version such as 6.18",
    "STRING": lambda _: 'a quoted string such as "text"',
    "PROT": lambda _: "a protection such as rw, r or r-x",
}
