"""Helpers for engine tests: run a few statements and look at the result."""

from __future__ import annotations

import pytest

from faultlang.lang import parse_text
from faultlang.runtime.runner import Runner


class Sim:
    """A runner fed text statements one at a time, with shortcuts for assertions."""

    def __init__(self) -> None:
        self.runner = Runner()

    def __call__(self, text: str):
        rec = None
        for stmt in parse_text(text).statements:
            rec = self.runner.execute(stmt)
        return rec

    @property
    def machine(self):
        return self.runner.ensure_machine()

    def steps(self, rec):
        return [s for s in self.machine.steps if rec.first_step <= s.n < rec.last_step]

    def last(self):
        return self.machine.steps[-1]

    def task(self, name="main"):
        return self.machine.processes[name]


@pytest.fixture
def sim() -> Sim:
    return Sim()
