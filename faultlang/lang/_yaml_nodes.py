"""Reading composed YAML nodes (not constructed objects) for faultlang/lang/yaml_syntax.py.

Working on nodes keeps every value's line and column for errors, keeps a scalar's text
as written (`6.10` stays "6.10", `off` stays "off"), and never constructs a Python
object from a tag: any tag outside plain YAML data is refused.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Optional, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from faultlang.errors import ScenarioSyntaxError
from faultlang.lang import ast
from faultlang.lang.lexical import (
    LexicalError,
    normalise_prot,
    one_of,
    parse_number,
    suggestion,
)

__all__ = ["YamlSource", "Fields", "compose", "node_span", "shift_node", "shift_span"]

_TAG = "tag:yaml.org,2002:"
SAFE_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "map", "seq")}
_TRUE = ("true", "yes", "on", "y")
_FALSE = ("false", "no", "off", "n")

T = TypeVar("T")


def node_span(node: Node) -> ast.Span:
    start, end = node.start_mark, node.end_mark
    if end.line != start.line or end.column <= start.column:
        return ast.Span(start.line + 1, start.column + 1, start.line + 1, start.column + 2)
    return ast.Span(start.line + 1, start.column + 1, end.line + 1, end.column + 1)


def shift_span(span: ast.Span, line: int, column: int, flatten: bool) -> ast.Span:
    """Move a span of a one-line text to where that text starts in the YAML file."""
    if span.line == 0:
        return span
    if flatten or span.line != 1 or span.end_line != 1:
        return ast.Span(line, column, line, column + 1)
    return ast.Span(line, column + span.column - 1, line, column + span.end_column - 1)


def shift_node(node: T, line: int, column: int, flatten: bool) -> T:
    """A copy of an AST node (and the nodes inside it) with every span shifted."""
    if not isinstance(node, ast.Node):
        return node
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if f.name == "span":
            changes["span"] = shift_span(value, line, column, flatten)
        elif isinstance(value, ast.Node):
            changes[f.name] = shift_node(value, line, column, flatten)
    return dataclasses.replace(node, **changes)


class YamlSource:
    """The YAML text being read, for errors that point into it."""

    def __init__(self, text: str, source_name: str):
        self.source_text = text
        self.source_name = source_name

    def error(self, node: Optional[Node], message: str, hint: str) -> ScenarioSyntaxError:
        span = node_span(node) if node is not None else ast.NO_SPAN
        return ScenarioSyntaxError(message, hint, span, self.source_name, self.source_text)

    def error_at(self, span: ast.Span, message: str, hint: str) -> ScenarioSyntaxError:
        return ScenarioSyntaxError(message, hint, span, self.source_name, self.source_text)

    def check_tags(self, root: Node) -> None:
        """Refuse `!!python/object` and every other tag that is not plain data."""
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.tag not in SAFE_TAGS:
                raise self.error(node, f"the YAML tag '{node.tag}' is not allowed",
                                 "use plain strings, numbers, lists and mappings (no tags)")
            if isinstance(node, SequenceNode):
                stack.extend(node.value)
            elif isinstance(node, MappingNode):
                for key, value in node.value:
                    stack.extend((key, value))

    # --- scalars -------------------------------------------------------------------

    def scalar(self, node: Node, key: str) -> str:
        if not isinstance(node, ScalarNode):
            raise self.error(node, f"'{key}' takes a single value, not a "
                             f"{'list' if isinstance(node, SequenceNode) else 'mapping'}",
                             f"write e.g. {key}: VALUE")
        return str(node.value)

    def text(self, node: Node, key: str) -> str:
        value = self.scalar(node, key)
        if node.tag == _TAG + "null" or not value.strip():
            raise self.error(node, f"'{key}' is empty", f"give {key} a value")
        return value.strip()

    def number(self, node: Node, key: str) -> int:
        value = self.text(node, key)
        if node.tag in (_TAG + "bool", _TAG + "float"):
            raise self.error(node, f"'{key}' takes a number, not '{value}'",
                             f"write e.g. {key}: 64K")
        try:
            return parse_number(value)
        except LexicalError as err:
            raise self.error(node, f"'{key}': {err.message}", err.hint) from None

    def flag(self, node: Node, key: str) -> bool:
        value = self.scalar(node, key).lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise self.error(node, f"'{key}' is true or false, not '{value}'",
                         f"write {key}: true or {key}: false")

    def word(self, node: Node, key: str, choices: Iterable[str]) -> str:
        value = self.text(node, key)
        allowed = tuple(choices)
        if value not in allowed:
            raise self.error(node, f"'{key}' cannot be '{value}'",
                             suggestion(value, allowed, f"use {one_of(allowed)}"))
        return value

    def prot(self, node: Node, key: str) -> str:
        try:
            return normalise_prot(self.text(node, key))
        except LexicalError as err:
            raise self.error(node, err.message, err.hint) from None

    def words(self, node: Node, key: str) -> tuple[str, ...]:
        """A list of words, or one string of words separated by spaces or commas."""
        if isinstance(node, SequenceNode):
            return tuple(self.text(item, key) for item in node.value)
        if node.tag == _TAG + "null":
            return ()
        return tuple(self.text(node, key).replace(",", " ").split())

    def items(self, node: Node, key: str) -> list[Node]:
        if node.tag == _TAG + "null":
            return []
        if not isinstance(node, SequenceNode):
            raise self.error(node, f"'{key}' takes a list", f"write {key}: followed by '- ' items")
        return list(node.value)

    def pairs(self, node: Node, key: str) -> list[tuple[str, Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.error(node, f"'{key}' takes a mapping of keys",
                             f"write {key}: {{KEY: VALUE, ...}} or indented KEY: VALUE lines")
        return [(self.scalar(k, key), k, v) for k, v in node.value]

    def mapping(self, node: Node, key: str, allowed: Iterable[str],
                aliases: Optional[dict] = None) -> "Fields":
        return Fields(self, node, key, tuple(allowed), self.pairs(node, key), aliases)


class Fields:
    """The keys of one YAML mapping (or of a step's sibling keys), each used at most once;
    unknown keys are refused with a "did you mean"."""

    def __init__(self, source: YamlSource, node: Node, what: str, allowed: tuple[str, ...],
                 pairs: Iterable[tuple[str, Node, Node]], aliases: Optional[dict] = None):
        self.source = source
        self.node = node
        self.what = what
        self.values: dict[str, Node] = {}
        self.keys: dict[str, Node] = {}
        for key, key_node, value in pairs:
            key = (aliases or {}).get(key, key)
            if key not in allowed:
                raise source.error(key_node, f"unknown {what} key '{key}'",
                                   suggestion(key, allowed, f"the keys are {one_of(allowed)}"))
            if key in self.values:
                raise source.error(key_node, f"the key '{key}' is given twice",
                                   "give each key once")
            self.values[key] = value
            self.keys[key] = key_node

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def require(self, key: str) -> Node:
        if key not in self.values:
            raise self.source.error(self.node, f"{self.what} needs a '{key}' key",
                                    f"add {key}: ...")
        return self.values[key]

    def get(self, key: str, read: Callable[[Node, str], T], default: T) -> T:
        return read(self.values[key], key) if key in self.values else default

    def get_optional(self, key: str, read: Callable[[Node, str], T]) -> Optional[T]:
        return read(self.values[key], key) if key in self.values else None

    def need(self, key: str, read: Callable[[Node, str], T]) -> T:
        return read(self.require(key), key)


def compose(text: str, source: YamlSource) -> Optional[Node]:
    """The document's node tree, loaded with the safe loader's resolver only."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        span = ast.Span(mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 2) \
            if mark is not None else ast.NO_SPAN
        problem = (err.problem or err.context or "the YAML is malformed").rstrip(".")
        raise source.error_at(span, f"YAML: {problem}",
                              "check the indentation, colons and quotes here") from None
    except yaml.YAMLError as err:
        raise source.error(None, f"YAML: {err}", "check the YAML syntax") from None

