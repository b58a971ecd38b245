"""cgen: the scenario → C translation, one golden source per statement kind."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from faultlang.lang import ast, parse_text
from faultlang.verify import cgen
from faultlang.verify.cgen import Layout, generate, plan_processes, runtime_source
from faultlang.verify.compare import simulate

# One small scenario per statement kind; each golden file is its generated part.
KINDS = {
    "map_plain": "map a anon size 2M",
    "map_options": (
        "map p anon size 32K rw populate\n"
        "map l anon size 32K locked noreserve\n"
        "map g anon size 64K growsdown\n"
        "map d anon size 64K dontfork wipeonfork\n"
        "map x anon size 16K at 0x600000000000 r-x\n"
        "map s anon size 16K shared\n"),
    "access": (
        "map a anon size 64K\n"
        "read a[0..4]\n"
        "write a[0..4]\n"
        "write a[4..8 step 2] = 7\n"
        "read a[*] reverse\n"
        "exec a[0]\n"
        "kread a+0x1800\n"
        "kwrite a[9] = 3\n"
        "kwrite a[10]\n"
        "write 0x1000\n"),
    "range_calls": (
        "map a anon size 64K\n"
        "mprotect a[0..4] r\n"
        "mprotect a[4..8] ---\n"
        "madvise a[*] dontneed\n"
        "madvise a[8..16] populate_write\n"
        "madvise a[*] pageout\n"
        "mlock a[0..2]\n"
        "munlock a[0..2]\n"
        "msync a[*]\n"
        "munmap a[12..16]\n"),
    "processes": (
        "map a anon size 16K\n"
        "write a[*]\n"
        "fork child\n"
        "as child: write a[0]\n"
        "as child: fork grandchild\n"
        "process other\n"
        "switch other\n"
        "map b anon size 16K\n"
        "fork main -> second\n"
        "exit child\n"),
    "expects": (
        "map a anon size 16K\n"
        "read a[1]\n"
        "expect state a[1] == zero\n"
        "expect value a+0x1004 == 0\n"
        "expect delta minflt == 1\n"
        "expect outcome last == minor\n"
        "expect path last contains do_anonymous_page\n"
        "show pagetable\n"),
    "skipped": (
        "memfd m size 16K\n"
        "map f file m size 16K shared\n"
        "read f[*]\n"
        "map a anon size 16K\n"
        "read a[0]\n"),
}


def program_for(text: str, name: str = "kinds.fault"):
    scenario = parse_text(text, name)
    return generate(scenario, simulate(scenario).layout)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_generated_part_matches_golden(golden, kind):
    golden(f"cgen_{kind}.c", program_for(KINDS[kind], f"{kind}.fault").scenario_part)


def test_the_program_is_the_runtime_followed_by_the_scenario():
    program = program_for(KINDS["map_plain"])
    assert program.source == runtime_source() + program.scenario_part
    assert "int main(int argc, char **argv)" in runtime_source()


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc")
def test_every_golden_scenario_compiles_without_warnings(tmp_path):
    for kind, text in KINDS.items():
        path = tmp_path / f"{kind}.c"
        path.write_text(program_for(text).source)
        result = subprocess.run(["gcc", "-O1", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                                 str(path)], capture_output=True, text=True)
        assert result.returncode == 0, (kind, result.stderr)


def test_mappings_are_placed_where_the_simulation_put_them():
    program = program_for("map a anon size 2M\nmap b anon size 16K")
    assert "fv_map(0x7f0000000000UL, 0x200000UL" in program.scenario_part
    assert "fv_map(0x7effffffc000UL, 0x4000UL" in program.scenario_part
    assert program.scenario_part.count("FV_PLACE_SIM") == 2


def test_writes_without_a_value_store_the_step_numbers():
    # steps 1-4 are the read; the write's pages get 5, 6, 7, 8
    program = program_for("map a anon size 16K\nread a[*]\nwrite a[*]")
    assert "fv_access(FV_WRITE, 0x7f0000000000UL, 4096L, 4L, 5, 1);" in program.scenario_part


def test_a_reverse_range_walks_down():
    program = program_for("map a anon size 16K\nread a[*] reverse")
    assert "fv_access(FV_READ, 0x7f0000003000UL, -4096L, 4L, 0, 0);" in program.scenario_part


def test_each_statement_gets_its_process_and_kind():
    program = program_for(KINDS["processes"])
    kinds = [(p.process, p.kind, p.child) for p in program.statements]
    assert kinds == [
        ("main", "measure", ""), ("main", "measure", ""), ("main", "fork", "child"),
        ("child", "measure", ""), ("child", "fork", "grandchild"), ("other", "spawn", "other"),
        ("main", "skip", ""), ("other", "measure", ""), ("main", "fork", "second"),
        ("child", "exit", "")]
    assert program.processes == ("main", "child", "grandchild", "other", "second")


def test_plan_processes_follows_switch_and_as():
    scenario = parse_text("process p\nswitch p\nread 0x1000\nas main: read 0x1000\nfork c")
    assert plan_processes(scenario.statements) == ["p", "main", "p", "main", "p"]


def test_what_an_untranslated_statement_touched_is_skipped_from_then_on(monkeypatch):
    # As if the engine simulated everything here, whatever it supports today.
    monkeypatch.setattr(cgen, "unsupported", lambda stmt: None)
    scenario = parse_text("memfd m size 16K\nmap f file m size 16K shared\nread f[*]\n"
                          "map a anon size 16K\nswapout a[0]\nread a[0]\n"
                          "map b anon size 16K\nreclaim 4\nread b[0]\n"
                          "map c anon size 16K\nread c[0]\n")
    layout = Layout({"f": (0x7f0000000000, 0x4000), "a": (0x7effffffc000, 0x4000),
                     "b": (0x7effffff8000, 0x4000), "c": (0x7effffff4000, 0x4000)})
    reasons = {p.line: p.reason for p in generate(scenario, layout).statements
               if p.kind == "skip"}
    assert reasons == {
        1: "verify does not translate `memfd` statements yet",
        2: "verify does not translate file mappings yet",
        3: "mapping 'f' does not exist on the real kernel (line 2 was skipped)",
        5: "verify does not translate `swapout` statements yet",
        6: "mapping 'a' was changed by line 5, which verify does not translate",
        8: "verify does not translate `reclaim` statements yet",
        9: "mapping 'b' was changed by line 8, which verify does not translate",
    }


def test_statements_the_engine_skips_leave_the_rest_alone(monkeypatch):
    # Skipped on both sides: nothing differs, so nothing after it is skipped.
    monkeypatch.setattr(cgen, "unsupported", lambda stmt: "a later issue" if isinstance(
        stmt, ast.Swapout) else None)
    scenario = parse_text("map a anon size 16K\nswapout a[0]\nread a[0]")
    program = generate(scenario, Layout({"a": (0x7f0000000000, 0x4000)}))
    assert [p.kind for p in program.statements] == ["measure", "skip", "measure"]


def test_a_layout_without_the_mapping_skips_its_statements():
    scenario = parse_text("map a anon size 16K\nread a[0]")
    program = generate(scenario, Layout())
    assert [p.kind for p in program.statements] == ["skip", "skip"]
    assert "could not place" in program.statements[0].reason


def test_comment_text_cannot_close_the_c_comment():
    program = program_for('title "a */ b"\nmap a anon size 4K')
    assert "a * / b" in program.scenario_part and "a */ b" not in program.scenario_part
