"""docs/tour.md is a transcript: every `fault(...)> command` in its text blocks is run
through a ReplSession, and each output line the page shows must appear in what the REPL
prints, in the same order (a `...` line stands for lines the page leaves out)."""

from __future__ import annotations

import re
from pathlib import Path

from faultlang.repl.session import ReplSession

ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "docs" / "tour.md"
PROMPT = re.compile(r"^fault\((?P<process>[^)]*)\)> (?P<command>.*)$")


def tour_steps() -> list[tuple[str, str, list[str]]]:
    """(process in the prompt, command, the output lines shown) in page order."""
    steps: list[tuple[str, str, list[str]]] = []
    for block in re.findall(r"```text\n(.*?)```", TOUR.read_text(encoding="utf-8"), re.S):
        for line in block.splitlines():
            match = PROMPT.match(line)
            if match:
                steps.append((match["process"], match["command"], []))
            elif steps:
                steps[-1][2].append(line.rstrip())
    return steps


def shown_in_order(expected: list[str], actual: list[str]) -> str:
    """"" when every expected line (but `...`) occurs in `actual` in order, else why not."""
    position = 0
    for line in expected:
        if line == "...":
            continue
        try:
            position = actual.index(line, position) + 1
        except ValueError:
            return f"missing or out of order: {line!r}"
    return ""


def test_the_tour_has_the_steps_the_issue_asks_for() -> None:
    commands = [command for _, command, _ in tour_steps()]
    for wanted in ("map heap anon size 64K", "read heap[0]", "write heap[0]", "fork child",
                   "as child: write heap[0]", "swapout heap[4..8]", "reclaim 3",
                   ":undo", ":forward", ":explain do_wp_page", ":why heap[0]"):
        assert wanted in commands


def test_every_tour_step_shows_what_the_tour_says(tmp_path: Path) -> None:
    session = ReplSession(cwd=tmp_path)
    steps = tour_steps()
    assert len(steps) >= 15
    for process, command, expected in steps:
        assert session.current_process() == process, command
        actual = session.execute(command).text(width=100).splitlines()
        problem = shown_in_order(expected, actual)
        assert not problem, f"{command}: {problem}\n" + "\n".join(actual)
    assert (tmp_path / "my-session.fault").is_file()


def test_the_session_the_tour_saves_replays_to_the_same_counters(tmp_path: Path) -> None:
    from faultlang.lang.parse import parse_path
    from faultlang.runtime.runner import run_scenario

    session = ReplSession(cwd=tmp_path)
    for _, command, _ in tour_steps():
        session.execute(command)
    report = run_scenario(parse_path(tmp_path / "my-session.fault"))
    live = session.runner
    assert live is not None
    assert [p.counters for p in report.processes] == [p.counters for p in live.process_views()]
