"""Lark parse tree -> faultlang.lang.ast, with a Span on every node.

One method per grammar rule or named alternative, in grammar order, called with the
node's meta and its already converted children (a plain walk rather than a Lark
Transformer: defining one costs more import time than the whole walk). Malformed literals
(a number like `64Q`, a clause given twice, an unknown counter) are reported here as
ScenarioSyntaxError at the token that is wrong.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Union

from lark import Token, Tree
from lark.tree import Meta

from faultlang.errors import ScenarioSyntaxError
from faultlang.lang import ast
from faultlang.lang.lexical import (
    COUNTERS,
    LexicalError,
    normalise_prot,
    one_of,
    parse_number,
    suggestion,
    unquote,
)

__all__ = ["ToAst", "span_of_meta", "span_of_token"]


def span_of_meta(meta: Meta) -> ast.Span:
    if getattr(meta, "empty", True):
        return ast.NO_SPAN
    return ast.Span(meta.line, meta.column, meta.end_line, meta.end_column)


def span_of_token(token: Token) -> ast.Span:
    line, column = token.line or 0, token.column or 0
    return ast.Span(line, column, token.end_line or line, token.end_column or column + 1)


class _Clause(NamedTuple):
    """One `key value` clause of a file or map declaration, with where it was written."""

    key: str
    value: Any
    span: ast.Span


def _duplicate(clause: _Clause, what: str) -> ScenarioSyntaxError:
    return ScenarioSyntaxError(f"{what} is given twice in one declaration",
                               "give each clause once", clause.span)


def _lexical(err: LexicalError, token: Token) -> ScenarioSyntaxError:
    return ScenarioSyntaxError(err.message, err.hint, span_of_token(token))


def _counter(name: Union[str, Token]) -> tuple[Optional[str], str]:
    """`minflt` -> (None, "minflt"); `child.minflt` -> ("child", "minflt")."""
    if not isinstance(name, Token):
        return None, name
    process, _, counter = name.rpartition(".")
    if counter in COUNTERS and process:
        return process, counter
    hint = suggestion(counter, COUNTERS,
                      f"counters are {one_of(COUNTERS)}; another process's is NAME.minflt")
    raise ScenarioSyntaxError(f"unknown counter '{name}'", hint, span_of_token(name))


def _number(token: Token) -> int:
    try:
        return parse_number(token)
    except LexicalError as err:
        raise _lexical(err, token) from None


def _prot(token: Token) -> str:
    try:
        return normalise_prot(str(token))
    except LexicalError as err:
        raise _lexical(err, token) from None


_TOKENS: dict[str, Callable[[Token], Any]] = {"NUMBER": _number, "STRING": unquote,
                                              "PROT": _prot}


class ToAst:
    """Builds ast.Scenario statements; call `transform(tree)` on a `start` tree."""

    def transform(self, tree: Tree) -> tuple[ast.Statement, ...]:
        return self._walk(tree)

    def _walk(self, node: Union[Tree, Token, None]) -> Any:
        if node is None:  # an absent [optional] part (maybe_placeholders)
            return None
        if isinstance(node, Token):
            convert = _TOKENS.get(node.type)
            return convert(node) if convert is not None else node
        children = [self._walk(child) for child in node.children]
        return getattr(self, node.data)(node.meta, children)

    # --- scenario and word rules -----------------------------------------------

    def start(self, meta: Meta, children: list) -> tuple[ast.Statement, ...]:
        return tuple(children)

    def _word(self, meta: Meta, children: list) -> str:
        return str(children[0])

    fs_type = map_flag = advice = trace_format = uffd_mode = uffd_action = uffd_flag = _word
    show_view = counter = cmp_op = eq_op = outcome = page_state = on_off = _word
    file_name = _word

    # --- set-up ------------------------------------------------------------------

    def title(self, meta: Meta, c: list) -> ast.Title:
        return ast.Title(c[0], span=span_of_meta(meta))

    def set_stmt(self, meta: Meta, c: list) -> ast.Set:
        return ast.Set(str(c[0]), c[1], span=span_of_meta(meta))

    def set_number(self, meta: Meta, c: list) -> int:
        return c[0]

    def set_version(self, meta: Meta, c: list) -> str:
        return str(c[0])

    set_word = set_version

    def file_decl(self, meta: Meta, c: list) -> ast.FileDecl:
        name, size = c[0], next(x for x in c[1:] if isinstance(x, int))
        fields: dict[str, Any] = {}
        for clause in (x for x in c[1:] if isinstance(x, _Clause)):
            group = "cached" if clause.key in ("cached_all", "cached_pages", "uncached") \
                else clause.key
            if group in fields:
                raise _duplicate(clause, "the caching clause" if group == "cached" else
                                 f"'{clause.key}'")
            fields[group] = clause
        kwargs: dict[str, Any] = {}
        if "on" in fields:
            kwargs["fs"], kwargs["dax"] = fields["on"].value
        if "cached" in fields and fields["cached"].key != "uncached":
            kwargs[fields["cached"].key] = fields["cached"].value
        if "folio" in fields:
            kwargs["folio"] = fields["folio"].value
        uncached = "cached" in fields and fields["cached"].key == "uncached"
        written = (("uncached",) if uncached else ()) + (("folio",) if "folio" in fields else ())
        return ast.FileDecl(name, size, **kwargs, written=written, span=span_of_meta(meta))

    def memfd_decl(self, meta: Meta, c: list) -> ast.FileDecl:
        return ast.FileDecl(c[0], c[1], fs="tmpfs", memfd=True, span=span_of_meta(meta))

    def on_clause(self, meta: Meta, c: list) -> _Clause:
        return _Clause("on", (c[0], c[1] is not None), span_of_meta(meta))

    def cached_all(self, meta: Meta, c: list) -> _Clause:
        return _Clause("cached_all", True, span_of_meta(meta))

    def cached_first(self, meta: Meta, c: list) -> _Clause:
        pages = ((0, c[0]),) if c[0] > 0 else ()
        return _Clause("cached_pages", pages, span_of_meta(meta))

    def cached_list(self, meta: Meta, c: list) -> _Clause:
        return _Clause("cached_pages", tuple(c), span_of_meta(meta))

    def uncached(self, meta: Meta, c: list) -> _Clause:
        return _Clause("uncached", False, span_of_meta(meta))

    def folio_clause(self, meta: Meta, c: list) -> _Clause:
        return _Clause("folio", c[0], span_of_meta(meta))

    def span_range(self, meta: Meta, c: list) -> tuple[int, int]:
        return (c[0], c[1])

    def span_page(self, meta: Meta, c: list) -> tuple[int, int]:
        return (c[0], c[0] + 1)

    def process_decl(self, meta: Meta, c: list) -> ast.ProcessDecl:
        node = c[1] if c[1] is not None else 0
        return ast.ProcessDecl(str(c[0]), node, span=span_of_meta(meta))

    def fork_from(self, meta: Meta, c: list) -> ast.Fork:
        return ast.Fork(str(c[1]), str(c[0]), span=span_of_meta(meta))

    def fork_current(self, meta: Meta, c: list) -> ast.Fork:
        return ast.Fork(str(c[0]), span=span_of_meta(meta))

    def exit_stmt(self, meta: Meta, c: list) -> ast.Exit:
        return ast.Exit(str(c[0]), span=span_of_meta(meta))

    def switch_stmt(self, meta: Meta, c: list) -> ast.Switch:
        return ast.Switch(str(c[0]), span=span_of_meta(meta))

    def as_stmt(self, meta: Meta, c: list) -> ast.As:
        return ast.As(str(c[0]), c[1], span=span_of_meta(meta))

    # --- mappings ----------------------------------------------------------------

    def map_stmt(self, meta: Meta, c: list) -> ast.Map:
        name, (kind, file), size = str(c[0]), c[1], next(x for x in c[2:] if isinstance(x, int))
        fields: dict[str, Any] = {"file": file}
        options: list[str] = []
        for clause in (x for x in c[2:] if isinstance(x, _Clause)):
            if clause.key == "option":
                if clause.value in options:
                    raise _duplicate(clause, f"'{clause.value}'")
                options.append(clause.value)
                continue
            if clause.key in fields:
                what = "'private' or 'shared'" if clause.key == "shared" else f"'{clause.key}'"
                raise _duplicate(clause, what)
            fields[clause.key] = clause.value
        return ast.Map(name, kind, size, options=tuple(options), span=span_of_meta(meta),
                       **fields)

    def kind_anon(self, meta: Meta, c: list) -> tuple[str, None]:
        return ("anon", None)

    def kind_shmem(self, meta: Meta, c: list) -> tuple[str, None]:
        return ("shmem", None)

    def kind_hugetlb(self, meta: Meta, c: list) -> tuple[str, None]:
        return ("hugetlb", None)

    def kind_device(self, meta: Meta, c: list) -> tuple[str, None]:
        return ("device", None)

    def kind_file(self, meta: Meta, c: list) -> tuple[str, str]:
        return ("file", c[0])

    def at_clause(self, meta: Meta, c: list) -> _Clause:
        return _Clause("at", c[0], span_of_meta(meta))

    def offset_clause(self, meta: Meta, c: list) -> _Clause:
        return _Clause("offset", c[0], span_of_meta(meta))

    def mapped_clause(self, meta: Meta, c: list) -> _Clause:
        return _Clause("mapped", c[0], span_of_meta(meta))

    def prot_clause(self, meta: Meta, c: list) -> _Clause:
        return _Clause("prot", c[0], span_of_meta(meta))

    def private_clause(self, meta: Meta, c: list) -> _Clause:
        return _Clause("shared", False, span_of_meta(meta))

    def shared_clause(self, meta: Meta, c: list) -> _Clause:
        return _Clause("shared", True, span_of_meta(meta))

    def option_clause(self, meta: Meta, c: list) -> _Clause:
        return _Clause("option", c[0], span_of_meta(meta))

    def munmap(self, meta: Meta, c: list) -> ast.Munmap:
        return ast.Munmap(c[0], span=span_of_meta(meta))

    def mprotect(self, meta: Meta, c: list) -> ast.Mprotect:
        return ast.Mprotect(c[0], c[1], span=span_of_meta(meta))

    def madvise(self, meta: Meta, c: list) -> ast.Madvise:
        return ast.Madvise(c[0], c[1], span=span_of_meta(meta))

    def mlock(self, meta: Meta, c: list) -> ast.Mlock:
        return ast.Mlock(c[0], span=span_of_meta(meta))

    def munlock(self, meta: Meta, c: list) -> ast.Munlock:
        return ast.Munlock(c[0], span=span_of_meta(meta))

    def msync(self, meta: Meta, c: list) -> ast.Msync:
        return ast.Msync(c[0], span=span_of_meta(meta))

    def truncate(self, meta: Meta, c: list) -> ast.Truncate:
        return ast.Truncate(c[0], c[1], span=span_of_meta(meta))

    # --- targets -----------------------------------------------------------------

    def page_index(self, meta: Meta, c: list) -> ast.PageIndex:
        return ast.PageIndex(str(c[0]), c[1], span=span_of_meta(meta))

    def page_range(self, meta: Meta, c: list) -> ast.PageRange:
        name, start, stop, _, step, reverse = c
        return ast.PageRange(str(name), start, stop, 1 if step is None else step,
                             reverse is not None, span=span_of_meta(meta))

    def page_all(self, meta: Meta, c: list) -> ast.PageRange:
        return ast.PageRange(str(c[0]), reverse=c[1] is not None, span=span_of_meta(meta))

    def byte_offset(self, meta: Meta, c: list) -> ast.ByteOffset:
        return ast.ByteOffset(str(c[0]), c[1], span=span_of_meta(meta))

    def absolute(self, meta: Meta, c: list) -> ast.Absolute:
        return ast.Absolute(c[0], span=span_of_meta(meta))

    # --- accesses, pressure --------------------------------------------------------

    def _access(self, op: str, meta: Meta, c: list) -> ast.Access:
        value = c[1] if len(c) > 1 else None
        return ast.Access(op, c[0], value, span=span_of_meta(meta))

    def read(self, meta: Meta, c: list) -> ast.Access:
        return self._access("read", meta, c)

    def write(self, meta: Meta, c: list) -> ast.Access:
        return self._access("write", meta, c)

    def exec(self, meta: Meta, c: list) -> ast.Access:
        return self._access("exec", meta, c)

    def kread(self, meta: Meta, c: list) -> ast.Access:
        return self._access("kread", meta, c)

    def kwrite(self, meta: Meta, c: list) -> ast.Access:
        return self._access("kwrite", meta, c)

    def trace(self, meta: Meta, c: list) -> ast.Trace:
        return ast.Trace(c[0], c[1], span=span_of_meta(meta))

    def swapout(self, meta: Meta, c: list) -> ast.Swapout:
        return ast.Swapout(c[0], span=span_of_meta(meta))

    def reclaim(self, meta: Meta, c: list) -> ast.Reclaim:
        return ast.Reclaim(c[0], span=span_of_meta(meta))

    def drop_caches(self, meta: Meta, c: list) -> ast.DropCaches:
        return ast.DropCaches(span=span_of_meta(meta))

    def numa_scan(self, meta: Meta, c: list) -> ast.NumaScan:
        return ast.NumaScan(c[0], span=span_of_meta(meta))

    def migrate(self, meta: Meta, c: list) -> ast.Migrate:
        return ast.Migrate(c[0], c[1], c[2] is not None, span=span_of_meta(meta))

    def migrate_release(self, meta: Meta, c: list) -> ast.MigrateRelease:
        return ast.MigrateRelease(span=span_of_meta(meta))

    # --- userfaultfd -----------------------------------------------------------------

    def uffd_register(self, meta: Meta, c: list) -> ast.UffdRegister:
        return ast.UffdRegister(c[0], c[1], c[2] or (), span=span_of_meta(meta))

    def uffd_modes(self, meta: Meta, c: list) -> tuple[str, ...]:
        return tuple(c)

    def uffd_features(self, meta: Meta, c: list) -> tuple[str, ...]:
        return tuple(str(x) for x in c)

    def uffd_unregister(self, meta: Meta, c: list) -> ast.UffdUnregister:
        return ast.UffdUnregister(c[0], span=span_of_meta(meta))

    def uffd_handle(self, meta: Meta, c: list) -> ast.UffdHandle:
        return ast.UffdHandle(c[0], c[1], c[2], span=span_of_meta(meta))

    def uffd_handle_manually(self, meta: Meta, c: list) -> ast.UffdHandle:
        return ast.UffdHandle(c[0], "manual", span=span_of_meta(meta))

    def uffd_flags(self, meta: Meta, c: list) -> tuple[str, ...]:
        return tuple(c)

    def uffd_copy(self, meta: Meta, c: list) -> ast.UffdCopy:
        return ast.UffdCopy(c[0], c[1], c[2], span=span_of_meta(meta))

    def uffd_zeropage(self, meta: Meta, c: list) -> ast.UffdZeropage:
        return ast.UffdZeropage(c[0], c[1], span=span_of_meta(meta))

    def uffd_continue(self, meta: Meta, c: list) -> ast.UffdContinue:
        return ast.UffdContinue(c[0], c[1], span=span_of_meta(meta))

    def uffd_writeprotect(self, meta: Meta, c: list) -> ast.UffdWriteprotect:
        return ast.UffdWriteprotect(c[0], c[1] == "on", c[2], span=span_of_meta(meta))

    def uffd_move(self, meta: Meta, c: list) -> ast.UffdMove:
        return ast.UffdMove(c[0], c[1], c[2], span=span_of_meta(meta))

    def uffd_poison(self, meta: Meta, c: list) -> ast.UffdPoison:
        return ast.UffdPoison(c[0], c[1], span=span_of_meta(meta))

    def uffd_wake(self, meta: Meta, c: list) -> ast.UffdWake:
        return ast.UffdWake(c[0], span=span_of_meta(meta))

    # --- observing and checking ---------------------------------------------------------

    def show(self, meta: Meta, c: list) -> ast.Show:
        return ast.Show(c[0], span=span_of_meta(meta))

    def show_pagetable(self, meta: Meta, c: list) -> ast.Show:
        return ast.Show("pagetable", c[0], span=span_of_meta(meta))

    def show_path(self, meta: Meta, c: list) -> ast.Show:
        arg = "last" if c[0] == "last" else c[0]
        return ast.Show("path", arg, span=span_of_meta(meta))

    def show_pagecache(self, meta: Meta, c: list) -> ast.Show:
        return ast.Show("pagecache", c[0], span=span_of_meta(meta))

    def step_number(self, meta: Meta, c: list) -> int:
        return c[0]

    def step_last(self, meta: Meta, c: list) -> str:
        return "last"

    def expect_counter(self, meta: Meta, c: list) -> ast.ExpectCounter:
        process, counter = _counter(c[0])
        return ast.ExpectCounter(counter, c[1], c[2], process, span=span_of_meta(meta))

    def expect_delta(self, meta: Meta, c: list) -> ast.ExpectCounter:
        process, counter = _counter(c[0])
        return ast.ExpectCounter(counter, c[1], c[2], process, delta=True,
                                 span=span_of_meta(meta))

    def expect_outcome(self, meta: Meta, c: list) -> ast.ExpectOutcome:
        step = None if c[0] in (None, "last") else c[0]
        return ast.ExpectOutcome(c[1], c[2], step, span=span_of_meta(meta))

    def expect_path(self, meta: Meta, c: list) -> ast.ExpectPath:
        step = None if c[0] in (None, "last") else c[0]
        return ast.ExpectPath(str(c[1]), step, span=span_of_meta(meta))

    def expect_state(self, meta: Meta, c: list) -> ast.ExpectState:
        return ast.ExpectState(c[0], c[1], c[2], span=span_of_meta(meta))

    def expect_value(self, meta: Meta, c: list) -> ast.ExpectValue:
        return ast.ExpectValue(c[0], c[1], c[2], span=span_of_meta(meta))
