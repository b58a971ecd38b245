"""No input, however broken, produces anything but a FaultlangError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlang.errors import FaultlangError
from faultlang.lang import check_all, parse_statement, parse_text, parse_yaml
from faultlang.lang.grammar import expected_tokens, is_incomplete, keywords

PIECES = sorted(keywords()) + [
    "heap", "a", "child", "0", "4K", "64Q", "0x1000", "0x", "6.18", "1_0", "rw", "r-x", "---",
    '"', '"t"', "#", "\\\n", "\n", "\r\n", "\t", " ", " ", " ", "..", "[", "]", "*", "+", "->",
    "=", "==", ":", ",", "é", "\x00", "\ufeff", "\u2028",
]
fragments = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=25).map("".join)


def only_faultlang_errors(action) -> None:
    try:
        action()
    except FaultlangError as err:
        err.render()


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fragments)
def test_random_text_raises_only_faultlang_errors(text: str) -> None:
    def run() -> None:
        check_all(parse_text(text, "fuzz.fault"))
    only_faultlang_errors(run)
    only_faultlang_errors(lambda: parse_statement(text))
    assert isinstance(expected_tokens(text), set)
    assert isinstance(is_incomplete(text), bool)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_unicode_raises_only_faultlang_errors(text: str) -> None:
    only_faultlang_errors(lambda: check_all(parse_text(text)))


YAML_PIECES = ["steps:", "\n", "  - ", "map: ", "{", "}", "[", "]", ",", ": ", "name: a",
               "kind: anon", "size: 4K", "read: a[0]", "expect: ", "minflt: 1", "!!python/object",
               "&x ", "*x", "'", '"', "as: b", "title: t", "set: ", "files: ", "null", "- ",
               "uffd: ", "register: a[*]", "modes: [missing]", "0x10", "true", "off", "6.18"]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=2), max_size=30).map("".join))
def test_random_yaml_raises_only_faultlang_errors(text: str) -> None:
    only_faultlang_errors(lambda: check_all(parse_yaml(text, "fuzz.yaml")))
