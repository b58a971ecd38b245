"""Completion: a pure `suggest(text, session)` (pgcli style) and a thin prompt_toolkit
Completer around it.

Statements are completed from the grammar itself: `expected_tokens` says which keywords
and which kinds of word may come next, and the words before the cursor say which names
fit a NAME there (mappings after `read`, processes after `as`, settings after `set`,
kernel functions after `contains` ...). Meta-commands are completed from their ArgSpec.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from faultlang.lang import lexical
from faultlang.repl.commands import ArgKind, help_topics, split_args

if TYPE_CHECKING:
    from faultlang.repl.session import ReplSession, SessionNames

__all__ = ["Completions", "FaultCompleter", "Suggestion", "SuggestionKind", "setting_values",
           "suggest"]


class SuggestionKind(Enum):
    KEYWORD = "keyword"
    COMMAND = "command"
    MAPPING = "mapping"
    PROCESS = "process"
    FILE = "file"
    SETTING = "setting"
    VALUE = "value"
    FUNCTION = "function"
    COUNTER = "counter"
    PATH = "path"
    TOPIC = "topic"


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: SuggestionKind
    meta: str = ""


@dataclass(frozen=True)
class Completions:
    replace: int                          # characters before the cursor they replace
    items: tuple[Suggestion, ...] = ()

    def texts(self) -> list[str]:
        return [s.text for s in self.items]


_PARTIAL = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_.\-]*|[0-9][0-9A-Za-z_]*|[=!<>\-.+*]+)$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*|->|\S")
_CLASSES = {"NAME", "NUMBER", "STRING", "PROT", "VERSION", "NEWLINE"}
_TARGET_WORDS = {"read", "write", "exec", "kread", "kwrite", "munmap", "mprotect", "madvise",
                 "mlock", "munlock", "msync", "swapout", "numa_scan", "migrate", "pagetable", "state",
                 "value", "register", "unregister", "copy", "zeropage", "continue",
                 "writeprotect", "wake", "move", "to", "poison"}
_PROTS = ("r", "rw", "r-x", "rwx", "---")
_SIZE_POOL = ("0 1 2 3 4 5 8 16 64 16K 32K 64K 128K 256K 512K 1M 2M 16M 64M 128M 256M 512M "
              "1G 4G").split()
_LOADABLE = (".fault", ".fl", ".yaml", ".yml")
_WORD_KINDS = ((lexical.ADVICE, "madvise advice"), (lexical.MAP_KINDS, "mapping kind"),
               (lexical.MAP_FLAGS, "mapping option"), (lexical.SHOW_VIEWS, "view"),
               (lexical.COUNTERS, "counter"), (lexical.OUTCOMES, "outcome"),
               (lexical.PAGE_STATES, "page state"), (lexical.FS_TYPES, "file system"),
               (lexical.UFFD_MODES, "uffd mode"), (lexical.UFFD_FLAGS, "uffd ioctl mode"))


def _keyword_meta(word: str) -> str:
    if word in lexical.STATEMENT_KEYWORDS:
        from faultlang.lang.diagnostics import USAGE

        return USAGE.get(word, "")
    for words, meta in _WORD_KINDS:
        if word in words:
            return meta
    return ""


def setting_values(key: str) -> list[str]:
    """Values `set KEY` accepts, as typed: the words its description names, the default
    and a few common sizes, each checked by the language's own setting rules."""
    from faultlang.lang.settings import DEFAULTS, DESCRIPTIONS, check_setting

    default = DEFAULTS.get(key)
    if default is None:
        return []
    shown = lexical.format_size(default) if isinstance(default, int) else str(default)
    words = re.findall(r"[0-9]+(?:\.[0-9]+)+|[A-Za-z0-9_]+", DESCRIPTIONS.get(key, ""))
    out: list[str] = []
    for word in [shown, *words, *_SIZE_POOL]:
        value: object = word
        if re.fullmatch(r"[0-9].*", word) and not lexical.VERSION_RE.fullmatch(word):
            try:
                value = lexical.parse_number(word)
            except lexical.LexicalError:
                continue
        if word not in out and check_setting(key, value) is None:  # type: ignore[arg-type]
            out.append(word)
    return out


def _current_statement(before: str) -> list[str]:
    from faultlang.repl._input import join_continuations

    statement = re.split(r"(?<!\\)\n", join_continuations(before))[-1]
    statement = re.sub(r"^\s*as\s+[A-Za-z_][A-Za-z0-9_.\-]*\s*:", "", statement)
    return _WORD.findall(statement)


def _names(words: list[str], names: SessionNames, expected: set[str]) -> Iterator[Suggestion]:
    """The names that fit where the grammar expects a NAME (or a value after set KEY)."""
    prev = words[-1] if words else ""
    first = words[0] if words else ""
    K = SuggestionKind
    if first == "set" and len(words) == 2 and expected & {"NAME", "NUMBER", "VERSION"}:
        for value in setting_values(words[1]):
            yield Suggestion(value, K.VALUE, f"value of {words[1]}")
        return
    if "NAME" not in expected:
        return
    if prev in _TARGET_WORDS:
        for name, meta in names.mappings:
            yield Suggestion(name, K.MAPPING, meta)
    elif prev in ("as", "switch", "exit", "fork"):
        for name in names.processes:
            yield Suggestion(name, K.PROCESS, "process")
    elif prev == "set":
        from faultlang.lang.settings import DESCRIPTIONS

        for key, meta in DESCRIPTIONS.items():
            yield Suggestion(key, K.SETTING, meta)
    elif prev in ("expect", "delta"):
        for process in names.processes:
            for counter in lexical.PROCESS_COUNTERS:
                yield Suggestion(f"{process}.{counter}", K.COUNTER, f"{counter} of {process}")
    elif prev == "contains":
        from faultlang.repl._explain import kernel_functions

        for symbol, file in sorted(kernel_functions().items()):
            yield Suggestion(symbol, K.FUNCTION, file)
    elif first == "uffd" and prev in ("features", ","):
        for feature in lexical.UFFD_FEATURES:
            yield Suggestion(feature, K.KEYWORD, "uffd feature")
    elif prev in ("truncate", "pagecache") or (first == "map" and prev == "file"):
        for name in names.files:
            yield Suggestion(name, K.FILE, "file")


def _statement(text: str, session: ReplSession) -> Completions:
    from faultlang.lang.grammar import expected_tokens
    from faultlang.repl._input import join_continuations

    match = _PARTIAL.search(text)
    partial = match.group() if match else ""
    before = text[:len(text) - len(partial)]
    expected = expected_tokens(join_continuations(before))
    if not expected and "\n" in before:
        expected = expected_tokens(before.rsplit("\n", 1)[1])
    items: list[Suggestion] = []
    for token in sorted(expected - _CLASSES):
        items.append(Suggestion(token, SuggestionKind.KEYWORD, _keyword_meta(token)))
    if "PROT" in expected:
        items += [Suggestion(p, SuggestionKind.VALUE, "protection") for p in _PROTS]
    items += _names(_current_statement(before), session.names(), expected)
    seen: set[str] = set()
    chosen = []
    for item in items:
        if item.text.startswith(partial) and item.text not in seen and item.text != partial:
            seen.add(item.text)
            chosen.append(item)
    return Completions(len(partial), tuple(chosen))


def _paths(partial: str, session: ReplSession, loadable: bool) -> Iterator[Suggestion]:
    folder, sep, base = partial.rpartition("/")
    prefix = folder + sep
    root = session.resolve(prefix or ".")
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(base) or (entry.name.startswith(".") and not base):
            continue
        if entry.is_dir():
            yield Suggestion(prefix + entry.name + "/", SuggestionKind.PATH, "folder")
        elif not loadable or entry.name.endswith(_LOADABLE):
            yield Suggestion(prefix + entry.name, SuggestionKind.PATH, "file")


def _argument(text: str, session: ReplSession) -> Completions:
    tokens = split_args(text)
    command = session.commands.get(tokens[0].text)
    if command is None:
        return Completions(0)
    at_space = text[-1:].isspace()
    done = tokens[1:] if at_space else tokens[1:-1]
    partial = "" if at_space else tokens[-1].text
    specs = command.args.args
    if specs and specs[0].kind is ArgKind.TARGET:
        # The rest of the line is a target: complete it as the target of a `read`.
        return _statement("read " + text[len(tokens[0].text):].lstrip(), session)
    if len(done) >= len(specs):
        return Completions(len(partial))
    arg = specs[len(done)]
    items: Iterable[Suggestion] = ()
    if arg.kind is ArgKind.WORD:
        items = (Suggestion(c, SuggestionKind.VALUE, arg.name) for c in arg.choice_list())
    elif arg.kind is ArgKind.TOPIC:
        items = (Suggestion(t, SuggestionKind.TOPIC, "help topic") for t in help_topics())
    elif arg.kind is ArgKind.FUNCTION:
        from faultlang.repl._explain import kernel_functions

        items = (Suggestion(s, SuggestionKind.FUNCTION, f)
                 for s, f in sorted(kernel_functions().items()))
    elif arg.kind is ArgKind.FILE:
        items = _paths(partial, session, loadable=command.name == ":load")
    return Completions(len(partial), tuple(s for s in items if s.text.startswith(partial)))


def _summary(session: ReplSession, name: str) -> str:
    command = session.commands.get(name)
    return command.summary if command is not None else ""


def suggest(text: str, session: ReplSession) -> Completions:
    """What may replace the word before the cursor; `text` is everything before it."""
    stripped = text.lstrip()
    if stripped.startswith(":") and "\n" not in stripped:
        if not re.search(r"\s", stripped):
            return Completions(len(stripped), tuple(
                Suggestion(name, SuggestionKind.COMMAND, _summary(session, name))
                for name in session.commands.names() if name.startswith(stripped)))
        return _argument(stripped, session)
    return _statement(text, session)


class FaultCompleter(Completer):
    """prompt_toolkit's view of `suggest`."""

    def __init__(self, session: ReplSession) -> None:
        self.session = session

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterator[Completion]:
        found = suggest(document.text_before_cursor, self.session)
        for item in found.items:
            yield Completion(item.text, start_position=-found.replace, display_meta=item.meta)
