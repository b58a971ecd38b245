"""The examples in docs/language.md parse, and whole scenarios among them run.

A code block is an example when it is tagged `fault` (or untagged) and is not a
synopsis (UPPER-CASE placeholders such as SIZE or TARGET, `a | b` alternatives) or an
error transcript (`file:line:col: error`). A `yaml` block that is a whole document
(top-level keys) must parse too. An example that also passes `check` is a whole
scenario and must run with every expect holding.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from faultlang.course.golden import lang_function

# Only the parser at import time: importing the checker or the engine during
# collection would bind faultlang.lang.checker to its module for other test files.
parse_text = lang_function("parse_text")
parse_yaml = lang_function("parse_yaml")
DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^( *)```(\w*)\n(.*?)^ *```", re.S | re.M)
PLACEHOLDER = re.compile(r"\b(?!SIG|SEGV_|BUS_|VM_)[A-Z][A-Z_]{2,}\b|\s\|\s|\.\.\.")
TRANSCRIPT = re.compile(r"^\S+:\d+:\d+: error", re.M)


def examples(name: str) -> list[tuple[int, str, str]]:
    text = (DOCS / name).read_text()
    found = []
    for m in BLOCK.finditer(text):
        indent, lang, body = m.groups()
        body = re.sub(rf"(?m)^{indent}", "", body)
        line = text.count("\n", 0, m.start()) + 1
        if lang in ("", "fault") and (lang == "fault" or not (PLACEHOLDER.search(body)
                                                              or TRANSCRIPT.search(body))):
            found.append((line, "fault", body))
        elif lang == "yaml" and re.match(r"^\w+:", body):
            found.append((line, "yaml", body))
    return found


CASES = [(doc, *ex) for doc in ("language.md", "tutorial.md") for ex in examples(doc)]


def test_the_language_reference_has_examples() -> None:
    assert len(examples("language.md")) >= 5


@pytest.mark.parametrize("doc,line,kind,body", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_doc_example_parses_and_runs_when_whole(doc: str, line: int, kind: str, body: str) -> None:
    from faultlang.runtime.runner import run_scenario
    from faultlang.runtime.support import check_supported
    check_all = lang_function("check_all")
    parse = parse_yaml if kind == "yaml" else parse_text
    scenario = parse(body, f"{doc}:{line}")
    if check_all(scenario) or check_supported(scenario) or not scenario.statements:
        return      # a fragment: it refers to names an earlier example declared
    report = run_scenario(scenario)
    failed = [e.text for e in report.expects if not e.ok]
    assert report.error is None and not failed, (report.error, failed)
