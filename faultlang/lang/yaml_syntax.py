"""The YAML form of a scenario (spec section 9) -> the same ast as the text form.

Top-level keys, lowered in this order so that a .fault twin written in the same order
gives an equal AST: `title`, `set` (a mapping), `files` (a list), `processes` (a list),
`steps` (a list). A step is either a string, parsed as one text statement, or a mapping
with one verb key:

- `VERB: "rest of the statement"` with no other key is the text statement `VERB rest`
  (`write: heap[0..4]`, `madvise: "a[*] dontneed"`, `expect: "minflt == 1"`);
- otherwise the verb's fields are keys, inside a mapping (`map: {name: a, ...}`) or next
  to a scalar verb (`write: heap[0]` + `value: 5`); `as: NAME` next to a verb runs it
  in process NAME.

The full schema, with examples, is in docs/language.md. Loading is safe: nodes are
composed with the SafeLoader's resolver and any tag beyond plain data is refused.
"""

from __future__ import annotations

from typing import Callable, Optional, Union

from yaml.nodes import MappingNode, Node, ScalarNode

from faultlang.errors import ScenarioSyntaxError
from faultlang.lang import ast
from faultlang.lang._yaml_nodes import (
    Fields,
    YamlSource,
    compose,
    node_span,
    shift_node,
    shift_span,
)
from faultlang.lang._yaml_steps import EXPECT_KEYS, UFFD_KEYS, lower_expect, lower_uffd
from faultlang.lang.lexical import (
    FS_TYPES,
    MAP_KINDS,
    SHOW_VIEWS,
    STATEMENT_KEYWORDS,
    VERSION_RE,
    LexicalError,
    is_name,
    parse_number,
    suggestion,
)

__all__ = ["load_yaml_scenario", "TOP_KEYS", "VERBS"]

TOP_KEYS = ("title", "set", "files", "processes", "steps")
VERBS = tuple(k for k in STATEMENT_KEYWORDS if k != "as")
FILE_KEYS = ("name", "size", "on", "dax", "cached", "folio")
MAP_KEYS = ("name", "kind", "size", "file", "offset", "at", "prot", "shared", "private",
            "sharing", "mapped", "options")
# The key a scalar verb value stands for when other keys sit next to it.
PRIMARY = {"fork": "child", "process": "name", "exit": "name", "switch": "name",
           "memfd": "name", "file": "name", "truncate": "file", "trace": "file",
           "reclaim": "pages", "show": "view", "read": "target", "write": "target",
           "exec": "target", "kread": "target", "kwrite": "target", "munmap": "range",
           "mprotect": "range", "madvise": "range", "mlock": "range", "munlock": "range",
           "msync": "range", "swapout": "range", "numa_scan": "range", "migrate": "range",
           "map": "name"}


def load_yaml_scenario(text: str, source_name: str = "<input>") -> ast.Scenario:
    source = YamlSource(text, source_name)
    root = compose(text, source)
    statements: list[ast.Statement] = []
    if root is not None:
        source.check_tags(root)
        if not isinstance(root, MappingNode):
            raise source.error(root, "a YAML scenario is a mapping of top-level keys",
                               "start with keys such as title:, set:, files: and steps:")
        top = source.mapping(root, "scenario", TOP_KEYS)
        statements = _Lowering(source).document(top)
    return ast.Scenario(tuple(statements), source_name=source_name, source_text=text)


def _pair_span(key: Node, value: Node) -> ast.Span:
    start, end = node_span(key), node_span(value)
    if start.line != end.line:
        return start
    return ast.Span(start.line, start.column, end.end_line, end.end_column)


class _Lowering:
    def __init__(self, source: YamlSource):
        self.src = source

    # --- the document ----------------------------------------------------------------

    def document(self, top: Fields) -> list[ast.Statement]:
        out: list[ast.Statement] = []
        if "title" in top:
            node = top.values["title"]
            out.append(ast.Title(self.src.scalar(node, "title"), span=node_span(node)))
        if "set" in top:
            out.extend(self.settings(top.values["set"]))
        no_items: list[Node] = []
        for item in top.get("files", self.src.items, no_items):
            out.append(self.file(item, "files"))
        for item in top.get("processes", self.src.items, no_items):
            out.append(self.process(item))
        for item in top.get("steps", self.src.items, no_items):
            out.extend(self.step(item))
        return out

    def settings(self, node: Node) -> list[ast.Statement]:
        return [ast.Set(key, self.set_value(value), span=_pair_span(key_node, value))
                for key, key_node, value in self.src.pairs(node, "set")]

    def set_value(self, node: Node) -> Union[int, str]:
        value = self.src.text(node, "set")
        if VERSION_RE.fullmatch(value) or is_name(value):
            return value
        return self.src.number(node, "set")

    def file(self, node: Node, key: str) -> ast.FileDecl:
        if isinstance(node, MappingNode) and any(k == "memfd" for k, _, _ in
                                                 self.src.pairs(node, key)):
            f = self.src.mapping(node, "memfd", ("memfd", "size"))
            return ast.FileDecl(f.need("memfd", self.src.text), f.need("size", self.src.number),
                                fs="tmpfs", memfd=True, span=node_span(node))
        f = self.src.mapping(node, "file", FILE_KEYS)
        return self.file_fields(f, node)

    def file_fields(self, f: Fields, node: Node) -> ast.FileDecl:
        nothing: tuple[bool, tuple[tuple[int, int], ...]] = (False, ())
        cached_all, pages = f.get("cached", self.cached, nothing)
        uncached = f.get("cached", lambda n, k: isinstance(n, ScalarNode) and
                         n.tag.endswith(":bool") and not self.src.flag(n, k), False)
        folio = f.get_optional("folio", self.src.number)
        return ast.FileDecl(
            f.need("name", self.src.text), f.need("size", self.src.number),
            fs=f.get("on", lambda n, k: self.src.word(n, k, FS_TYPES), "ext4"),
            dax=f.get("dax", self.src.flag, False), cached_all=cached_all,
            cached_pages=pages, folio=4096 if folio is None else folio,
            written=(("uncached",) if uncached else ()) + (() if folio is None else ("folio",)),
            span=node_span(node))

    def cached(self, node: Node, key: str) -> tuple[bool, tuple[tuple[int, int], ...]]:
        """`true`, `false`, N (the first N pages), "0..4, 8" or a list of those."""
        if isinstance(node, ScalarNode) and node.tag.endswith(":bool"):
            return self.src.flag(node, key), ()
        if isinstance(node, ScalarNode) and node.tag.endswith(":int"):
            count = self.src.number(node, key)
            return False, ((0, count),) if count else ()
        items = node.value if not isinstance(node, ScalarNode) else None
        spans = self.src.words(node, key) if items is None else \
            tuple(self.src.text(item, key) for item in items)
        return False, tuple(self.page_span(node, text) for text in spans)

    def page_span(self, node: Node, text: str) -> tuple[int, int]:
        start, sep, stop = text.partition("..")
        try:
            first = parse_number(start)
            return (first, parse_number(stop)) if sep else (first, first + 1)
        except LexicalError as err:
            raise self.src.error(node, f"'cached': {err.message}",
                                 "list pages like [0..4, 8]") from None

    def process(self, node: Node) -> ast.ProcessDecl:
        if isinstance(node, ScalarNode):
            return ast.ProcessDecl(self.src.text(node, "processes"), span=node_span(node))
        f = self.src.mapping(node, "process", ("name", "node"))
        return ast.ProcessDecl(f.need("name", self.src.text), f.get("node", self.src.number, 0),
                               span=node_span(node))

    # --- steps -------------------------------------------------------------------------

    def step(self, node: Node) -> list[ast.Statement]:
        if isinstance(node, ScalarNode):
            return [self.text_statement(node, "")]
        pairs = self.src.pairs(node, "step")
        inside = [p for p in pairs if p[0] != "as"]
        if len(inside) == len(pairs):
            return self.verb_step(node, pairs)
        process_node = next(v for k, _, v in pairs if k == "as")
        process = self.src.text(process_node, "as")
        inner = self.verb_step(node, inside)
        if len(inner) != 1 or isinstance(inner[0], (ast.Set, ast.Title)):
            raise self.src.error(node, "'as' runs exactly one statement",
                                 "give one verb next to 'as', e.g. {as: child, read: a[0]}")
        return [ast.As(process, inner[0], span=node_span(node))]

    def verb_step(self, node: Node, pairs: list[tuple[str, Node, Node]]) -> list[ast.Statement]:
        verbs = [p for p in pairs if p[0] in VERBS]
        if not verbs:
            key, key_node = (pairs[0][0], pairs[0][1]) if pairs else ("", node)
            raise self.src.error(key_node, f"unknown step key '{key}'",
                                 suggestion(key, VERBS + ("as",), "a step starts with a verb "
                                            "such as map, read, write or expect"))
        if len(verbs) > 1:
            raise self.src.error(verbs[1][1], f"one step has two verbs, '{verbs[0][0]}' and "
                                 f"'{verbs[1][0]}'", "put each in its own step")
        verb, key_node, value = verbs[0]
        siblings = [p for p in pairs if p is not verbs[0]]
        return self.verb(verb, key_node, value, siblings, node)

    def verb(self, verb: str, key_node: Node, value: Node,
             siblings: list[tuple[str, Node, Node]], step: Node) -> list[ast.Statement]:
        if verb == "title":
            return [ast.Title(self.src.scalar(value, "title"), span=node_span(value))]
        if verb == "set" and isinstance(value, MappingNode):
            return self.settings(value)
        if verb == "drop_caches" and isinstance(value, ScalarNode) and not siblings \
                and value.tag.endswith((":null", ":bool")):
            return [ast.DropCaches(span=node_span(step))]
        if isinstance(value, ScalarNode) and not siblings:
            return [self.text_statement(value, verb)]
        if isinstance(value, MappingNode):
            if siblings:
                raise self.src.error(siblings[0][1], f"'{siblings[0][0]}' belongs inside the "
                                     f"'{verb}' mapping", f"move it into {verb}: {{...}}")
            pairs = self.src.pairs(value, verb)
        elif verb in PRIMARY:
            pairs = [(PRIMARY[verb], key_node, value)] + siblings
        else:
            raise self.src.error(value, f"'{verb}' takes a mapping of keys here",
                                 f"write {verb}: {{...}}")
        build: Callable[[list, Node], ast.Statement] = getattr(self, f"_{verb}")
        return [build(pairs, step)]

    def text_statement(self, node: ScalarNode, verb: str) -> ast.Statement:
        """Parse a scalar as one text statement, `VERB value`, with spans into the YAML."""
        from faultlang.lang.parse import parse_statements

        raw = str(node.value)
        text = f"{verb} {raw}" if verb else raw
        line = node.start_mark.line + 1
        column = node.start_mark.column + 1 + (1 if node.style in ('"', "'") else 0)
        column -= len(verb) + 1 if verb else 0
        flatten = node.style in ("|", ">") or node.end_mark.line != node.start_mark.line
        try:
            statements = parse_statements(text, self.src.source_name)
        except ScenarioSyntaxError as err:
            raise self.src.error_at(shift_span(err.span, line, column, flatten), err.message,
                                    err.hint) from None
        if len(statements) != 1:
            raise self.src.error(node, "a step holds exactly one statement"
                                 if statements else "this step is empty",
                                 "write one statement per step")
        return shift_node(statements[0], line, column, flatten)

    def target(self, node: Node, key: str) -> ast.Target:
        if not isinstance(node, ScalarNode):
            self.src.scalar(node, key)
        statement = self.text_statement(node, "munmap")
        return statement.target  # type: ignore[union-attr]

    def fields(self, pairs: list, step: Node, verb: str, allowed: tuple[str, ...]) -> Fields:
        # `target` and `range` are the same key, so neither spelling is ever wrong.
        aliases = {"range": "target"} if "target" in allowed else \
            {"target": "range"} if "range" in allowed else None
        return Fields(self.src, step, verb, allowed, pairs, aliases)

    # --- structured verbs (one per verb, named _VERB) -------------------------------------

    def _map(self, pairs: list, step: Node) -> ast.Map:
        f = self.fields(pairs, step, "map", MAP_KEYS)
        kind = f.need("kind", lambda n, k: self.src.word(n, k, MAP_KINDS))
        return ast.Map(
            f.need("name", self.src.text), kind, f.need("size", self.src.number),
            file=f.need("file", self.src.text) if kind == "file" else
            f.get_optional("file", self.src.text),
            offset=f.get("offset", self.src.number, 0), at=f.get_optional("at", self.src.number),
            prot=f.get_optional("prot", self.src.prot), shared=self.sharing(f),
            options=f.get("options", self.src.words, ()),
            mapped=f.get_optional("mapped", self.src.number), span=node_span(step))

    def sharing(self, f: Fields) -> Optional[bool]:
        given = [k for k in ("shared", "private", "sharing") if k in f]
        if len(given) > 1:
            raise self.src.error(f.keys[given[1]], f"'{given[0]}' and '{given[1]}' both say "
                                 "how the mapping is shared", "give only one of them")
        if not given:
            return None
        if given[0] == "sharing":
            return f.need("sharing", lambda n, k: self.src.word(n, k, ("shared", "private"))) \
                == "shared"
        flag = f.need(given[0], self.src.flag)
        return flag if given[0] == "shared" else not flag

    def _file(self, pairs: list, step: Node) -> ast.FileDecl:
        return self.file_fields(self.fields(pairs, step, "file", FILE_KEYS), step)

    def _memfd(self, pairs: list, step: Node) -> ast.FileDecl:
        f = self.fields(pairs, step, "memfd", ("name", "size"))
        return ast.FileDecl(f.need("name", self.src.text), f.need("size", self.src.number),
                            fs="tmpfs", memfd=True, span=node_span(step))

    def _process(self, pairs: list, step: Node) -> ast.ProcessDecl:
        f = self.fields(pairs, step, "process", ("name", "node"))
        return ast.ProcessDecl(f.need("name", self.src.text), f.get("node", self.src.number, 0),
                               span=node_span(step))

    def _fork(self, pairs: list, step: Node) -> ast.Fork:
        f = self.fields(pairs, step, "fork", ("child", "parent"))
        return ast.Fork(f.need("child", self.src.text), f.get_optional("parent", self.src.text),
                        span=node_span(step))

    def _exit(self, pairs: list, step: Node) -> ast.Exit:
        return ast.Exit(self.fields(pairs, step, "exit", ("name",)).need("name", self.src.text),
                        span=node_span(step))

    def _switch(self, pairs: list, step: Node) -> ast.Switch:
        f = self.fields(pairs, step, "switch", ("name",))
        return ast.Switch(f.need("name", self.src.text), span=node_span(step))

    def _range_op(self, cls: type, verb: str, pairs: list, step: Node) -> ast.Statement:
        f = self.fields(pairs, step, verb, ("range",))
        return cls(f.need("range", self.target), span=node_span(step))

    def _munmap(self, pairs: list, step: Node) -> ast.Statement:
        return self._range_op(ast.Munmap, "munmap", pairs, step)

    def _mlock(self, pairs: list, step: Node) -> ast.Statement:
        return self._range_op(ast.Mlock, "mlock", pairs, step)

    def _munlock(self, pairs: list, step: Node) -> ast.Statement:
        return self._range_op(ast.Munlock, "munlock", pairs, step)

    def _msync(self, pairs: list, step: Node) -> ast.Statement:
        return self._range_op(ast.Msync, "msync", pairs, step)

    def _swapout(self, pairs: list, step: Node) -> ast.Statement:
        return self._range_op(ast.Swapout, "swapout", pairs, step)

    def _numa_scan(self, pairs: list, step: Node) -> ast.Statement:
        return self._range_op(ast.NumaScan, "numa_scan", pairs, step)

    def _migrate(self, pairs: list, step: Node) -> ast.Migrate:
        # `migrate: release` is a scalar step (parsed as text); this is the keyed form
        f = self.fields(pairs, step, "migrate", ("range", "node", "hold"))
        return ast.Migrate(f.need("range", self.target), f.need("node", self.src.number),
                           f.get("hold", self.src.flag, False), span=node_span(step))

    def _mprotect(self, pairs: list, step: Node) -> ast.Mprotect:
        f = self.fields(pairs, step, "mprotect", ("range", "prot"))
        return ast.Mprotect(f.need("range", self.target), f.need("prot", self.src.prot),
                            span=node_span(step))

    def _madvise(self, pairs: list, step: Node) -> ast.Madvise:
        f = self.fields(pairs, step, "madvise", ("range", "advice"))
        return ast.Madvise(f.need("range", self.target), f.need("advice", self.src.text),
                           span=node_span(step))

    def _truncate(self, pairs: list, step: Node) -> ast.Truncate:
        f = self.fields(pairs, step, "truncate", ("file", "size"))
        return ast.Truncate(f.need("file", self.src.text), f.need("size", self.src.number),
                            span=node_span(step))

    def _access(self, op: str, pairs: list, step: Node) -> ast.Access:
        allowed = ("target", "value") if op in ("write", "kwrite") else ("target",)
        f = self.fields(pairs, step, op, allowed)
        return ast.Access(op, f.need("target", self.target),
                          f.get_optional("value", self.src.number), span=node_span(step))

    def _read(self, pairs: list, step: Node) -> ast.Access:
        return self._access("read", pairs, step)

    def _write(self, pairs: list, step: Node) -> ast.Access:
        return self._access("write", pairs, step)

    def _exec(self, pairs: list, step: Node) -> ast.Access:
        return self._access("exec", pairs, step)

    def _kread(self, pairs: list, step: Node) -> ast.Access:
        return self._access("kread", pairs, step)

    def _kwrite(self, pairs: list, step: Node) -> ast.Access:
        return self._access("kwrite", pairs, step)

    def _trace(self, pairs: list, step: Node) -> ast.Trace:
        f = self.fields(pairs, step, "trace", ("file", "format"))
        return ast.Trace(f.need("file", self.src.text), f.get_optional("format", self.src.text),
                         span=node_span(step))

    def _reclaim(self, pairs: list, step: Node) -> ast.Reclaim:
        f = self.fields(pairs, step, "reclaim", ("pages",))
        return ast.Reclaim(f.need("pages", self.src.number), span=node_span(step))

    def _show(self, pairs: list, step: Node) -> ast.Show:
        f = self.fields(pairs, step, "show", ("view", "target", "step", "file"))
        view = f.need("view", lambda n, k: self.src.word(n, k, SHOW_VIEWS))
        arg: Union[ast.Target, int, str, None] = f.get_optional("target", self.target) \
            or f.get_optional("file", self.src.text)
        if "step" in f:
            step_number = self.step_ref(f.values["step"], "step")
            arg = "last" if step_number is None else step_number
        return ast.Show(view, arg, span=node_span(step))

    def step_ref(self, node: Node, key: str) -> Optional[int]:
        return None if self.src.text(node, key) == "last" else self.src.number(node, key)

    def _uffd(self, pairs: list, step: Node) -> ast.Statement:
        return lower_uffd(self, self.fields(pairs, step, "uffd", UFFD_KEYS), step)

    def _expect(self, pairs: list, step: Node) -> ast.Statement:
        return lower_expect(self, self.fields(pairs, step, "expect", EXPECT_KEYS), step)

