"""The meta-command registry: one declaration gives parsing, errors, help and completion."""

from __future__ import annotations

from typing import Callable

import pytest

from faultlang.repl.commands import (
    COMMANDS,
    Arg,
    ArgKind,
    ArgSpec,
    CommandError,
    CommandRegistry,
    Token,
    split_args,
)
from faultlang.repl.session import CommandResult, ReplSession

Type = Callable[[str], str]

ISSUE_COMMANDS = (":help", ":load", ":save", ":reset", ":undo", ":back", ":forward", ":diff",
                  ":explain", ":why", ":trace", ":quit")


def test_every_command_the_issue_names_is_declared() -> None:
    for name in ISSUE_COMMANDS:
        assert COMMANDS.get(name) is not None, name


def test_every_command_has_a_summary_and_long_help() -> None:
    for command in COMMANDS:
        assert command.summary and command.details, command.name
        assert command.name.startswith(":")
        assert all(alias.startswith(":") for alias in command.aliases)


def test_aliases_name_the_same_command() -> None:
    assert COMMANDS.get(":back") is COMMANDS.get(":undo")
    assert COMMANDS.get("undo") is COMMANDS.get(":undo")
    assert COMMANDS.get(":q") is COMMANDS.get(":quit")


def test_a_name_cannot_be_declared_twice() -> None:
    registry = CommandRegistry()
    registry.command(":a", summary="a")(lambda session, args: CommandResult())
    with pytest.raises(ValueError):
        registry.command(":b", aliases=(":a",), summary="b")(
            lambda session, args: CommandResult())


def test_help_lists_every_command_from_the_registry(type_: Type) -> None:
    out = type_(":help")
    for command in COMMANDS:
        assert command.usage() in out and command.summary in out


def test_help_on_a_command_shows_its_usage_aliases_and_docstring(type_: Type) -> None:
    out = type_(":help undo")
    assert out.startswith(":undo [N]\nalso: :back")
    assert "Restore the machine as it was" in out
    assert type_(":help :undo") == out


def test_help_on_statements_targets_and_keys(type_: Type) -> None:
    assert type_(":help madvise").startswith("madvise TARGET ADVICE")
    assert "heap[0..16 step 2]" in type_(":help targets")
    assert "Alt-Enter" in type_(":help keys") and "Ctrl-R" in type_(":help keys")
    assert "did you mean 'undo'?" in type_(":help undp")


def test_words_keep_their_columns() -> None:
    assert split_args(':save  "my file.fault"') == [Token(":save", 1),
                                                    Token('"my file.fault"', 8)]


def test_an_unknown_command_is_pointed_at_with_a_suggestion(session: ReplSession) -> None:
    with pytest.raises(CommandError) as caught:
        COMMANDS.parse(":undp 2")
    text = caught.value.render()
    assert text.splitlines() == ["<repl>:1:1: error: unknown command ':undp'", "  :undp 2",
                                 "  ^^^^^", "  hint: did you mean ':undo'?"]


def test_a_word_argument_must_be_one_of_its_choices(type_: Type) -> None:
    out = type_(":trace maybe")
    assert out.splitlines()[:3] == ["<repl>:1:8: error: :trace takes on or off, not 'maybe'",
                                    "  :trace maybe", "         ^^^^^"]
    assert "did you mean 'vi'?" in type_(":keys vim")


def test_a_number_argument_is_parsed_like_the_language(type_: Type) -> None:
    cmd, args = COMMANDS.parse(":undo 0x2")
    assert cmd.name == ":undo" and args["n"] == 2
    assert "is not a number" in type_(":undo two")


def test_missing_and_extra_arguments_are_errors(type_: Type) -> None:
    missing = type_(":load")
    assert ":load needs FILE" in missing and "write :load FILE" in missing
    extra = type_(":reset now")
    assert ":reset takes no arguments" in extra
    assert extra.splitlines()[2] == "         ^^^"


def test_a_target_argument_takes_the_rest_of_the_line() -> None:
    _, args = COMMANDS.parse(":why heap[0..4 step 2]")
    assert args["target"] == Token("heap[0..4 step 2]", 6)


def test_a_quoted_file_name_keeps_its_spaces() -> None:
    _, args = COMMANDS.parse(':save "my session.fault"')
    assert args["file"] == "my session.fault"


def test_argspec_usage_reads_like_the_help() -> None:
    spec = ArgSpec((Arg("file", ArgKind.FILE), Arg("mode", ArgKind.WORD, optional=True,
                                                    choices=("a", "b"))))
    assert spec.usage() == "FILE [a|b]"


def test_the_repl_guide_documents_every_command() -> None:
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "repl.md").read_text()
    for command in COMMANDS:
        assert f"`{command.usage()}`" in guide or f"`{command.name} " in guide, command.name
        for alias in command.aliases:
            assert f"`{alias}`" in guide, alias
