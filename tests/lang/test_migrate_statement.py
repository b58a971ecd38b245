"""`migrate TARGET to node N [hold]` and `migrate release`: text, YAML, printer, checker."""

from __future__ import annotations

from faultlang.lang import check, parse
from faultlang.lang.printer import format_statement

TEXT = ("set numa_nodes 2\nmap a anon size 8K\nwrite a[*]\nmigrate a[0] to node 1 hold\n"
        "read a[0]\nmigrate release\nmigrate a[*] to node 0\n")


def test_text_round_trips_through_the_printer() -> None:
    for stmt in parse.parse_text(TEXT, "t.fault").statements:
        assert parse.parse_statement(format_statement(stmt)) == stmt


def test_yaml_twin_lowers_to_the_same_ast() -> None:
    yaml = ("set: {numa_nodes: 2}\nsteps:\n- map: {name: a, kind: anon, size: 8K}\n"
            "- write: 'a[*]'\n- migrate: 'a[0]'\n  node: 1\n  hold: true\n- read: 'a[0]'\n"
            "- migrate: release\n- migrate: {range: 'a[*]', node: 0}\n")
    assert parse.parse_yaml(yaml, "t.yaml").statements == \
        parse.parse_text(TEXT, "t.fault").statements


def _errors(text: str) -> list[str]:
    try:
        check(parse.parse_text(text, "t.fault"))
    except Exception as err:                      # noqa: BLE001 - the checker's report
        return [str(err)]
    return []


def test_checker_refuses_a_node_past_numa_nodes_and_unpaired_release() -> None:
    assert "NUMA node 2 does not exist" in _errors("set numa_nodes 2\nmap a anon size 4K\n"
                                                   "migrate a[0] to node 2\n")[0]
    assert "no migration is held" in _errors("migrate release\n")[0]
    assert _errors(TEXT) == []
