"""parse.py: suffixes, encodings, the REPL's one-statement entry point, acceptance files."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlang.errors import FaultlangError, ScenarioSyntaxError
from faultlang.lang import ast, check, parse_path, parse_statement, parse_text

ACCEPTANCE = sorted((Path(__file__).resolve().parents[3] / "shared" / "acceptance")
                    .glob("*.fault"))


@pytest.mark.skipif(not ACCEPTANCE, reason="shared/acceptance is not beside the checkout")
@pytest.mark.parametrize("path", ACCEPTANCE, ids=[p.stem for p in ACCEPTANCE])
def test_every_acceptance_scenario_parses_and_checks(path: Path) -> None:
    scenario = parse_path(path)
    check(scenario)
    assert scenario.statements and isinstance(scenario.statements[0], ast.Title)


def test_parse_statement_returns_one_statement_or_none() -> None:
    assert parse_statement("read 0x1000") == ast.Access("read", ast.Absolute(0x1000))
    assert parse_statement("   # nothing") is None
    assert parse_statement("") is None


def test_parse_statement_refuses_two_statements() -> None:
    with pytest.raises(ScenarioSyntaxError) as caught:
        parse_statement("read 0x1000\nread 0x2000")
    assert "only one statement" in caught.value.message
    assert caught.value.render().startswith("<repl>:2:1: error:")


def test_unknown_suffix_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scenario.txt"
    path.write_text("read 0x1000\n")
    with pytest.raises(FaultlangError, match="cannot tell the syntax"):
        parse_path(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FaultlangError, match="cannot read the scenario"):
        parse_path(tmp_path / "absent.fault")


def test_non_utf8_bytes_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.fault"
    path.write_bytes(b"map a anon size 4K\ntitle \"caf\xe9\"\n")
    with pytest.raises(ScenarioSyntaxError) as caught:
        parse_path(path)
    rendered = caught.value.render()
    assert "byte 0xe9 is not valid UTF-8" in rendered
    assert f"{path}:2:11: error:" in rendered
    assert "hint: save the scenario as UTF-8 text" in rendered


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.fault"
    path.write_bytes("\ufeffread 0x1000\n".encode())
    assert parse_path(path).statements == (ast.Access("read", ast.Absolute(0x1000)),)
    assert parse_text("\ufeffread 0x1000").statements == parse_path(path).statements


def test_errors_carry_the_source_for_rendering() -> None:
    with pytest.raises(ScenarioSyntaxError) as caught:
        parse_text("map a anon size 4K\nwirte a[0]\n", "lesson.fault")
    err = caught.value
    assert (err.source_name, err.span.line, err.span.column) == ("lesson.fault", 2, 1)
    assert err.render().splitlines() == [
        "lesson.fault:2:1: error: unknown word 'wirte': expected a statement such as map, "
        "read, write or expect or the end of the line",
        "  wirte a[0]",
        "  ^^^^^",
        "  hint: did you mean 'write'?",
    ]
