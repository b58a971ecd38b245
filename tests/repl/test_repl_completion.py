"""suggest(text, session): pure completion, tested without a terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlang.repl.completion import FaultCompleter, SuggestionKind, setting_values, suggest
from faultlang.repl.session import ReplSession


@pytest.fixture
def busy(session: ReplSession) -> ReplSession:
    """heap (anon 64K), file f, and processes main and child."""
    session.execute("map heap anon size 64K\nfile f size 4K\nfork child")
    return session


def texts(text: str, session: ReplSession) -> list[str]:
    return suggest(text, session).texts()


def test_statement_keywords_at_the_start_of_a_line(session: ReplSession) -> None:
    found = suggest("wr", session)
    assert found.replace == 2 and found.texts() == ["write"]
    assert {"map", "read", "write", "fork", "expect"} <= set(texts("", session))
    assert found.items[0].meta == "write TARGET [= VALUE]"


def test_keywords_come_from_the_grammar(busy: ReplSession) -> None:
    assert texts("map a ", busy) == ["anon", "device", "file", "hugetlb", "shmem"]
    assert texts("show ", busy)[:3] == ["counters", "log", "lru"]
    assert texts("fork child -", busy) == ["->"]
    assert texts("read heap[0", busy) == []


def test_madvise_advice_is_offered_after_a_target(busy: ReplSession) -> None:
    found = suggest("madvise heap[*] d", busy)
    assert found.texts() == ["dontfork", "dontneed"]
    assert found.items[0].meta == "madvise advice"


def test_mapping_names_where_a_target_goes(busy: ReplSession) -> None:
    found = suggest("write he", busy)
    assert found.texts() == ["heap"] and found.items[0].kind is SuggestionKind.MAPPING
    assert found.items[0].meta == "anon 64K"
    assert texts("write heap[", busy) == ["*"]
    assert "heap" in texts("expect state ", busy)


def test_process_names_after_as_switch_and_exit(busy: ReplSession) -> None:
    assert texts("as ", busy) == ["main", "child"]
    assert texts("switch c", busy) == ["child"]
    assert texts("as child: wr", busy) == ["write"]


def test_file_names_after_map_file_and_truncate(busy: ReplSession) -> None:
    assert texts("map m file ", busy) == ["f"]
    assert texts("truncate ", busy) == ["f"]


def test_settings_and_their_values(session: ReplSession) -> None:
    assert texts("set th", session) == ["thp"]
    assert texts("set thp ", session) == ["madvise", "always", "never"]
    assert texts("set kernel ", session) == ["6.18", "6.12"]
    assert texts("set zero_page o", session) == ["on", "off"]
    assert texts("set ram 2", session) == ["256M", "256K", "2M"]


def test_setting_values_are_checked_by_the_language() -> None:
    assert setting_values("levels") == ["4", "5"]
    assert setting_values("policy") == ["linux", "fifo", "lru", "clock", "opt"]
    assert "1G" not in setting_values("fault_around")
    assert setting_values("nonsense") == []


def test_counters_of_other_processes_after_expect(busy: ReplSession) -> None:
    assert texts("expect child.m", busy) == ["child.minflt", "child.majflt"]
    assert "minflt" in texts("expect ", busy)


def test_kernel_functions_after_contains(session: ReplSession) -> None:
    found = suggest("expect path last contains do_wp", session)
    assert found.texts() == ["do_wp_page"] and found.items[0].meta == "mm/memory.c"


def test_protections_where_the_grammar_takes_one(busy: ReplSession) -> None:
    assert {"r", "rw", "r-x"} <= set(texts("mprotect heap[*] ", busy))


def test_a_continuation_line_completes_the_statement_it_continues(session: ReplSession) -> None:
    assert texts("map a anon size 4K\nre", session) == ["read", "reclaim"]
    assert "private" in texts("map a anon\nsize 4K ", session)


def test_meta_command_names_and_arguments(busy: ReplSession) -> None:
    found = suggest(":u", busy)
    assert found.replace == 2 and found.texts() == [":undo"]
    assert found.items[0].meta == "go back N statements (default 1)"
    assert texts(":trace ", busy) == ["on", "off"]
    assert texts(":keys v", busy) == ["vi"]
    assert texts(":help un", busy) == ["undo"]
    assert texts(":explain do_anon", busy) == ["do_anonymous_page"]
    assert texts(":reset ", busy) == []


def test_why_completes_its_target_like_a_statement(busy: ReplSession) -> None:
    assert texts(":why h", busy) == ["heap"]
    assert texts(":why heap[0 ", busy) == ["..", "]"]


def test_load_completes_folders_and_scenario_files(session: ReplSession, tmp_path: Path) -> None:
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "cow.fault").write_text("")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "one.yaml").write_text("")
    assert texts(":load ", session) == ["lessons/", "one.yaml"]
    assert texts(":load lessons/c", session) == ["lessons/cow.fault"]
    assert "notes.txt" in texts(":save ", session)


def test_the_prompt_toolkit_completer_replaces_the_partial_word(busy: ReplSession) -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    completions = list(FaultCompleter(busy).get_completions(Document("write he"),
                                                            CompleteEvent()))
    assert [(c.text, c.start_position) for c in completions] == [("heap", -2)]
    assert completions[0].display_meta_text == "anon 64K"


def test_file_systems_after_on(session: ReplSession) -> None:
    assert texts("file f size 4M on ", session) == ["ext4", "hugetlbfs", "tmpfs"]
    assert texts("file f size 4M on hu", session) == ["hugetlbfs"]


def test_uffd_ioctl_words_and_targets(busy: ReplSession) -> None:
    assert {"move", "poison", "copy", "zeropage"} <= set(texts("uffd ", busy))
    assert texts("uffd move he", busy) == ["heap"]
    assert texts("uffd move heap[0] ", busy) == ["to"]
    assert texts("uffd move heap[0] to he", busy) == ["heap"]
    found = suggest("uffd copy heap[0] = 5 ", busy)
    assert {"dontwake", "wp"} <= set(found.texts())
    assert "allow_src_holes" in texts("uffd move heap[0] to heap[1] ", busy)
