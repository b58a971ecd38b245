"""The Timeline: checkpoints plus replay must give back exactly the states recorded."""

from __future__ import annotations

from faultlang.lang.parse import parse_statement
from faultlang.repl._timeline import Timeline
from faultlang.runtime.runner import Runner

SCRIPT = ["map heap anon size 64K", "write heap[0..4]", "read heap[6]", "fork child",
          "as child: write heap[1]", "madvise heap[2..4] dontneed", "write heap[3]",
          "expect minflt == 6", "show counters", "exit child", "write heap[1]"]


def fingerprint(runner: Runner) -> tuple:
    """Everything observable: counters, every step, every statement record."""
    machine = runner.ensure_machine()
    return (tuple((p.name, p.counters, p.alive) for p in runner.process_views()),
            tuple(s.to_data()["path"] + [s.outcome, s.value, s.n] for s in machine.steps),
            tuple(r.text for r in runner.statements), machine.counter_values())


def record(timeline: Timeline, *, force_checkpoints: bool | None = None) -> list[tuple]:
    """Run SCRIPT, pushing every state; the fingerprint after each statement."""
    runner = Runner()
    statements: tuple = ()
    prints = []
    timeline.start((None, ()))
    for text in SCRIPT:
        stmt = parse_statement(text)
        assert stmt is not None
        runner.execute(stmt)
        statements += (stmt,)
        cost = {None: 0.0, True: 1e9, False: 0.0}[force_checkpoints]
        if force_checkpoints is False:
            timeline._checkpoint_cost = 1e9        # never a checkpoint: replay everything
        timeline.push((runner, statements), text, stmt, cost)
        prints.append(fingerprint(runner))
    return prints


def test_every_state_comes_back_from_checkpoints() -> None:
    timeline = Timeline(Runner)
    prints = record(timeline, force_checkpoints=True)
    assert timeline.checkpoints() == len(SCRIPT) + 1
    for index, expected in enumerate(prints, start=1):
        runner, statements = timeline.state(index)
        assert runner is not None and len(statements) == index
        assert fingerprint(runner) == expected


def test_every_state_comes_back_by_replay_from_the_start() -> None:
    timeline = Timeline(Runner)
    prints = record(timeline, force_checkpoints=False)
    assert timeline.checkpoints() == 1
    for index, expected in enumerate(prints, start=1):
        runner, _ = timeline.state(index)
        assert runner is not None and fingerprint(runner) == expected


def test_a_restored_state_is_a_copy_the_timeline_does_not_share() -> None:
    timeline = Timeline(Runner)
    prints = record(timeline, force_checkpoints=True)
    runner, _ = timeline.state(3)
    assert runner is not None
    stmt = parse_statement("write heap[9]")
    assert stmt is not None
    runner.execute(stmt)
    again, _ = timeline.state(3)
    assert again is not None and fingerprint(again) == prints[2]


def test_checkpoints_share_step_records_instead_of_copying_them() -> None:
    timeline = Timeline(Runner)
    record(timeline, force_checkpoints=True)
    first, _ = timeline.state(len(SCRIPT))
    second, _ = timeline.state(len(SCRIPT))
    assert first is not None and second is not None
    assert first.machine is not None and second.machine is not None
    assert first.machine.steps is not second.machine.steps
    assert all(a is b for a, b in zip(first.machine.steps, second.machine.steps, strict=True))


def test_a_new_push_after_going_back_drops_the_entries_ahead() -> None:
    timeline = Timeline(Runner)
    record(timeline)
    timeline.cursor = 2
    runner, statements = timeline.state(2)
    stmt = parse_statement("read heap[9]")
    assert runner is not None and stmt is not None
    runner.execute(stmt)
    timeline.push((runner, statements + (stmt,)), "read heap[9]", stmt, 0.0)
    assert len(timeline) == 4 and timeline.position() == ""
    restored, _ = timeline.state(3)
    assert restored is not None and restored.statements[-1].text == "read heap[9]"


def test_the_history_is_bounded_and_still_restores() -> None:
    timeline = Timeline(Runner, limit=5)
    prints = record(timeline)
    assert len(timeline) <= 5
    runner, statements = timeline.state(timeline.cursor)
    assert runner is not None and fingerprint(runner) == prints[-1]
    assert len(statements) == len(SCRIPT)
    assert timeline.find(0) is None                 # the start was dropped


def test_position_says_where_the_cursor_is() -> None:
    timeline = Timeline(Runner)
    record(timeline)
    assert timeline.position() == ""
    timeline.cursor = 4
    assert timeline.position() == f"4 of {len(SCRIPT)}"


class _Shared:
    """Like the engine's vm_ops tables: copying gives back the same object."""

    def __deepcopy__(self, memo: dict) -> "_Shared":
        return self


def test_engine_tables_and_functions_are_referred_to_not_copied() -> None:
    import io

    from faultlang.kernel.trace import recorder
    from faultlang.repl._timeline import _Pickler, _Unpickler

    table = _Shared()
    state = {"recorder": recorder, "table": table, "function": fingerprint, "plain": [1, 2]}
    shared: dict = {}
    buffer = io.BytesIO()
    _Pickler(buffer, shared, None).dump(state)
    back = _Unpickler(io.BytesIO(buffer.getvalue()), shared, []).load()
    assert back["recorder"] is recorder and back["table"] is table
    assert back["function"] is fingerprint
    assert back["plain"] == [1, 2] and back["plain"] is not state["plain"]


def test_a_restored_file_mapping_keeps_the_shared_vm_ops_table() -> None:
    import pytest

    filemap = pytest.importorskip("faultlang.kernel.mm.filemap")
    if not hasattr(filemap, "generic_file_vm_ops"):
        pytest.skip("file mappings are not simulated in this tree")
    timeline = Timeline(Runner)
    timeline.start((None, ()))
    runner = Runner()
    statements: tuple = ()
    for text in ("file f size 64K cached", "map m file f size 64K", "read m[0]"):
        stmt = parse_statement(text)
        assert stmt is not None
        runner.execute(stmt)
        statements += (stmt,)
        timeline.push((runner, statements), text, stmt, 1e9)
    restored, _ = timeline.state(len(timeline) - 1)
    assert restored is not None and restored.machine is not None
    vma = restored.machine.processes["main"].mm.vmas[0]
    assert vma.vm_ops is filemap.generic_file_vm_ops
