"""The YAML form: twins lower to equal ASTs, errors name the line and the key, and
loading is safe (no tag ever constructs a Python object)."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlang.errors import FaultlangError, ScenarioSyntaxError
from faultlang.lang import ast, check, parse_path, parse_yaml
from faultlang.lang.ast import Span

TWINS = sorted((Path(__file__).resolve().parents[2] / "grammar" / "examples" / "yaml")
               .glob("*.yaml"))


@pytest.mark.parametrize("path", TWINS, ids=[p.stem for p in TWINS])
def test_yaml_twin_lowers_to_the_same_ast_as_its_text_twin(path: Path) -> None:
    from_yaml = parse_path(path)
    from_text = parse_path(path.with_suffix(".fault"))
    assert from_yaml.statements == from_text.statements
    check(from_yaml)


def steps(body: str) -> tuple[ast.Statement, ...]:
    return parse_yaml("steps:\n" + body, "s.yaml").statements


def test_title_set_files_and_processes_come_first_in_that_order() -> None:
    scenario = parse_yaml("steps: ['read 0x1000']\nprocesses: [p]\nfiles: [{memfd: m, size: 4K}]\n"
                          "set: {thp: never}\ntitle: T\n")
    kinds = [type(s).__name__ for s in scenario.statements]
    assert kinds == ["Title", "Set", "FileDecl", "ProcessDecl", "Access"]


@pytest.mark.parametrize("value, expected", [
    ("64M", 64 << 20), ("4096", 4096), ("0x1000", 4096), ("6.18", "6.18"), ("6.10", "6.10"),
    ("off", "off"), ("on", "on"), ("never", "never"), ('"6.12"', "6.12"),
])
def test_set_values_keep_their_written_form(value: str, expected: object) -> None:
    scenario = parse_yaml(f"set: {{key: {value}}}\n")
    assert scenario.statements == (ast.Set("key", expected),)


def test_string_step_spans_point_into_the_yaml_file() -> None:
    statement, = steps('  - "read heap[3]"\n')
    assert statement.span == Span(2, 6, 2, 18)
    assert statement.target.span == Span(2, 11, 2, 18)


def test_verb_with_a_scalar_is_the_text_statement() -> None:
    assert steps("  - madvise: a[*] dontneed\n  - expect: minflt <= 3\n  - fork: a -> b\n") == (
        ast.Madvise(ast.PageRange("a"), "dontneed"), ast.ExpectCounter("minflt", "<=", 3),
        ast.Fork("b", "a"))


def test_value_next_to_a_write_is_its_value() -> None:
    assert steps("  - write: heap[0]\n    value: 5\n") == (
        ast.Access("write", ast.PageIndex("heap", 0), 5),)


def test_target_and_range_are_the_same_key() -> None:
    assert steps("  - madvise: {target: 'a[0]', advice: cold}\n"
                 "  - write: {range: 'a[1]'}\n") == (
        ast.Madvise(ast.PageIndex("a", 0), "cold"), ast.Access("write", ast.PageIndex("a", 1)))


def test_expect_forms() -> None:
    assert steps("  - expect: {process: child, minflt: 1}\n"
                 "  - expect: {delta: true, minflt: 512}\n"
                 "  - expect: {outcome: SIGSEGV}\n"
                 "  - expect: {outcome: minor, step: 3}\n"
                 "  - expect: {path: do_wp_page}\n"
                 "  - expect: {state: 'buf[7]', is: zero}\n"
                 "  - expect: {value: 'a[9]', is: 1}\n") == (
        ast.ExpectCounter("minflt", "==", 1, "child"),
        ast.ExpectCounter("minflt", "==", 512, delta=True),
        ast.ExpectOutcome("==", "SIGSEGV"), ast.ExpectOutcome("==", "minor", 3),
        ast.ExpectPath("do_wp_page"), ast.ExpectState(ast.PageIndex("buf", 7), "==", "zero"),
        ast.ExpectValue(ast.PageIndex("a", 9), "==", 1))


def test_empty_document_is_an_empty_scenario() -> None:
    assert parse_yaml("", "e.yaml").statements == ()
    assert parse_yaml("# nothing\n", "e.yaml").statements == ()


def error(text: str) -> str:
    with pytest.raises(FaultlangError) as caught:
        check(parse_yaml(text, "s.yaml"))
    rendered = caught.value.render()
    assert "Traceback" not in rendered
    return rendered


@pytest.mark.parametrize("text, expected", [
    ("steps:\n  - map: {name: a, kind: anon, size: 4K}\n  - read: a[0]\n\n  - wirte: a[0]\n",
     "s.yaml:5:5: error: unknown step key 'wirte'\n    - wirte: a[0]\n      ^^^^^\n"
     "  hint: did you mean 'write'?"),
    ("titel: x\n", "s.yaml:1:1: error: unknown scenario key 'titel'"),
    ("steps:\n  - map: {name: a, kind: anon, sise: 4K}\n",
     "s.yaml:2:32: error: unknown map key 'sise'"),
    ("steps:\n  - map: {name: a, kind: anno, size: 4K}\n", "did you mean 'anon'?"),
    ("steps:\n  - map: {name: a, kind: anon}\n", "s.yaml:2:5: error: map needs a 'size' key"),
    ("steps:\n  - map: {name: a, kind: anon, size: 64Q}\n",
     "s.yaml:2:38: error: 'size': bad size suffix 'Q' in '64Q'"),
    ("steps:\n  - read: heap[0\n", "s.yaml:2:17: error: the statement ends too early"),
    ("steps:\n  - 'wirte heap[0]'\n", "s.yaml:2:6: error: unknown word 'wirte'"),
    ("steps:\n  - {read: 'a[0]', write: 'a[1]'}\n", "one step has two verbs"),
    ("steps:\n  - expect: {minflt: 1, outcome: minor}\n", "has both 'minflt' and 'outcome'"),
    ("steps:\n  - expect: {process: c, outcome: minor}\n", "'process' does not go with 'outcome'"),
    ("steps:\n  - expect: {outcome: '< minor'}\n", "can only be compared with == or !="),
    ("steps:\n  - write: {target: 'a[0]', valeu: 1}\n", "did you mean 'value'?"),
    ("steps:\n  - map: {name: a, kind: anon, size: 4K, shared: true, private: true}\n",
     "'shared' and 'private' both say how the mapping is shared"),
    ("steps:\n  - uffd: {handle: missing}\n", "needs exactly one of 'by' and 'manually'"),
    ("steps:\n  - map: {name: a, kind: anon, size: 4K}\n  - read: a[4]\n",
     "s.yaml:3:11: error: page 4 is outside 'a', which has 1 pages"),
    ("steps:\n  - read: [a, b]\n", "s.yaml:2:11: error: 'target' takes a single value"),
    ("steps:\n  - drop_caches: [a]\n", "'drop_caches' takes a mapping of keys here"),
    ("steps: {read: a}\n", "'steps' takes a list"),
    ("- a\n- b\n", "a YAML scenario is a mapping of top-level keys"),
    ("steps:\n  - [read, a]\n", "'step' takes a mapping of keys"),
    ("steps:\n  - 'read a[0]\n    read a[1]'\n", "put each statement on a line of its own"),
    ("steps: [a\n", "s.yaml:2:1: error: YAML: expected ',' or ']'"),
    ("steps:\n  - a: 1\n   b: 2\n", "s.yaml:3:4: error: YAML: expected <block end>"),
    ("set: {ram: lots}\n", "ram takes a size, not 'lots'"),
    ("set: {kernel: 6.1}\n", "kernel cannot be '6.1'"),
    ("steps:\n  - as: child\n", "s.yaml:2:5: error: unknown step key"),
    ("steps:\n  - {as: child, set: {ram: 1M}}\n", "'as' runs exactly one statement"),
    ("files:\n  - {name: f, size: 4K, cached: [0..x]}\n", "list pages like [0..4, 8]"),
    ("steps:\n  - \"\"\n", "this step is empty"),
])
def test_yaml_errors_name_the_line_and_the_key(text: str, expected: str) -> None:
    assert expected in error(text)


@pytest.mark.parametrize("tag", [
    "!!python/object:os.system {}", "!!python/object/apply:os.system ['echo hi']",
    "!!python/name:os.system", "!custom x", "!!binary aGk=", "!!set {a: null}",
])
def test_tags_that_would_construct_objects_are_refused(tag: str) -> None:
    with pytest.raises(ScenarioSyntaxError) as caught:
        parse_yaml(f"steps:\n  - {tag}\n", "evil.yaml")
    assert "is not allowed" in caught.value.message
    assert caught.value.span.line == 2


def test_a_self_referencing_alias_is_an_error_not_a_hang() -> None:
    with pytest.raises(FaultlangError):
        parse_yaml("steps: &s\n  - *s\n", "loop.yaml")


def test_yaml_suffixes_are_recognised(tmp_path: Path) -> None:
    for suffix in (".yaml", ".yml"):
        path = tmp_path / f"s{suffix}"
        path.write_text("steps: ['read 0x1000']\n", encoding="utf-8")
        assert parse_path(path).statements == (ast.Access("read", ast.Absolute(0x1000)),)


def test_cached_false_and_folio_are_recorded_as_written() -> None:
    scenario = parse_yaml("files: [{name: f, size: 4M, on: hugetlbfs, cached: false}, "
                          "{name: g, size: 4M, folio: 4K}, {name: h, size: 4M, cached: 0}]\n")
    f, g, h = scenario.statements
    assert (f.written, g.written, h.written) == (("uncached",), ("folio",), ())
    assert f == ast.FileDecl("f", 4 << 20, fs="hugetlbfs")


def test_uffd_ioctl_modes_move_and_poison_match_their_text_forms() -> None:
    from faultlang.lang import parse_text
    text = ("uffd copy u[0] = 5 dontwake wp\nuffd move s[0..2] to d[0..2] allow_src_holes\n"
            "uffd poison u[3] dontwake\nuffd writeprotect u[*] off dontwake\n")
    yaml_text = ("steps:\n  - uffd: {copy: 'u[0]', value: 5, flags: [dontwake, wp]}\n"
                 "  - uffd: {move: 's[0..2]', to: 'd[0..2]', flags: [allow_src_holes]}\n"
                 "  - uffd: {poison: 'u[3]', flags: [dontwake]}\n"
                 "  - uffd: {writeprotect: 'u[*]', on: false, flags: [dontwake]}\n")
    assert list(parse_yaml(yaml_text).statements) == \
        list(parse_text(text).statements)
