"""FaultLexer: highlighting for .fault text, in the REPL and in documentation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygments.token import (  # type: ignore[import-untyped]
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Token,
)

from faultlang.repl.lexer import FaultLexer
from faultlang.repl.style import TOKEN_STYLES, faultlang_style

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted([*ROOT.glob("scenarios/**/*.fault"), *ROOT.glob("grammar/examples/ok/*")])


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in FaultLexer().get_tokens(text) if v.strip()]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_valid_scenarios_highlight_without_error_tokens(path: Path) -> None:
    bad = [v for t, v in FaultLexer().get_tokens(path.read_text()) if t in Error]
    assert bad == []


def test_the_corpus_is_not_empty() -> None:
    assert len(CORPUS) > 10


def test_a_word_before_a_bracket_is_a_mapping_even_when_it_is_a_keyword() -> None:
    assert tokens("read read[0]")[:2] == [(Keyword, "read"), (Name.Variable, "read")]


def test_statements_clauses_kinds_and_numbers() -> None:
    assert tokens("map heap anon size 64K r-x") == [
        (Keyword, "map"), (Name, "heap"), (Name.Builtin, "anon"), (Keyword, "size"),
        (Number.Integer, "64K"), (Token.Literal, "r-x")]


def test_kernel_functions_settings_signals_and_operators() -> None:
    assert (Name.Function, "do_wp_page") in tokens("expect path last contains do_wp_page")
    assert (Name.Attribute, "thp") in tokens("set thp never")
    assert (Name.Exception, "SIGSEGV") in tokens("expect outcome last == SIGSEGV")
    assert (Operator, "->") in tokens("fork main->child")
    assert (Number.Hex, "0x7f0000001000") in tokens("read 0x7f0000001000")


def test_meta_commands_and_comments() -> None:
    assert tokens(":explain do_wp_page")[0] == (Keyword.Pseudo, ":explain")
    assert tokens("# a note")[0][0] in Token.Comment


def test_an_unclosed_string_and_a_stray_character_are_errors() -> None:
    assert any(t in Error for t, _ in tokens('title "open'))
    assert any(t in Error for t, _ in tokens("read @"))


def test_it_describes_itself_for_pygments_plugin_discovery() -> None:
    assert FaultLexer.name == "faultlang"
    assert "fault" in FaultLexer.aliases and "*.fault" in FaultLexer.filenames


def test_the_prompt_style_colours_every_token_kind_the_lexer_makes() -> None:
    made = {t for path in CORPUS for t, _ in FaultLexer().get_tokens(path.read_text())}
    styled = set(TOKEN_STYLES)
    unstyled = {t for t in made if not any(t in parent for parent in styled)}
    assert unstyled <= {Token.Text, Token.Text.Whitespace, Name, Token.Punctuation}
    assert faultlang_style().get_attrs_for_style_str("class:pygments.keyword").bold
