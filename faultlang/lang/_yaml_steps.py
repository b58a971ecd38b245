"""The structured YAML forms of `expect` and `uffd` steps (see yaml_syntax.py).

Both pick one subject key (`minflt`, `outcome`, `state`...; `register`, `copy`...) and
accept only the keys that go with it. A comparison value is a plain value (meaning
`==`) or a string that starts with an operator: `minflt: "<= 512"`, `outcome: "!= minor"`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from yaml.nodes import Node

from faultlang.lang import ast
from faultlang.lang._yaml_nodes import Fields, YamlSource, node_span
from faultlang.lang.lexical import (
    CMP_OPS,
    COUNTERS,
    EQ_OPS,
    UFFD_ACTIONS,
    UFFD_MODES,
    LexicalError,
    one_of,
    parse_number,
)

if TYPE_CHECKING:
    from faultlang.lang.yaml_syntax import _Lowering

__all__ = ["EXPECT_KEYS", "UFFD_KEYS", "lower_expect", "lower_uffd"]

_EXPECT_EXTRAS: dict[str, tuple[str, ...]] = {
    "outcome": ("step",), "path": ("step",), "state": ("is", "is_not"),
    "value": ("is", "is_not"), **dict.fromkeys(COUNTERS, ("process", "delta")),
}
EXPECT_KEYS = tuple(_EXPECT_EXTRAS) + ("process", "delta", "step", "is", "is_not")

_UFFD_EXTRAS: dict[str, tuple[str, ...]] = {
    "register": ("modes", "features"), "unregister": (), "handle": ("by", "manually", "value"),
    "copy": ("value", "flags"), "zeropage": ("flags",), "continue": ("flags",),
    "writeprotect": ("on", "flags"), "wake": (), "move": ("to", "flags"), "poison": ("flags",),
}
UFFD_KEYS = tuple(_UFFD_EXTRAS) + ("modes", "features", "by", "manually", "value", "on", "to",
                                   "flags")

_COMPARISON = re.compile(r"\s*(==|!=|<=|>=|<|>)?\s*(.*?)\s*")


def _subject(src: YamlSource, f: Fields, step: Node, extras: dict[str, tuple[str, ...]],
             verb: str, example: str) -> str:
    """The one subject key of an expect or uffd step; refuses keys that do not go with it."""
    subjects = [k for k in f.values if k in extras]
    if not subjects:
        raise src.error(step, f"this {verb} step says nothing to {verb}", f"add e.g. {example}")
    if len(subjects) > 1:
        raise src.error(f.keys[subjects[1]], f"one {verb} step has both '{subjects[0]}' and "
                        f"'{subjects[1]}'", "give each its own step")
    subject = subjects[0]
    allowed = extras[subject]
    for key in f.values:
        if key != subject and key not in allowed:
            fix = f"with {subject}, use {one_of(allowed)}" if allowed else \
                f"{subject} takes no other key"
            raise src.error(f.keys[key], f"'{key}' does not go with '{subject}'", fix)
    return subject


def _comparison(src: YamlSource, node: Node, key: str, ops: tuple[str, ...]) -> tuple[str, str]:
    match = _COMPARISON.fullmatch(src.text(node, key))
    op, rest = (match.group(1) or "==", match.group(2)) if match else ("==", "")
    if op not in ops:
        raise src.error(node, f"'{key}' can only be compared with {one_of(ops)}",
                        f"write e.g. {key}: \"!= VALUE\"")
    if not rest:
        raise src.error(node, f"'{key}' has an operator but no value", f"write e.g. {op} 1")
    return op, rest


def _number(src: YamlSource, node: Node, key: str, text: str) -> int:
    try:
        return parse_number(text)
    except LexicalError as err:
        raise src.error(node, f"'{key}': {err.message}", err.hint) from None


def _expected(src: YamlSource, f: Fields, key: str) -> tuple[str, str, Node]:
    """`is: X` (with an optional operator) or `is_not: X`."""
    if "is_not" in f and "is" in f:
        raise src.error(f.keys["is_not"], "'is' and 'is_not' are both given", "keep one")
    if "is_not" in f:
        return "!=", src.text(f.values["is_not"], "is_not"), f.values["is_not"]
    node = f.require("is")
    op, rest = _comparison(src, node, "is", CMP_OPS)
    return op, rest, node


def lower_expect(lw: "_Lowering", f: Fields, step: Node) -> ast.Statement:
    src, span = lw.src, node_span(step)
    subject = _subject(src, f, step, _EXPECT_EXTRAS, "expect", "minflt: 1")
    node = f.values[subject]
    if subject in COUNTERS:
        op, text = _comparison(src, node, subject, CMP_OPS)
        return ast.ExpectCounter(subject, op, _number(src, node, subject, text),
                                 f.get_optional("process", src.text),
                                 f.get("delta", src.flag, False), span=span)
    step_ref: Optional[int] = f.get_optional("step", lw.step_ref)
    if subject == "outcome":
        op, text = _comparison(src, node, subject, EQ_OPS)
        return ast.ExpectOutcome(op, text, step_ref, span=span)
    if subject == "path":
        return ast.ExpectPath(src.text(node, "path"), step_ref, span=span)
    target = lw.target(node, subject)
    op, text, value_node = _expected(src, f, subject)
    if subject == "state":
        if op not in EQ_OPS:
            raise src.error(value_node, "a state can only be compared with == or !=",
                            "write is: zero or is_not: zero")
        return ast.ExpectState(target, op, text, span=span)
    return ast.ExpectValue(target, op, _number(src, value_node, "is", text), span=span)


def lower_uffd(lw: "_Lowering", f: Fields, step: Node) -> ast.Statement:
    src, span = lw.src, node_span(step)
    subject = _subject(src, f, step, _UFFD_EXTRAS, "uffd", "register: u[*]")
    node = f.values[subject]
    if subject == "handle":
        return _uffd_handle(src, f, node, span)
    target = lw.target(node, subject)
    if subject == "register":
        return ast.UffdRegister(target, f.need("modes", src.words),
                                f.get("features", src.words, ()), span=span)
    flags = f.get("flags", src.words, ())
    if subject == "copy":
        return ast.UffdCopy(target, f.get_optional("value", src.number), flags, span=span)
    if subject == "writeprotect":
        return ast.UffdWriteprotect(target, f.need("on", src.flag), flags, span=span)
    if subject == "unregister":
        return ast.UffdUnregister(target, span=span)
    if subject == "zeropage":
        return ast.UffdZeropage(target, flags, span=span)
    if subject == "continue":
        return ast.UffdContinue(target, flags, span=span)
    if subject == "move":
        return ast.UffdMove(target, f.need("to", lw.target), flags, span=span)
    if subject == "poison":
        return ast.UffdPoison(target, flags, span=span)
    return ast.UffdWake(target, span=span)


def _uffd_handle(src: YamlSource, f: Fields, node: Node, span: ast.Span) -> ast.UffdHandle:
    mode = src.word(node, "handle", UFFD_MODES)
    manual = f.get("manually", src.flag, False)
    if manual == ("by" in f):
        raise src.error(node, "uffd handle needs exactly one of 'by' and 'manually'",
                        "write e.g. {handle: missing, by: copy} or {handle: wp, manually: true}")
    if manual:
        return ast.UffdHandle(mode, "manual", span=span)
    action = f.need("by", lambda n, k: src.word(n, k, UFFD_ACTIONS))
    return ast.UffdHandle(mode, action, f.get_optional("value", src.number), span=span)
