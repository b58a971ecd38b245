"""AST shapes for small inputs: what each statement of language v0 lowers to."""

from __future__ import annotations

import pytest

from faultlang.lang import ast, parse_text
from faultlang.lang.ast import Span

K, M = 1 << 10, 1 << 20


def one(text: str) -> ast.Statement:
    statements = parse_text(text).statements
    assert len(statements) == 1
    return statements[0]


@pytest.mark.parametrize("text, node", [
    ('title "Hello"', ast.Title("Hello")),
    ('title "say \\"hi\\""', ast.Title('say "hi"')),
    ("set ram 64M", ast.Set("ram", 64 * M)),
    ("set kernel 6.18", ast.Set("kernel", "6.18")),
    ("set kernel 6.12", ast.Set("kernel", "6.12")),
    ("set thp madvise", ast.Set("thp", "madvise")),
    ("set zero_page on", ast.Set("zero_page", "on")),
    ("set levels 5", ast.Set("levels", 5)),
    ("process worker node 1", ast.ProcessDecl("worker", 1)),
    ("process worker", ast.ProcessDecl("worker", 0)),
    ("fork child", ast.Fork("child")),
    ("fork main -> child", ast.Fork("child", "main")),
    ("fork main->child", ast.Fork("child", "main")),
    ("exit child", ast.Exit("child")),
    ("switch child", ast.Switch("child")),
    ("as child: read a[0]", ast.As("child", ast.Access("read", ast.PageIndex("a", 0)))),
])
def test_setup_statements(text: str, node: ast.Statement) -> None:
    assert one(text) == node


@pytest.mark.parametrize("text, node", [
    ("file data size 2M", ast.FileDecl("data", 2 * M)),
    ("file libc.so size 256K cached", ast.FileDecl("libc.so", 256 * K, cached_all=True)),
    ("file f size 64K uncached", ast.FileDecl("f", 64 * K)),
    ("file f size 64K cached 4", ast.FileDecl("f", 64 * K, cached_pages=((0, 4),))),
    ("file f size 64K cached [0..4, 8..12, 20]",
     ast.FileDecl("f", 64 * K, cached_pages=((0, 4), (8, 12), (20, 21)))),
    ("file f size 64K on ext4 dax", ast.FileDecl("f", 64 * K, dax=True)),
    ("file f folio 64K on tmpfs size 2M", ast.FileDecl("f", 2 * M, fs="tmpfs", folio=64 * K)),
    ('file "my file" size 4K', ast.FileDecl("my file", 4 * K)),
    ("memfd m size 2M", ast.FileDecl("m", 2 * M, fs="tmpfs", memfd=True)),
])
def test_file_declarations(text: str, node: ast.FileDecl) -> None:
    assert one(text) == node


@pytest.mark.parametrize("text, node", [
    ("map a anon size 4K", ast.Map("a", "anon", 4 * K)),
    ("map a anon size 2M rw private",
     ast.Map("a", "anon", 2 * M, prot="rw-", shared=False)),
    ("map l file lib offset 4K size 64K r-x shared at 0x7f0000000000",
     ast.Map("l", "file", 64 * K, file="lib", offset=4 * K, at=0x7F0000000000, prot="r-x",
             shared=True)),
    ("map s shmem size 2M", ast.Map("s", "shmem", 2 * M)),
    ("map h hugetlb size 4M private", ast.Map("h", "hugetlb", 4 * M, shared=False)),
    ("map d device size 64K mapped 16K", ast.Map("d", "device", 64 * K, mapped=16 * K)),
    ("map b anon populate size 4M hugepage locked",
     ast.Map("b", "anon", 4 * M, options=("populate", "hugepage", "locked"))),
    ("map r anon size 4K r", ast.Map("r", "anon", 4 * K, prot="r--")),
    ("map n anon size 4K ---", ast.Map("n", "anon", 4 * K, prot="---")),
    ("map x anon size 4K random", ast.Map("x", "anon", 4 * K, options=("random",))),
])
def test_mappings(text: str, node: ast.Map) -> None:
    assert one(text) == node


@pytest.mark.parametrize("prot, normal", [
    ("rw", "rw-"), ("r", "r--"), ("r-x", "r-x"), ("---", "---"), ("rwx", "rwx"),
    ("x", "--x"), ("rx", "r-x"), ("w", "-w-"),
])
def test_protections_are_normalised_to_three_characters(prot: str, normal: str) -> None:
    assert one(f"mprotect a[*] {prot}") == ast.Mprotect(ast.PageRange("a"), normal)


@pytest.mark.parametrize("text, target", [
    ("read heap[3]", ast.PageIndex("heap", 3)),
    ("read heap[0..16]", ast.PageRange("heap", 0, 16)),
    ("read heap[0..16 step 2]", ast.PageRange("heap", 0, 16, 2)),
    ("read heap[*]", ast.PageRange("heap")),
    ("read heap[0..16] reverse", ast.PageRange("heap", 0, 16, reverse=True)),
    ("read heap[*] reverse", ast.PageRange("heap", reverse=True)),
    ("read heap+0x1800", ast.ByteOffset("heap", 0x1800)),
    ("read 0x7f0000003000", ast.Absolute(0x7F0000003000)),
    ("read libc.so[2]", ast.PageIndex("libc.so", 2)),
    ("read my-heap[0x10..0x20]", ast.PageRange("my-heap", 16, 32)),
])
def test_targets(text: str, target: ast.Target) -> None:
    assert one(text) == ast.Access("read", target)


@pytest.mark.parametrize("text, node", [
    ("write a[0] = 42", ast.Access("write", ast.PageIndex("a", 0), 42)),
    ("write a[*] reverse = 1_000", ast.Access("write", ast.PageRange("a", reverse=True), 1000)),
    ("exec a[0]", ast.Access("exec", ast.PageIndex("a", 0))),
    ("kread a[0]", ast.Access("kread", ast.PageIndex("a", 0))),
    ("kwrite a[0] = 3", ast.Access("kwrite", ast.PageIndex("a", 0), 3)),
    ("trace ls-l.lackey.xz format lackey", ast.Trace("ls-l.lackey.xz", "lackey")),
    ('trace "a b.txt"', ast.Trace("a b.txt")),
    ("munmap a[0..4]", ast.Munmap(ast.PageRange("a", 0, 4))),
    ("madvise a[*] dontneed", ast.Madvise(ast.PageRange("a"), "dontneed")),
    ("mlock a[0]", ast.Mlock(ast.PageIndex("a", 0))),
    ("munlock a[0]", ast.Munlock(ast.PageIndex("a", 0))),
    ("msync a[0]", ast.Msync(ast.PageIndex("a", 0))),
    ("truncate f 8K", ast.Truncate("f", 8 * K)),
    ("swapout a[*]", ast.Swapout(ast.PageRange("a"))),
    ("reclaim 64", ast.Reclaim(64)),
    ("drop_caches", ast.DropCaches()),
    ("numa_scan a[*]", ast.NumaScan(ast.PageRange("a"))),
])
def test_operations(text: str, node: ast.Statement) -> None:
    assert one(text) == node


@pytest.mark.parametrize("text, node", [
    ("uffd register u[*] missing", ast.UffdRegister(ast.PageRange("u"), ("missing",))),
    ("uffd register u[*] missing, wp features sigbus,thread_id",
     ast.UffdRegister(ast.PageRange("u"), ("missing", "wp"), ("sigbus", "thread_id"))),
    ("uffd unregister u[*]", ast.UffdUnregister(ast.PageRange("u"))),
    ("uffd handle missing by copy 7", ast.UffdHandle("missing", "copy", 7)),
    ("uffd handle missing by zeropage", ast.UffdHandle("missing", "zeropage")),
    ("uffd handle wp manually", ast.UffdHandle("wp", "manual")),
    ("uffd copy u[0] = 9", ast.UffdCopy(ast.PageIndex("u", 0), 9)),
    ("uffd zeropage u[0]", ast.UffdZeropage(ast.PageIndex("u", 0))),
    ("uffd continue u[0]", ast.UffdContinue(ast.PageIndex("u", 0))),
    ("uffd writeprotect u[*] on", ast.UffdWriteprotect(ast.PageRange("u"), True)),
    ("uffd writeprotect u[*] off", ast.UffdWriteprotect(ast.PageRange("u"), False)),
    ("uffd wake u[*]", ast.UffdWake(ast.PageRange("u"))),
    ("uffd copy u[0] = 9 dontwake wp", ast.UffdCopy(ast.PageIndex("u", 0), 9, ("dontwake", "wp"))),
    ("uffd zeropage u[0] dontwake", ast.UffdZeropage(ast.PageIndex("u", 0), ("dontwake",))),
    ("uffd continue u[0] wp", ast.UffdContinue(ast.PageIndex("u", 0), ("wp",))),
    ("uffd writeprotect u[*] off dontwake",
     ast.UffdWriteprotect(ast.PageRange("u"), False, ("dontwake",))),
    ("uffd move s[0..2] to d[0..2] allow_src_holes",
     ast.UffdMove(ast.PageRange("s", 0, 2), ast.PageRange("d", 0, 2), ("allow_src_holes",))),
    ("uffd poison u[3]", ast.UffdPoison(ast.PageIndex("u", 3))),
])
def test_userfaultfd(text: str, node: ast.Statement) -> None:
    assert one(text) == node


@pytest.mark.parametrize("text, node", [
    ("show vmas", ast.Show("vmas")),
    ("show pagetable", ast.Show("pagetable")),
    ("show pagetable a[0..4]", ast.Show("pagetable", ast.PageRange("a", 0, 4))),
    ("show path", ast.Show("path")),
    ("show path last", ast.Show("path", "last")),
    ("show path 3", ast.Show("path", 3)),
    ("show pagecache f", ast.Show("pagecache", "f")),
    ("show uffd", ast.Show("uffd")),
])
def test_show(text: str, node: ast.Show) -> None:
    assert one(text) == node


@pytest.mark.parametrize("text, node", [
    ("expect minflt == 512", ast.ExpectCounter("minflt", "==", 512)),
    ("expect child.minflt == 1", ast.ExpectCounter("minflt", "==", 1, "child")),
    ("expect libc.so.minflt >= 2", ast.ExpectCounter("minflt", ">=", 2, "libc.so")),
    ("expect delta majflt != 0", ast.ExpectCounter("majflt", "!=", 0, delta=True)),
    ("expect delta child.minflt < 3", ast.ExpectCounter("minflt", "<", 3, "child", True)),
    ("expect path.minflt <= 3", ast.ExpectCounter("minflt", "<=", 3, "path")),
    ("expect rss > 4", ast.ExpectCounter("rss", ">", 4)),
    ("expect outcome last == SIGBUS", ast.ExpectOutcome("==", "SIGBUS")),
    ("expect outcome == minor", ast.ExpectOutcome("==", "minor")),
    ("expect outcome 3 != major", ast.ExpectOutcome("!=", "major", 3)),
    ("expect path last contains do_wp_page", ast.ExpectPath("do_wp_page")),
    ("expect path 7 contains wp_page_copy", ast.ExpectPath("wp_page_copy", 7)),
    ("expect state buf[7] == zero", ast.ExpectState(ast.PageIndex("buf", 7), "==", "zero")),
    ("expect value a[9] == 1", ast.ExpectValue(ast.PageIndex("a", 9), "==", 1)),
])
def test_expectations(text: str, node: ast.Statement) -> None:
    assert one(text) == node


def test_numbers_take_binary_suffixes_underscores_and_hex() -> None:
    sizes = [s.size for s in parse_text(
        "map a anon size 4K\nmap b anon size 2M\nmap c anon size 1G\nmap d anon size 1T\n"
        "map e anon size 0x1000\nmap f anon size 1_048_576\n").statements]
    assert sizes == [4 * K, 2 * M, 1 << 30, 1 << 40, 4096, M]


def test_spans_are_one_based_and_end_exclusive() -> None:
    scenario = parse_text("# comment\nmap heap anon size 64K\n  read heap[3]\n")
    map_node, read = scenario.statements
    assert map_node.span == Span(2, 1, 2, 23)
    assert read.span == Span(3, 3, 3, 15)
    assert read.target.span == Span(3, 8, 3, 15)


def test_nested_statement_of_as_has_its_own_span() -> None:
    node = one("as child: write a[0]")
    assert node.span == Span(1, 1, 1, 21)
    assert node.statement.span == Span(1, 11, 1, 21)


def test_empty_and_comment_only_input_has_no_statements() -> None:
    assert parse_text("").statements == ()
    assert parse_text("\n\n# only a comment\n   \n").statements == ()


def test_crlf_tabs_and_continuation_lines_are_fine() -> None:
    text = "map a anon \\\r\n\tsize 4K\r\n\tread a[0]\t# tab\r\n"
    assert parse_text(text).statements == (ast.Map("a", "anon", 4 * K),
                                           ast.Access("read", ast.PageIndex("a", 0)))


def test_keywords_are_whole_words_and_usable_as_names() -> None:
    statements = parse_text("map at anon size 4K\nmap read anon size 4K\nread read[0]\n"
                            "map randomly anon size 4K random\n").statements
    assert statements[0].name == "at"
    assert statements[2] == ast.Access("read", ast.PageIndex("read", 0))
    assert statements[3] == ast.Map("randomly", "anon", 4 * K, options=("random",))


def test_source_name_and_text_are_kept_but_not_compared() -> None:
    first = parse_text("read 0x1000", "a.fault")
    second = parse_text("read   0x1000  # same", "b.fault")
    assert first == second
    assert first.source_name == "a.fault" and first.source_text == "read 0x1000"
