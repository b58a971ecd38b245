"""grammar.py: where the grammar is found, the per-user table cache, the REPL helpers,
and the word lists of lexical.py staying in step with the grammar's `!word` rules."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from faultlang.lang import grammar, lexical
from faultlang.lang.grammar import (
    build_parser,
    expected_tokens,
    grammar_path,
    grammar_text,
    is_incomplete,
    token_text,
)

ROOT = Path(__file__).resolve().parents[2]


def test_grammar_is_the_canonical_top_level_file_in_a_source_checkout() -> None:
    assert grammar_path() == ROOT / "grammar" / "faultlang.lark"
    assert grammar_text().startswith("// faultlang.lark")


def test_grammar_is_never_looked_up_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert grammar_path().is_absolute()
    assert grammar_path().is_file()


def test_parser_is_built_once() -> None:
    assert build_parser() is build_parser()


def test_cache_lives_in_a_private_per_user_directory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = grammar._cache_file(grammar_text())
    assert cache is not None and Path(cache).parent == tmp_path / "faultlang"
    assert stat.S_IMODE(os.stat(tmp_path / "faultlang").st_mode) == 0o700


def test_cache_key_changes_with_the_grammar(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert grammar._cache_file("a") != grammar._cache_file("b")


def test_a_shared_or_unwritable_cache_directory_is_not_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "faultlang").mkdir(mode=0o777)
    os.chmod(tmp_path / "faultlang", 0o777)
    assert grammar._cache_file("x") is None
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert grammar._cache_file("x") is None


def test_a_cached_parser_parses_like_a_fresh_one(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    grammar.build_parser.cache_clear()
    try:
        first = build_parser().parse("map a anon size 4K")
        grammar.build_parser.cache_clear()
        second = build_parser().parse("map a anon size 4K")
        assert first == second
        assert list((tmp_path / "faultlang").glob("grammar-*.lalr"))
    finally:
        grammar.build_parser.cache_clear()


@pytest.mark.parametrize("text, present, absent", [
    ("", {"map", "read", "write", "expect", "NEWLINE"}, {"size", "NAME"}),
    ("map ", {"NAME"}, {"map"}),
    ("map a ", {"anon", "file", "shmem", "hugetlb", "device"}, {"NAME"}),
    ("map a anon ", {"size", "at", "PROT", "private", "shared", "populate", "hugepage"},
     {"NEWLINE"}),
    ("map a anon size 4K ", {"at", "NEWLINE", "random"}, {"size"}),
    ("expect ", {"minflt", "delta", "outcome", "path", "state", "value", "NAME"}, set()),
    ("expect minflt ", {"==", "!=", "<", "<=", ">", ">="}, set()),
    ("set kernel ", {"NUMBER", "VERSION", "NAME"}, set()),
    ("read heap", {"[", "+"}, set()),
    ("wirte ", set(), {"map"}),
])
def test_expected_tokens_for_completion(text: str, present: set, absent: set) -> None:
    tokens = expected_tokens(text)
    assert present <= tokens
    assert not absent & tokens


@pytest.mark.parametrize("text", [
    "map a anon size", "map a anon", "read", "as child:", 'title "unfinished',
    "write heap[0] =", "map a anon \\", "uffd register u[*]", "expect path last",
])
def test_input_that_stops_early_is_incomplete(text: str) -> None:
    assert is_incomplete(text)
    assert is_incomplete(text + "\n")


@pytest.mark.parametrize("text", [
    "", "   \n", "map a anon size 4K", "read a[0]\n", "wirte heap[0]", "read a[0] @",
    "# just a comment", "map a anon sise 4K",
])
def test_complete_or_already_wrong_input_is_not_incomplete(text: str) -> None:
    assert not is_incomplete(text)


def test_token_text_spells_terminals_as_typed() -> None:
    assert token_text("MAP") == "map"
    assert token_text("$END") == token_text("_NL") == "NEWLINE"
    assert token_text("NAME") == "NAME"


def _rule_words(rule: str) -> set[str]:
    literals = {t.name: t.pattern.value for t in build_parser().terminals
                if t.pattern.type == "str"}
    return {literals[symbol.name] for r in build_parser().rules if r.origin.name == rule
            for symbol in r.expansion if symbol.name in literals}


@pytest.mark.parametrize("rule, words", [
    ("advice", lexical.ADVICE), ("map_flag", lexical.MAP_FLAGS), ("fs_type", lexical.FS_TYPES),
    ("trace_format", lexical.TRACE_FORMATS), ("uffd_mode", lexical.UFFD_MODES),
    ("uffd_action", lexical.UFFD_ACTIONS), ("uffd_flag", lexical.UFFD_FLAGS),
    ("counter", lexical.COUNTERS),
    ("cmp_op", lexical.CMP_OPS), ("eq_op", lexical.EQ_OPS), ("outcome", lexical.OUTCOMES),
    ("page_state", lexical.PAGE_STATES),
])
def test_word_lists_match_the_grammar(rule: str, words: tuple) -> None:
    assert _rule_words(rule) == set(words)


def test_show_views_and_statement_keywords_match_the_grammar() -> None:
    views = _rule_words("show_view") | {"pagetable", "path", "pagecache"}
    assert views == set(lexical.SHOW_VIEWS)
    starts = {w for w in expected_tokens("") if w != "NEWLINE"}
    assert starts == set(lexical.STATEMENT_KEYWORDS)
