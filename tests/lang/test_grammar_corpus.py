"""The accept and reject corpora of grammar/examples (Lark's "collect input samples").

ok/*.fault must parse and pass the static checks; bad/*.fault must fail with the message
named in its `# error: ...` header, rendered as file:line:col, source line, caret, hint.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from faultlang.errors import FaultlangError
from faultlang.lang import check, parse_path

EXAMPLES = Path(__file__).resolve().parents[2] / "grammar" / "examples"

OK = sorted((EXAMPLES / "ok").glob("*.fault"))
BAD = sorted((EXAMPLES / "bad").glob("*.fault"))


def test_the_corpora_are_large_enough() -> None:
    assert len(OK) >= 40
    assert len(BAD) >= 60


@pytest.mark.parametrize("path", OK, ids=[p.stem for p in OK])
def test_accept_corpus_parses_and_checks(path: Path) -> None:
    scenario = parse_path(path)
    check(scenario)
    assert scenario.source_name == str(path)


def _expected_error(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# error: (.+)", first)
    assert match, f"{path.name} needs a '# error: <message>' header"
    return match.group(1)


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_reject_corpus_fails_with_its_labelled_message(path: Path) -> None:
    wanted = _expected_error(path)
    with pytest.raises(FaultlangError) as caught:
        check(parse_path(path))
    rendered = caught.value.render()
    assert wanted in rendered
    lines = rendered.splitlines()
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: error: ", lines[0]), rendered
    span = caught.value.span
    source_line = path.read_text(encoding="utf-8").splitlines()[span.line - 1]
    if source_line.strip():
        assert lines[1] == f"  {source_line}"
        assert re.fullmatch(r"  \s*\^+", lines[2]), rendered
        assert lines[2].index("^") == span.column + 1
    assert lines[-1].startswith("  hint: ")
    assert "Traceback" not in rendered and "__ANON" not in rendered and "$END" not in rendered


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_reject_corpus_never_names_lark_terminals(path: Path) -> None:
    with pytest.raises(FaultlangError) as caught:
        check(parse_path(path))
    message = caught.value.message
    internal = re.compile(r"\b(NAME|NUMBER|STRING|VERSION|PROT|_NL|LSQB|RSQB|__ANON_\d+)\b")
    assert not internal.search(message), message
