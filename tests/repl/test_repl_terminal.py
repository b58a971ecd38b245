"""End to end: `python -m faultlang` in a real pseudo-terminal (tmux), typed into with
send-keys and read back with capture-pane, as a student would see it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed: no pseudo-terminal to drive")


class Terminal:
    """One tmux server of our own (its own socket), running one window of 120x40."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"faultlang-test-{uuid.uuid4().hex[:8]}"
        self.env = env

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, env=self.env, timeout=10, check=False)
        return done.stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-x", "120", "-y", "40", command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def wait_for(self, found: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if found(screen) or time.monotonic() > deadline:
                return screen
            time.sleep(0.02)

    def type(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def alive(self) -> bool:
        done = subprocess.run(["tmux", "-L", self.socket, "has-session"], capture_output=True,
                              env=self.env, timeout=10, check=False)
        return done.returncode == 0

    def stop(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm-256color", PAGER="cat")
    env.pop("TMUX", None)
    term = Terminal(env)
    yield term
    term.stop()


def start_repl(terminal: Terminal, tmp_path: Path, *options: str) -> tuple[float, str]:
    began = time.monotonic()
    terminal.start(f"cd {tmp_path} && {sys.executable} -m faultlang {' '.join(options)}")
    screen = terminal.wait_for(lambda s: "fault(main)>" in s)
    return time.monotonic() - began, screen


def test_a_student_session_shows_the_path_the_pte_change_and_the_toolbar(
        terminal: Terminal, tmp_path: Path) -> None:
    seconds, screen = start_repl(terminal, tmp_path)
    assert "fault(main)>" in screen, screen
    assert "modelled on Linux 6.18" in screen
    screen = terminal.wait_for(lambda s: "minflt 0" in s)                # the toolbar
    assert "free 65536 frames" in screen and "trace off  emacs" in screen
    terminal.type("map heap anon size 64K", "Enter")
    terminal.wait_for(lambda s: "16 pages" in s)
    terminal.type("write heap[3]", "Enter")
    screen = terminal.wait_for(lambda s: "after   resident" in s)
    assert "step 1  write  0x7f0000003000  heap[3]  minor  do_anonymous_page" in screen
    assert "path: exc_page_fault → do_user_addr_fault" in screen
    assert "before  none" in screen
    screen = terminal.wait_for(lambda s: "minflt 1" in s)
    assert "RSS 1 pages" in screen and "free 65535 frames" in screen
    terminal.type("wirte heap[0]", "Enter")
    screen = terminal.wait_for(lambda s: "did you mean" in s)
    assert "  ^^^^^" in screen
    terminal.type("C-d")
    assert seconds < 5, f"{seconds:.2f}s to the first prompt"


def test_an_unfinished_statement_continues_and_ctrl_c_interrupts_a_long_one(
        terminal: Terminal, tmp_path: Path) -> None:
    start_repl(terminal, tmp_path)
    terminal.type("set ram 8G", "Enter", "map big anon", "Enter")
    # The continuation prompt (capture-pane drops its trailing space).
    screen = terminal.wait_for(lambda s: "\n......." in s)
    assert "fault(main)> map big anon\n......." in screen, screen
    terminal.type("size 4G", "Enter")
    terminal.wait_for(lambda s: "1048576 pages" in s)
    terminal.type("write big[*]", "Enter")
    time.sleep(1.0)
    terminal.type("C-c")
    screen = terminal.wait_for(lambda s: "interrupted" in s, timeout=20)
    assert "interrupted: line 3 stopped part-way and was undone" in screen, screen
    terminal.type("show counters", "Enter")
    screen = terminal.wait_for(lambda s: "pgmajfault" in s)
    assert "main       1       0       0" in screen
    terminal.type(":quit", "Enter")


def test_ctrl_c_drops_the_input_and_ctrl_d_quits(terminal: Terminal, tmp_path: Path) -> None:
    start_repl(terminal, tmp_path)
    terminal.type("map heap anon size 64K", "Enter")
    terminal.wait_for(lambda s: "16 pages" in s)
    terminal.type("-l", "write heap[0..8]")
    terminal.wait_for(lambda s: "write heap[0..8]" in s)
    terminal.type("C-c")
    screen = terminal.wait_for(lambda s: s.count("fault(main)>") == 3)
    assert screen.count("fault(main)>") == 3, screen        # a fresh, empty prompt
    terminal.type("show counters", "Enter")
    screen = terminal.wait_for(lambda s: "pgmajfault" in s)
    assert "main       1       0       0            0" in screen, screen   # nothing ran
    assert terminal.alive()
    terminal.type("C-d")
    deadline = time.monotonic() + 10
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not terminal.alive(), "Ctrl-D on an empty line should leave the REPL"


def test_a_range_past_the_step_limit_is_refused_at_once(terminal: Terminal,
                                                         tmp_path: Path) -> None:
    start_repl(terminal, tmp_path)
    terminal.type("map big anon size 64G", "Enter")       # 16M pages: past 5M operations
    terminal.wait_for(lambda s: "16777216 pages" in s)
    terminal.type("write big[*]", "Enter")
    # the hint is printed before the prompt is redrawn: wait for both
    screen = terminal.wait_for(lambda s: "hint:" in s and [
        line for line in s.splitlines() if line.strip()][-2] == "fault(main)>")
    assert "error: this statement would take the run past 5,000,000 page operations" in screen
    assert "raise the limit with --max-steps" in screen
    shown = [line for line in screen.splitlines() if line.strip()]
    assert shown[-2] == "fault(main)>", screen          # a new prompt, above the toolbar


def test_a_huge_range_runs_until_ctrl_c_and_the_session_goes_on(terminal: Terminal,
                                                                 tmp_path: Path) -> None:
    # With the limit raised (as the hint says), writing 64G runs for minutes.
    start_repl(terminal, tmp_path, "repl", "--max-steps", "20000000")
    terminal.type("map big anon size 64G", "Enter")
    terminal.wait_for(lambda s: "16777216 pages" in s)
    terminal.type("write big[*]", "Enter")
    time.sleep(1.0)
    terminal.type("C-c")
    screen = terminal.wait_for(lambda s: "interrupted" in s)
    assert "interrupted: line 2 stopped part-way and was undone" in screen, screen
    terminal.type("write big[5]", "Enter")
    screen = terminal.wait_for(lambda s: "step 1  write" in s)
    assert "step 1  write  0x7f0000005000  big[5]  minor  do_anonymous_page" in screen, screen
    terminal.type(":quit", "Enter")
