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
    "swap": (
        "set swap 64M\n"
        "set swap_device zram\n"
        "map a anon size 64K\n"
        "write a[*]\n"
        "swapout a[2..6]\n"
        "expect state a[3] == swapped\n"
        "expect state a[0] == resident\n"
        "reclaim 4\n"),
    "hugetlb": (
        "set hugepages 4\n"
        "map h hugetlb size 4M private\n"
        "map s hugetlb size 2M shared noreserve\n"
        "write h[*]\n"
        "expect state h[512] == huge\n"),
    "uffd": (
        "map a anon size 64K\n"
        "uffd register a[*] missing,wp features thread_id,exact_address\n"
        "uffd handle missing by copy 7\n"
        "uffd handle wp by unprotect\n"
        "read a[0..2]\n"
        "uffd writeprotect a[0..2] on\n"
        "write a[0]\n"
        "uffd writeprotect a[1] off\n"
        "uffd copy a[4..6] = 3\n"
        "uffd zeropage a[6]\n"
        "uffd wake a[*]\n"
        "uffd unregister a[8..16]\n"
        "map s shmem size 16K shared\n"
        "write s[*]\n"
        "madvise s[*] dontneed\n"
        "uffd register s[*] minor\n"
        "uffd handle minor by continue\n"
        "read s[0]\n"
        "uffd continue s[1]\n"
        "uffd handle missing by zeropage\n"),
    "uffd_modes": (
        "map a anon size 64K\n"
        "uffd register a[*] missing,wp\n"
        "uffd copy a[0..2] = 3 dontwake\n"
        "uffd copy a[2] = 4 wp\n"
        "uffd zeropage a[3] dontwake\n"
        "uffd writeprotect a[0] off dontwake\n"
        "uffd poison a[4]\n"
        "map m anon size 16K\n"
        "write m[*] = 6\n"
        "uffd move m[0..2] to a[8..10] allow_src_holes\n"),
    "uffd_manual": (
        "map a anon size 16K\n"
        "uffd register a[*] missing\n"
        "uffd handle missing manually\n"
        "read a[0]\n"
        "uffd copy a[0] = 7\n"
        "read a[1]\n"
        "uffd handle missing by zeropage\n"
        "map b anon size 16K\n"
        "uffd register b[*] missing features event_fork\n"
        "read b[0]\n"),
    "files": (
        "file data size 64K cached\n"
        "file cold size 2M uncached folio 64K\n"
        "file part size 128K cached [0..4] folio 16K\n"
        "memfd m size 16K\n"
        "file t size 32K on tmpfs cached\n"
        "map d file data size 64K shared\n"
        "map c file cold offset 1M size 256K r-- private random\n"
        "map p file part size 128K private populate\n"
        "map f file m size 16K shared\n"
        "map s shmem size 16K private\n"
        "read c[*]\n"
        "write d[0..4]\n"
        "msync d[*]\n"
        "expect state p[0] == cow\n"
        "expect value d[1] == 2\n"
        "truncate data 8K\n"
        "truncate m 64K\n"
        "drop_caches\n"),
    "hugetlbfs": (
        "set hugepages 4\n"
        "file h size 4M on hugetlbfs cached [512..1024]\n"
        "file dx size 64K on ext4 dax\n"
        "map s file h size 4M shared\n"
        "map p file h size 2M private noreserve\n"
        "write s[0]\n"
        "read p[0]\n"
        "expect state s[600] == huge\n"
        "expect value p[0] == 1\n"
        "truncate h 2M\n"
        "read s[512]\n"
        "drop_caches\n"),
    "skipped": (
        "memfd m size 16K\n"
        "map f device size 16K\n"
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
    scenario = parse_text("memfd m size 16K\nmap f device size 16K\nread f[*]\n"
                          "map a anon size 16K\nswapout a[0]\nread a[0]\n"
                          "map b anon size 16K\nreclaim 4\nread b[0]\n"
                          "map c anon size 16K\nread c[0]\n")
    layout = Layout({"f": (0x7f0000000000, 0x4000), "a": (0x7effffffc000, 0x4000),
                     "b": (0x7effffff8000, 0x4000), "c": (0x7effffff4000, 0x4000)})
    reasons = {p.line: p.reason for p in generate(scenario, layout).statements
               if p.kind == "skip"}
    assert reasons == {
        2: "verify does not translate device mappings yet",
        3: "mapping 'f' does not exist on the real kernel (line 2 was skipped)",
        8: "the real kernel has no call that reclaims N chosen pages (swapout RANGE is "
           "MADV_PAGEOUT)",
        9: "mapping 'b' was changed by line 8, which does not run on the real kernel",
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


def test_what_needs_a_setting_the_machine_lacks_is_skipped_saying_why():
    scenario = parse_text("set swap 64M\nset hugepages 2\nmap a anon size 16K\nwrite a[*]\n"
                          "swapout a[*]\nread a[0]\nmap h hugetlb size 2M\nwrite h[0]\n"
                          "map b anon size 16K\nswapout b[*]\n")
    layout = simulate(scenario).layout
    why = {"swap": "swap is 0 here but 64M in the scenario; --setup (root) sets it for the run",
           "hugepages": "hugepages is 0 here but 2 in the scenario; --setup (root) sets it "
                        "for the run"}
    reasons = {p.line: p.reason for p in generate(scenario, layout, why).statements
               if p.kind == "skip" and p.reason}
    assert reasons == {
        5: why["swap"],
        6: "mapping 'a' was changed by line 5, which does not run on the real kernel",
        7: why["hugepages"],
        8: "mapping 'h' does not exist on the real kernel (line 7 was skipped)",
        10: why["swap"],
    }
    # with the machine as the scenario says, all of them run
    assert all(p.kind != "skip" or not p.reason for p in generate(scenario, layout).statements)


def test_swapout_is_madv_pageout_on_the_span_and_hugetlb_asks_for_2m_pages():
    swap = program_for(KINDS["swap"]).scenario_part
    assert "fv_swapout(0x7f0000002000UL, 0x4000UL);" in swap
    huge = program_for(KINDS["hugetlb"]).scenario_part
    assert huge.count("MAP_HUGETLB | MAP_HUGE_2MB") == 2
    assert "MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB | MAP_NORESERVE" in huge


def test_a_hugetlbfs_file_is_a_hugetlb_memfd_mapped_without_map_hugetlb():
    part = program_for(KINDS["hugetlbfs"]).scenario_part
    assert "fv_file_create(0, \"h\", FV_FS_HUGETLBFS, 0x400000UL, " in part
    assert "static const uint64_t cached[] = { 0x200, 0x400 };" in part
    assert "MAP_HUGETLB" not in part              # the file is on hugetlbfs already
    assert "MAP_PRIVATE | MAP_NORESERVE, FV_PLACE_SIM, 0, 0x0UL);" in part
    assert "fv_file_truncate(0, 0x200000UL);" in part


def test_dax_files_stay_skipped_and_hugetlbfs_files_need_the_pool():
    scenario = parse_text(KINDS["hugetlbfs"])
    layout = simulate(scenario).layout
    reasons = {p.line: p.reason for p in generate(scenario, layout).statements
               if p.kind == "skip" and p.reason}
    assert reasons == {3: "verify does not translate DAX files: an ext4 dax file needs a "
                          "persistent-memory (pmem) device, which this machine does not have"}
    why = {"hugepages": "hugepages is 0 here but 4 in the scenario; --setup (root) sets it "
                        "for the run"}
    reasons = {p.line: p.reason for p in generate(scenario, layout, why).statements
               if p.kind == "skip" and p.reason}
    assert {line: reasons[line] for line in (2, 4, 5, 10)} == dict.fromkeys(
        (2, 4, 5, 10), why["hugepages"])
    assert reasons[6] == "mapping 's' does not exist on the real kernel (line 4 was skipped)"
    assert 12 not in reasons                       # drop_caches touches no hugetlbfs file
