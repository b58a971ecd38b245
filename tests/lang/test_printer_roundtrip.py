"""parse(print(ast)) == ast, for generated statements of every kind and for real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlang.lang import (
    ast,
    format_scenario,
    format_statement,
    lexical,
    parse_path,
    parse_text,
)

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "grammar" / "examples" / "ok").glob("*.fault")) + \
    sorted((ROOT.parent / "shared" / "acceptance").glob("*.fault"))

names = st.from_regex(r"[A-Za-z_](?:[A-Za-z0-9_.\-]{0,6}[A-Za-z0-9_])?", fullmatch=True)
file_names = names | st.text(st.characters(blacklist_categories=("Cs",),
                                           blacklist_characters="\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
                             max_size=12)
counts = st.integers(min_value=0, max_value=1 << 20)
sizes = st.integers(min_value=0, max_value=1 << 42)
words = st.sampled_from


def page_ranges() -> st.SearchStrategy[ast.PageRange]:
    every = st.builds(ast.PageRange, names, reverse=st.booleans())
    bounded = st.builds(ast.PageRange, names, counts, counts, st.integers(0, 64), st.booleans())
    return every | bounded


targets = st.one_of(
    st.builds(ast.PageIndex, names, counts), page_ranges(),
    st.builds(ast.ByteOffset, names, sizes), st.builds(ast.Absolute, sizes))

cached = st.one_of(
    st.just({}), st.just({"cached_all": True}),
    st.lists(st.tuples(counts, counts), min_size=1, max_size=3).map(
        lambda pages: {"cached_pages": tuple(pages)}))

files = st.builds(
    lambda name, size, fs, dax, cache, folio: ast.FileDecl(name, size, fs, dax, folio=folio,
                                                           **cache),
    file_names, sizes, words(lexical.FS_TYPES), st.booleans(), cached, sizes)

maps = st.builds(
    lambda name, kind, size, file, offset, at, prot, shared, options, mapped: ast.Map(
        name, kind, size, file if kind == "file" else None, offset, at, prot, shared,
        tuple(options), mapped),
    names, words(lexical.MAP_KINDS), sizes, file_names, sizes, st.none() | sizes,
    st.none() | st.from_regex(r"[r-][w-][x-]", fullmatch=True), st.none() | st.booleans(),
    st.lists(words(lexical.MAP_OPTIONS), unique=True, max_size=4), st.none() | sizes)

shows = st.one_of(
    st.builds(ast.Show, words([v for v in lexical.SHOW_VIEWS
                               if v not in ("pagetable", "path", "pagecache")])),
    st.builds(ast.Show, st.just("pagetable"), st.none() | targets),
    st.builds(ast.Show, st.just("path"), st.none() | st.just("last") | counts),
    st.builds(ast.Show, st.just("pagecache"), st.none() | file_names))

expects = st.one_of(
    st.builds(ast.ExpectCounter, words(lexical.COUNTERS), words(lexical.CMP_OPS), counts,
              st.none() | names, st.booleans()),
    st.builds(ast.ExpectOutcome, words(lexical.EQ_OPS), words(lexical.OUTCOMES),
              st.none() | counts),
    st.builds(ast.ExpectPath, names, st.none() | counts),
    st.builds(ast.ExpectState, targets, words(lexical.EQ_OPS), words(lexical.PAGE_STATES)),
    st.builds(ast.ExpectValue, targets, words(lexical.CMP_OPS), counts))

uffd_flags = st.lists(words(lexical.UFFD_FLAGS), max_size=2).map(tuple)

uffds = st.one_of(
    st.builds(ast.UffdRegister, targets,
              st.lists(words(lexical.UFFD_MODES), min_size=1, max_size=3).map(tuple),
              st.lists(names, max_size=3).map(tuple)),
    st.builds(ast.UffdUnregister, targets),
    st.builds(ast.UffdHandle, words(lexical.UFFD_MODES), words(lexical.UFFD_ACTIONS),
              st.none() | counts),
    st.builds(ast.UffdHandle, words(lexical.UFFD_MODES), st.just("manual")),
    st.builds(ast.UffdCopy, targets, st.none() | counts, uffd_flags),
    st.builds(ast.UffdZeropage, targets, uffd_flags), st.builds(ast.UffdContinue, targets, uffd_flags),
    st.builds(ast.UffdWriteprotect, targets, st.booleans(), uffd_flags),
    st.builds(ast.UffdWake, targets), st.builds(ast.UffdMove, targets, targets, uffd_flags),
    st.builds(ast.UffdPoison, targets, uffd_flags))

set_values = st.one_of(counts, words(("never", "madvise", "zram", "off", "6.18", "6.12")))

simple = st.one_of(
    st.builds(ast.Title, file_names), st.builds(ast.Set, names, set_values), files,
    st.builds(lambda n, s: ast.FileDecl(n, s, "tmpfs", memfd=True), file_names, sizes),
    st.builds(ast.ProcessDecl, names, counts), st.builds(ast.Fork, names, st.none() | names),
    st.builds(ast.Exit, names), st.builds(ast.Switch, names), maps,
    st.builds(ast.Munmap, targets), st.builds(ast.Mlock, targets),
    st.builds(ast.Munlock, targets), st.builds(ast.Msync, targets),
    st.builds(ast.Mprotect, targets, st.from_regex(r"[r-][w-][x-]", fullmatch=True)),
    st.builds(ast.Madvise, targets, words(lexical.ADVICE)),
    st.builds(ast.Truncate, file_names, sizes),
    st.builds(ast.Access, words(("read", "exec", "kread")), targets),
    st.builds(ast.Access, words(("write", "kwrite")), targets, st.none() | counts),
    st.builds(ast.Trace, file_names, st.none() | words(lexical.TRACE_FORMATS)),
    st.builds(ast.Swapout, targets), st.builds(ast.Reclaim, counts),
    st.just(ast.DropCaches()), st.builds(ast.NumaScan, targets), uffds, shows, expects)

statements = simple | st.builds(ast.As, names, simple)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(statements)
def test_printed_statement_parses_back_to_itself(statement: ast.Statement) -> None:
    text = format_statement(statement)
    assert "\n" not in text
    assert parse_text(text).statements == (statement,), text


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_printed_scenario_parses_back_to_itself(path: Path) -> None:
    scenario = parse_path(path)
    assert parse_text(format_scenario(scenario)).statements == scenario.statements


@pytest.mark.parametrize("text, canonical", [
    ("map a anon size 65536 rw- private", "map a anon size 64K rw private"),
    ("map a anon populate size 4096 at 4096", "map a anon size 4K at 0x1000 populate"),
    ("mprotect a[*] r--", "mprotect a[*] r"),
    ("file f size 8K cached [0..2]", "file f size 8K cached 2"),
    ("file f size 8K cached [1]", "file f size 8K cached [1]"),
    ("expect outcome == minor", "expect outcome last == minor"),
    ("fork main->child", "fork main -> child"),
    ("set ram 268435456", "set ram 256M"),
    ("set hugepages 1024", "set hugepages 1024"),
    ('file "odd name" size 4K', 'file "odd name" size 4K'),
])
def test_canonical_spelling(text: str, canonical: str) -> None:
    assert format_statement(parse_text(text).statements[0]) == canonical
