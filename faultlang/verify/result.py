"""The outcome of `faultlang verify` as plain data: what view.py draws and --json prints.

Nothing here imports the engine, so the view can be drawn (and tested) without it.
A Cell compares one quantity: the simulated value and the real value of every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["AGREE", "DIFFER", "NOISY", "NA", "SKIPPED", "Cell", "SettingRow", "StatementResult",
           "Verification", "judge"]

AGREE, DIFFER, NOISY, NA, SKIPPED = "agree", "differ", "noisy", "n/a", "skipped"


def judge(sim: Any, real: tuple[Any, ...], one_sided: bool = False,
          background: bool = False) -> str:
    """agree/differ when every run saw the same value, noisy when the runs disagree,
    n/a when a run could not measure it.

    one_sided: a machine-wide counter, which other processes can only push up: a run
    that counted less than the simulation is a difference however noisy the rest, and
    when the machine showed such `background` activity, more is noise, not a verdict.
    """
    if not real or any(r is None for r in real) or sim is None:
        return NA
    if one_sided and min(real) < sim:
        return DIFFER
    if len(set(real)) > 1:
        return NOISY
    if real[0] == sim:
        return AGREE
    return NOISY if one_sided and background else DIFFER


@dataclass(frozen=True)
class Cell:
    name: str
    sim: Any
    real: tuple[Any, ...]          # one value per run; None where it was not measured
    status: str
    note: str = ""                 # why it is n/a

    @classmethod
    def of(cls, name: str, sim: Any, real: tuple[Any, ...], note: str = "",
           one_sided: bool = False, background: bool = False) -> "Cell":
        return cls(name, sim, real, judge(sim, real, one_sided, background), note)

    @property
    def real_text(self) -> str:
        values = [v for v in self.real if v is not None]
        if not values:
            return "?"
        if all(isinstance(v, int) for v in values) and len(set(values)) > 1:
            return f"{min(values)}..{max(values)}"
        return " | ".join(dict.fromkeys(str(v) for v in values))

    def to_data(self) -> dict:
        return {"sim": self.sim, "real": list(self.real), "status": self.status,
                **({"note": self.note} if self.note else {})}


@dataclass(frozen=True)
class SettingRow:
    key: str
    scenario: str
    machine: str                   # "?" when it cannot be read
    relevant: bool                 # changes what the engine computes today
    settable: bool                 # --setup knows how to set it

    @property
    def differs(self) -> bool:
        if self.machine == "?":
            return False
        if self.key == "kernel":
            return not (self.machine == self.scenario
                        or self.machine.startswith(self.scenario + "."))
        return self.machine != self.scenario


@dataclass(frozen=True)
class StatementResult:
    index: int
    line: int
    text: str
    process: str
    mode: str                      # measure fork observe spawn exit evaluate skip
    status: str                    # agree differ noisy n/a skipped
    reason: str = ""
    cells: tuple[Cell, ...] = ()

    def cell(self, name: str) -> Optional[Cell]:
        for c in self.cells:
            if c.name == name:
                return c
        return None

    def to_data(self) -> dict:
        return {"index": self.index, "line": self.line, "text": self.text,
                "process": self.process, "mode": self.mode, "status": self.status,
                **({"reason": self.reason} if self.reason else {}),
                "cells": {c.name: c.to_data() for c in self.cells}}


@dataclass(frozen=True)
class Verification:
    scenario: str
    title: str
    kernel: str                    # the machine's `uname -r`
    simulated: str                 # "Linux 6.18"
    runs: int
    statements: tuple[StatementResult, ...]
    totals: tuple[tuple[str, tuple[Cell, ...]], ...] = ()    # process (or "vmstat") → cells
    settings: tuple[SettingRow, ...] = ()
    notes: tuple[str, ...] = ()
    binary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)       # diagnostics for --json

    def count(self, status: str) -> int:
        return sum(1 for s in self.statements if s.status == status)

    @property
    def ok(self) -> bool:
        return self.count(DIFFER) == 0 and not any(
            c.status == DIFFER for _, cells in self.totals for c in cells)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_data(self) -> dict:
        return {
            "scenario": self.scenario, "title": self.title, "ok": self.ok,
            "kernel": self.kernel, "simulated": self.simulated, "runs": self.runs,
            "summary": {s: self.count(s) for s in (AGREE, DIFFER, NOISY, NA, SKIPPED)},
            "settings": [{"key": r.key, "scenario": r.scenario, "machine": r.machine,
                          "differs": r.differs, "relevant": r.relevant} for r in self.settings],
            "statements": [s.to_data() for s in self.statements],
            "totals": {name: {c.name: c.to_data() for c in cells} for name, cells in self.totals},
            "notes": list(self.notes), "binary": self.binary, **self.extra,
        }
