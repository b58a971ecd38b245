"""ReplSession without a terminal: what each input shows, and the state it leaves.

    # 0x7f0000000000                       0x7f0000010000
    # [ heap: 16 anonymous pages, rw, private           ]
    #   ^0 ^1 ^2 ^3 ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from faultlang.errors import ScenarioError
from faultlang.lang.parse import parse_path
from faultlang.repl.session import ReplOptions, ReplSession, join_continuations
from faultlang.runtime.runner import run_scenario

Type = Callable[[str], str]


def counters(session: ReplSession) -> dict[str, tuple[int, int, int]]:
    assert session.runner is not None
    return {p.name: (p.counters.minflt, p.counters.majflt, p.counters.rss)
            for p in session.runner.process_views()}


# --- statements ----------------------------------------------------------------------

def test_a_single_faulting_write_shows_its_step_path_and_pte_change(type_: Type) -> None:
    type_("map heap anon size 64K")
    out = type_("write heap[3]")
    assert "step 1  write  0x7f0000003000  heap[3]  minor  do_anonymous_page" in out
    assert "path: exc_page_fault → do_user_addr_fault" in out
    assert "PTE of heap[3]  0x7f0000003000" in out
    assert "before  none" in out
    assert "after   resident  pfn 0x1000  PWUADN  value 1" in out


def test_a_range_access_folds_into_one_log_line_without_a_pte_change(type_: Type) -> None:
    type_("map heap anon size 64K")
    out = type_("write heap[0..8]")
    assert "steps 1–8" in out and "8× minor" in out
    assert "PTE of" not in out and "path:" not in out


def test_an_access_that_does_not_fault_shows_no_path(type_: Type) -> None:
    type_("map heap anon size 64K")
    type_("write heap[0]")
    out = type_("write heap[0]")
    assert "none" in out and "path:" not in out and "PTE of" not in out


def test_a_segfault_says_the_pte_did_not_change(type_: Type) -> None:
    out = type_("read 0x1000")
    assert "SIGSEGV SEGV_MAPERR" in out
    assert "PTE of 0x1000  unchanged: none" in out


def test_notes_show_and_expect_are_echoed_like_the_scenario_output(type_: Type) -> None:
    assert "note: heap: 0x7f0000000000-0x7f0000010000" in type_("map heap anon size 64K")
    type_("read heap[0]")
    assert "line 3: expect minflt == 1  ok" in type_("expect minflt == 1")
    assert "FAIL  expected 2, actual 1" in type_("expect minflt == 2")
    assert "main       1       1" in type_("show counters")


def test_trace_on_prints_the_whole_call_tree_after_a_fault(type_: Type) -> None:
    type_("map heap anon size 64K")
    assert "trace is on" in type_(":trace on")
    out = type_("write heap[1]")
    assert "└── exc_page_fault  arch/x86/mm/fault.c" in out
    assert "do_anonymous_page  mm/memory.c  write fault: allocate a new page" in out
    type_(":trace off")
    assert "└──" not in type_("write heap[2]")


# --- errors -------------------------------------------------------------------------------

def test_a_syntax_error_puts_a_caret_under_the_typed_text_and_the_session_goes_on(
        session: ReplSession, type_: Type) -> None:
    type_("map heap anon size 64K")
    result = session.execute("wirte heap[0]")
    assert not result.ok and result.error is not None
    assert result.error.splitlines()[1:3] == ["  wirte heap[0]", "  ^^^^^"]
    assert "did you mean 'write'?" in result.error
    assert "minor" in type_("write heap[0]")


def test_a_page_outside_its_mapping_is_caught_before_anything_runs(
        session: ReplSession, type_: Type) -> None:
    type_("map heap anon size 64K")
    out = type_("read heap[99]")
    assert "page 99 is outside 'heap', which has 16 pages" in out
    assert "       ^^^^^^^^" in out
    assert len(session.statements) == 1


def fail_on_page(session: ReplSession, monkeypatch: pytest.MonkeyPatch, nth: int,
                 error: BaseException) -> None:
    """The engine raises `error` at the nth page accessed from now on (and at every later one)."""
    runner = session.runner
    assert runner is not None
    real = runner.machine.access_one  # type: ignore[union-attr]
    calls = []

    def access_one(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) >= nth:
            raise error
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner.machine, "access_one", access_one)


def test_an_engine_error_leaves_the_machine_as_it_was(session: ReplSession, type_: Type,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    type_("map heap anon size 64K")
    type_("write heap[0]")
    before = counters(session)
    fail_on_page(session, monkeypatch, 3, ScenarioError("an engine error part-way", "nothing to do"))
    out = type_("write heap[1..8]")
    assert "error: an engine error part-way" in out
    assert counters(session) == before and len(session.statements) == 2


def test_the_step_limit_stops_a_huge_statement_before_it_runs(type_: Type) -> None:
    type_("map big anon size 32G")
    assert "would take the run past 5,000,000 page operations" in type_("write big[*]")


def test_errors_are_numbered_as_the_line_the_statement_would_have_been(type_: Type) -> None:
    type_("map heap anon size 64K")
    type_("write heap[0]")
    assert type_("read nothing[0]").startswith("<repl>:3:6: error:")


# --- several lines ---------------------------------------------------------------------------

def test_a_statement_cut_short_continues_on_the_next_line(session: ReplSession,
                                                          type_: Type) -> None:
    assert session.needs_more("map heap anon size")
    assert session.needs_more('title "unfinished')
    assert not session.needs_more("map heap anon size 64K")
    assert not session.needs_more("wirte heap[0]")          # wrong already: show the error
    assert not session.needs_more(":help")
    assert "16 pages" in type_("map heap anon\nsize 64K")


def test_continuation_lines_keep_their_line_numbers_for_errors() -> None:
    assert join_continuations("map a anon size\n64K\nread a[0]") == \
        "map a anon size \\\n64K\nread a[0]"
    assert join_continuations("read a[0]") == "read a[0]"


def test_a_pasted_scenario_runs_statement_by_statement_with_headings(type_: Type) -> None:
    out = type_("map heap anon size 64K\nwrite heap[0]\n# a comment\nexpect minflt == 1\n")
    assert "line 1: map heap anon size 64K" in out
    assert "line 2: write heap[0]" in out
    assert "line 4: expect minflt == 1  ok" in out


def test_a_failing_statement_stops_a_paste_and_keeps_what_ran(session: ReplSession) -> None:
    result = session.execute("map heap anon size 64K\nmap big anon size 32G\nwrite big[*]\n"
                             "read heap[1]\nread heap[2]")
    assert result.error is not None
    assert result.error.startswith("<repl>:3:1: error: this statement would take the run past")
    assert "the 2 statements after it did not run" in result.error
    assert "line 2: map big anon size 32G" in result.text()
    assert len(session.statements) == 2


def test_a_meta_command_takes_one_line(type_: Type) -> None:
    assert "a command takes one line" in type_(":help\n:help")


# --- Ctrl-C -------------------------------------------------------------------------------------

def test_ctrl_c_during_a_statement_restores_the_state_before_it(
        session: ReplSession, type_: Type, monkeypatch: pytest.MonkeyPatch) -> None:
    type_("map heap anon size 64K")
    type_("write heap[0..4]")
    before = counters(session)
    fail_on_page(session, monkeypatch, 3, KeyboardInterrupt())
    result = session.execute("write heap[4..16]")
    assert result.interrupted
    assert "interrupted: line 3 stopped part-way and was undone" in result.text()
    assert counters(session) == before
    assert len(session.statements) == 2
    assert "minor" in type_("write heap[5]")        # the session goes on


# --- time travel -------------------------------------------------------------------------------

def test_undo_and_forward_move_through_the_states(session: ReplSession, type_: Type) -> None:
    type_("map heap anon size 64K")
    type_("write heap[0]")
    type_("fork child")
    type_("as child: write heap[0]")
    after = counters(session)
    out = type_(":undo")
    assert "undid: as child: write heap[0]" in out
    assert counters(session)["child"] == (0, 0, 1)
    assert session.status().history == "3 of 4"
    assert "redid: as child: write heap[0]" in type_(":forward")
    assert counters(session) == after
    assert "nothing to redo" in type_(":forward")


def test_undo_skips_show_and_expect_lines(session: ReplSession, type_: Type) -> None:
    type_("map heap anon size 64K")
    type_("write heap[0]")
    type_("show counters")
    type_("expect minflt == 1")
    out = type_(":undo")
    assert out.splitlines()[:3] == ["undid: write heap[0]", "undid: show counters",
                                    "undid: expect minflt == 1"]
    assert [type(s).__name__ for s in session.statements] == ["Map"]


def test_undo_then_a_new_statement_drops_the_undone_ones(session: ReplSession,
                                                        type_: Type) -> None:
    type_("map heap anon size 64K")
    type_("write heap[0]")
    type_(":undo")
    type_("read heap[0]")
    assert "nothing to redo" in type_(":forward")
    assert [type(s).__name__ for s in session.statements] == ["Map", "Access"]
    assert counters(session)["main"] == (1, 0, 0)


def test_undo_all_the_way_and_nothing_more(type_: Type) -> None:
    type_("map heap anon size 64K")
    assert "now at the start of the session" in type_(":undo 5")
    assert "nothing to undo" in type_(":undo")


def test_reset_starts_a_fresh_machine(session: ReplSession, type_: Type) -> None:
    type_("map heap anon size 64K")
    type_("write heap[0]")
    assert "a fresh machine" in type_(":reset")
    assert session.runner is None and session.statements == ()
    assert "nothing to undo" in type_(":undo")
    assert "there is no mapping 'heap'" in type_("write heap[0]") or \
        "unknown mapping 'heap'" in type_("write heap[0]")


def test_diff_shows_pte_and_counter_changes_since_a_line(type_: Type) -> None:
    type_("map heap anon size 64K")
    type_("write heap[0]")
    type_("write heap[1]")
    out = type_(":diff 2")
    assert "page-table entries changed since before line 2" in out
    assert "heap[0]  none  →  resident" in out and "heap[1]  none  →  resident" in out
    assert "2 (+2)" in out
    last = type_(":diff")
    assert "since line 3 ran" in last and "heap[0]" not in last
    assert "there is no line 9" in type_(":diff 9")


# --- meta-commands ----------------------------------------------------------------------------

def test_save_writes_a_scenario_that_replays_to_the_same_state(session: ReplSession,
                                                              type_: Type, tmp_path: Path) -> None:
    type_("set zero_page off")
    type_("map heap anon size 64K\nwrite heap[0..3] = 5\nfork child")
    type_("as child: write heap[1]")
    type_("wirte heap[0]")                             # errors are not saved
    type_("expect child.minflt == 1")
    assert "saved 6 statements to s.fault" in type_(":save s.fault")
    saved = (tmp_path / "s.fault").read_text()
    assert saved.splitlines()[1] == "map heap anon size 64K"
    report = run_scenario(parse_path(tmp_path / "s.fault"))
    assert report.ok
    assert {p.name: (p.counters.minflt, p.counters.majflt, p.counters.rss)
            for p in report.processes} == counters(session)


def test_save_refuses_yaml_and_an_empty_session(type_: Type) -> None:
    assert "nothing to save" in type_(":save x.fault")
    type_("map a anon size 4K")
    assert "name the file x.fault" in type_(":save x.yaml")


def test_load_runs_a_scenario_file_in_the_session(session: ReplSession, type_: Type,
                                                  tmp_path: Path) -> None:
    (tmp_path / "s.fault").write_text("map a anon size 16K\n\nwrite a[*]\n")
    out = type_(":load s.fault")
    assert "loading s.fault: 2 statements" in out and "line 3: write a[*]" in out
    assert counters(session)["main"] == (4, 0, 4)
    assert "4× minor" in out
    assert "no such file" in type_(":load missing.fault")


def test_load_reports_errors_at_the_files_line(type_: Type, tmp_path: Path) -> None:
    (tmp_path / "bad.fault").write_text("map a anon size 16K\nread a[9]\n")
    out = type_(":load bad.fault")
    assert "bad.fault:2:6: error: page 9 is outside 'a'" in out


def test_the_repository_tour_scenario_loads_cleanly(session: ReplSession, type_: Type) -> None:
    root = Path(__file__).resolve().parents[2]
    out = type_(f":load {root / 'scenarios' / 'tour.fault'}")
    assert "FAIL" not in out and "error:" not in out
    assert "expect path last contains wp_page_reuse  ok" in out


def test_explain_names_the_file_the_docstring_and_the_callers(type_: Type) -> None:
    type_("map heap anon size 64K")
    type_("read heap[0]")
    type_("write heap[0]")
    out = type_(":explain do_wp_page")
    assert out.startswith("do_wp_page  mm/memory.c")
    assert "a write (or unshare) hit a present, read-only PTE" in out
    assert "handle_pte_fault  if " in out and "why: write to a present, read-only PTE" in out
    assert "1×  handle_pte_fault  write to a present, read-only PTE" in out
    assert "1×  the shared zero page: copy it" in out


def test_explain_suggests_a_close_name(type_: Type) -> None:
    out = type_(":explain do_wp_pag")
    assert "'do_wp_pag' is not a kernel function faultlang mirrors" in out
    assert "did you mean 'do_wp_page'?" in out


def test_why_lists_the_decisions_of_the_last_fault_at_a_target(type_: Type) -> None:
    type_("map heap anon size 64K")
    type_("read heap[2]")
    type_("write heap[2]")
    out = type_(":why heap[2]")
    assert out.startswith("step 2: write heap[2]  minor  decided by wp_page_copy")
    assert "do_wp_page          the shared zero page: copy it" in out
    assert "step 2: write" in type_(":why 0x7f0000002010")
    assert "nothing has touched heap[5] yet" in type_(":why heap[5]")


def test_why_errors_point_into_the_command_line(type_: Type) -> None:
    type_("map heap anon size 64K")
    out = type_(":why nope[1]")
    assert out.splitlines()[1:3] == ["  :why nope[1]", "       ^^^^^^^"]
    assert "e.g. :why heap[3]" in type_(":why heap[")


def test_keys_and_trace_report_their_state(session: ReplSession, type_: Type) -> None:
    assert "emacs key bindings" in type_(":keys")
    assert "vi key bindings" in type_(":keys vi")
    assert session.options.keys == "vi" and session.status().keys == "vi"
    assert "trace is off" in type_(":trace")


def test_quit_ends_the_session(session: ReplSession) -> None:
    assert session.execute(":quit").quit and session.execute(":q").quit


# --- what the prompt reads ------------------------------------------------------------------------

def test_status_before_anything_ran_comes_from_the_default_settings(session: ReplSession) -> None:
    status = session.status()
    assert (status.process, status.free, status.swap_total, status.line) == ("main", 65536, 0, 1)


def test_status_follows_the_current_process(session: ReplSession, type_: Type) -> None:
    type_("set swap 16M")
    type_("map heap anon size 64K\nwrite heap[0..2]\nfork child\nswitch child\nwrite heap[0]")
    status = session.status()
    assert (status.process, status.minflt, status.rss) == ("child", 1, 2)
    # 16M of swap is 4096 pages, and the first is the swap header: as `show memory` says.
    assert status.free == 65536 - 3 and status.swap_total == 4095
    assert session.current_process() == "child"


def test_status_counts_swap_slots_alike_before_and_after_the_machine_is_built(
        session: ReplSession, type_: Type) -> None:
    type_("set swap 16M")
    before = session.status().swap_total
    type_("map heap anon size 64K")
    assert before == session.status().swap_total == 4095


def test_names_lists_mappings_processes_and_files(session: ReplSession, type_: Type) -> None:
    type_("map heap anon size 64K\nfork child\nprocess other\nexit other")
    names = session.names()
    assert names.mappings == (("heap", "anon 64K"),)
    assert names.processes == ("main", "child")


def test_ctrl_c_is_held_back_until_a_restore_or_a_checkpoint_is_done() -> None:
    import os
    import signal

    from faultlang.repl._input import sigint_deferred

    with pytest.raises(KeyboardInterrupt):
        with sigint_deferred(reraise=True):
            os.kill(os.getpid(), signal.SIGINT)
            finished = True
    assert finished
    with sigint_deferred(reraise=False):
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_undo_after_hugetlb_mappings_restores_the_pool(session: ReplSession) -> None:
    from faultlang.runtime.inspect import memory_view
    from faultlang.runtime.invariants import check_invariants
    for line in ("set hugepages 4", "file f size 2M on hugetlbfs", "map a file f size 2M shared",
                 "map h hugetlb size 2M", "write a[0] = 3", "write h[0] = 4", "fork c"):
        assert "error" not in session.execute(line).text(width=100)

    def pool() -> tuple[int, int]:
        assert session.runner is not None
        view = memory_view(session.runner.ensure_machine().system)
        return view.hugepages_free, dict(view.extra)["HugePages_Rsvd"]

    assert pool() == (2, 0)
    session.execute(":undo 3")                   # before both writes and the fork
    assert pool() == (4, 2)
    session.execute("as main: read a[0]")
    session.execute("write h[0] = 5")
    machine = session.runner.ensure_machine()
    assert machine.steps[-2].value == 0 and pool() == (2, 0)
    assert machine.mappings["h"].kind == "hugetlb"
    vma = machine.processes["main"].mm.vma_lookup(machine.mappings["h"].start)
    from faultlang.kernel.mm.hugetlb import hugetlb_vm_ops
    assert vma.vm_ops is hugetlb_vm_ops          # the shared table, not a copy
    assert check_invariants(machine.system) == []
    text = session.execute("file g size 2M on hugetlbfs uncached").text(width=100)
    assert "'uncached' means nothing on hugetlbfs" in text


def test_the_step_limit_is_a_session_option_that_survives_reset(tmp_path: Path) -> None:
    session = ReplSession(cwd=tmp_path, options=ReplOptions(max_steps=10))
    session.execute("map heap anon size 64K")
    refused = session.execute("write heap[*]").text()
    assert "this statement would take the run past 10 page operations" in refused
    session.execute(":reset")
    session.execute("map heap anon size 64K")
    assert "past 10 page operations" in session.execute("write heap[*]").text()
    assert "steps 1–10  write" in session.execute("write heap[0..10]").text()
    # The limit counts the whole session's page operations, as in one `faultlang run`.
    assert "past 10 page operations" in session.execute("write heap[10]").text()
