"""The real prompt, driven through prompt_toolkit's pipe input with a DummyOutput: keys,
multi-line input, history, and the loop in app.run_repl."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from faultlang.render.console import make_console
from faultlang.repl.app import BANNER, history_path, run_repl
from faultlang.repl.toolbar import ToolbarStatus, toolbar_fragments, toolbar_text

ENTER, ALT_ENTER, CTRL_C, CTRL_D = "\r", "\x1b\r", "\x03", "\x04"


@pytest.fixture
def keys() -> Iterator[PipeInput]:
    with create_pipe_input() as pipe:
        yield pipe


def run(keys: PipeInput, typed: str, tmp_path: Path, vi: bool = False) -> tuple[int, str]:
    """Type `typed` into the REPL; (exit status, everything it printed)."""
    keys.send_text(typed)
    keys.close()                    # the end of the input ends the loop (as Ctrl-D would)
    out = io.StringIO()
    status = run_repl(vi=vi, input=keys, output=DummyOutput(), cwd=tmp_path,
                      console=make_console(file=out, width=100, color=False))
    return status, out.getvalue()


def test_statements_run_and_quit_ends_the_loop(keys: PipeInput, tmp_path: Path) -> None:
    status, out = run(keys, f"map heap anon size 64K{ENTER}write heap[3]{ENTER}:quit{ENTER}",
                      tmp_path)
    assert status == 0
    assert out.startswith(BANNER.splitlines()[0])
    assert "step 1  write  0x7f0000003000  heap[3]  minor  do_anonymous_page" in out
    assert "after   resident  pfn 0x1000" in out


def test_enter_inside_an_unfinished_statement_starts_a_new_line(keys: PipeInput,
                                                               tmp_path: Path) -> None:
    _, out = run(keys, f"map heap anon size{ENTER}64K{ENTER}:q{ENTER}", tmp_path)
    assert "heap: 0x7f0000000000-0x7f0000010000 (16 pages" in out
    assert "error" not in out


def test_alt_enter_adds_a_line_so_several_statements_run_together(keys: PipeInput,
                                                                  tmp_path: Path) -> None:
    _, out = run(keys, f"map a anon size 4K{ALT_ENTER}write a[0]{ENTER}:q{ENTER}", tmp_path)
    assert "line 1: map a anon size 4K" in out and "line 2: write a[0]" in out


def test_ctrl_j_adds_a_line_in_vi_mode_too(keys: PipeInput, tmp_path: Path) -> None:
    _, out = run(keys, f"map a anon size 4K\nwrite a[0]{ENTER}:q{ENTER}", tmp_path, vi=True)
    assert "line 1: map a anon size 4K" in out and "line 2: write a[0]" in out


def test_an_error_is_shown_and_the_loop_goes_on(keys: PipeInput, tmp_path: Path) -> None:
    _, out = run(keys, f"wirte a[0]{ENTER}map a anon size 4K{ENTER}:q{ENTER}", tmp_path)
    assert "did you mean 'write'?" in out and "a: 0x7f" in out


def test_ctrl_c_cancels_the_input_and_ctrl_d_quits(keys: PipeInput, tmp_path: Path) -> None:
    status, out = run(keys, f"map never anon size 4K{CTRL_C}map kept anon size 4K{ENTER}{CTRL_D}",
                      tmp_path)
    assert status == 0
    assert "kept: 0x7f" in out and "never" not in out


def test_inputs_go_to_the_history_file(keys: PipeInput, tmp_path: Path) -> None:
    run(keys, f"map a anon size 4K{ENTER}:q{ENTER}", tmp_path)
    history = history_path().read_text()
    assert "+map a anon size 4K" in history and "+:q" in history


# The history file is read in the background when a prompt starts; keys that arrive
# before it is read (a pipe delivers them all at once) find it empty, so each test
# uses the history in the first prompt only.
OLD_HISTORY = ("\n# 2026-01-01 00:00:00\n+map old anon size 8K\n"
               "\n# 2026-01-01 00:00:01\n+read x[0]\n")


def test_up_recalls_the_previous_input(keys: PipeInput, tmp_path: Path) -> None:
    history_path().write_text(OLD_HISTORY)
    _, out = run(keys, f"\x1b[A\x1b[A{ENTER}:q{ENTER}", tmp_path)
    assert "old: 0x7f" in out


def test_ctrl_r_searches_the_history(keys: PipeInput, tmp_path: Path) -> None:
    history_path().write_text(OLD_HISTORY)
    _, out = run(keys, f"\x12old{ENTER}{ENTER}:q{ENTER}", tmp_path)
    assert "old: 0x7f" in out


def test_vi_mode_runs_the_same_statements(keys: PipeInput, tmp_path: Path) -> None:
    _, out = run(keys, f"map a anon size 4K{ENTER}:q{ENTER}", tmp_path, vi=True)
    assert "a: 0x7f" in out


def test_the_history_file_follows_xdg_and_can_be_overridden(tmp_path: Path) -> None:
    assert history_path({"FAULTLANG_HISTORY": "/x/h"}) == Path("/x/h")
    assert history_path({"XDG_STATE_HOME": "/state"}) == Path("/state/faultlang/history")
    relative = history_path({"XDG_STATE_HOME": "state"})
    assert relative == Path.home() / ".local" / "state" / "faultlang" / "history"


def test_an_unwritable_history_falls_back_to_memory(keys: PipeInput, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("FAULTLANG_HISTORY", str(blocker / "history"))
    status, out = run(keys, f":q{ENTER}", tmp_path)
    assert status == 0 and "history not saved" in out


def test_the_toolbar_shows_process_counters_memory_and_modes() -> None:
    status = ToolbarStatus(process="child", minflt=3, majflt=1, rss=2, free=100, swap_used=1,
                           swap_total=8, history="2 of 5", trace=True, keys="vi")
    text = toolbar_text(status)
    for part in ("child", "minflt 3", "majflt 1", "RSS 2 pages", "free 100 frames",
                 "swap 1/8", "history 2 of 5", "trace on", "vi", "Linux 6.18"):
        assert part in text
    styles = dict((t, s) for s, t in toolbar_fragments(status))
    assert styles["1"] == "class:bottom-toolbar.major"
    assert "vi insert" in "".join(t for _, t in toolbar_fragments(status, "insert"))


def test_output_taller_than_the_terminal_goes_through_the_pager(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rich.console import Console

    from faultlang.repl import app
    from faultlang.repl.session import ReplSession

    paged: list[str] = []
    monkeypatch.setattr(app, "_page", lambda text, console: paged.append(text))
    out = io.StringIO()
    screen = app._Screen(Console(file=out, force_terminal=True, width=100, height=12))
    session = ReplSession(cwd=tmp_path)
    screen.show(session.execute("map heap anon size 64K"))
    assert paged == [] and "16 pages" in out.getvalue()
    screen.show(session.execute(":help"))
    assert len(paged) == 1 and ":explain FUNCTION" in paged[0]


def test_output_that_is_not_a_terminal_is_never_paged(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    from faultlang.repl import app
    from faultlang.repl.session import ReplSession

    monkeypatch.setattr(app, "_page", lambda text, console: pytest.fail("paged"))
    out = io.StringIO()
    app._Screen(make_console(file=out, width=100, color=False)).show(
        ReplSession(cwd=tmp_path).execute(":help"))
    assert ":explain FUNCTION" in out.getvalue()
