"""Run the compiled program N times and parse what it measured (plain data).

Each run prints one `R key=value ...` line per record (see runtime.c, fv_print) and a
final `END`. A run is short (milliseconds): DAMON on the reference VMs pages out
memory that stays untouched for about a minute, so runs are made back to back and
each one maps its memory afresh.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from faultlang.errors import FaultlangError

__all__ = ["COUNTERS", "OUTCOMES", "STATES", "Record", "Run", "background_faults", "parse_output",
           "run_program"]

# The order of runtime.c's enums.
COUNTERS = ("minflt", "majflt", "page_faults", "perf_minor", "perf_major", "pgfault",
            "pgmajfault")
OUTCOMES = ("none", "minor", "major", "SIGSEGV SEGV_MAPERR", "SIGSEGV SEGV_ACCERR", "SIGSEGV",
            "SIGBUS BUS_ADRERR", "SIGBUS", "EFAULT", "signal", "blocked")
STATES = ("none", "zero", "resident", "cow", "swapped", "huge", "uffd_wp", "unmapped",
          "present", "swapcache")
KIND_STATEMENT, KIND_OBSERVE, KIND_READY, KIND_EXITED, KIND_BASELINE = 1, 2, 3, 4, 5
KIND_CONTROL = 6             # run by the controller (files): a result, no counters
PERF_COUNTERS = ("page_faults", "perf_minor", "perf_major")


@dataclass(frozen=True)
class Record:
    """One record a worker sent: a measured statement, an observation, a baseline..."""

    kind: int
    stmt: int
    wid: int
    pid: int
    counters: dict[str, Optional[int]] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    last: Optional[str] = None        # outcome of the last page an access touched
    state: Optional[str] = None       # observations
    value: Optional[int] = None
    err: int = 0                      # -errno of the first failing system call
    addr: int = 0                     # mmap result, or the first signal's address
    cum_minflt: int = 0               # the process's counters at the end of the window
    cum_majflt: int = 0


@dataclass(frozen=True)
class Run:
    records: tuple[Record, ...]
    uid: int = -1

    def statement(self, index: int) -> Optional[Record]:
        for rec in self.records:
            if rec.stmt == index and rec.kind in (KIND_STATEMENT, KIND_OBSERVE, KIND_CONTROL):
                return rec
        return None

    @property
    def baselines(self) -> tuple[Record, ...]:
        return tuple(r for r in self.records if r.kind == KIND_BASELINE)

    @property
    def perf(self) -> bool:
        return all(r.counters.get("page_faults") is not None
                   for r in self.records if r.kind == KIND_STATEMENT)


def _record(fields: dict[str, str]) -> Record:
    perf = fields.get("perf") == "1"
    counters: dict[str, Optional[int]] = {}
    for name in COUNTERS:
        value = int(fields[name])
        counters[name] = None if name in PERF_COUNTERS and not perf else value
    counts = [int(n) for n in fields["out"].split(",")]
    last = int(fields["last"])
    kind = int(fields["kind"])
    return Record(kind=kind, stmt=int(fields["stmt"]), wid=int(fields["wid"]),
                  pid=int(fields["pid"]), counters=counters,
                  outcomes={name: n for name, n in zip(OUTCOMES, counts, strict=True) if n},
                  last=OUTCOMES[last] if 0 <= last < len(OUTCOMES) else None,
                  state=STATES[int(fields["state"])] if kind == KIND_OBSERVE else None,
                  value=int(fields["value"]) if "value" in fields else None,
                  err=int(fields["err"]), addr=int(fields["addr"], 16),
                  cum_minflt=int(fields["cum_minflt"]), cum_majflt=int(fields["cum_majflt"]))


def parse_output(text: str) -> Run:
    """The records of one run's standard output. Raises ValueError on a truncated run."""
    records = []
    uid = -1
    lines = text.splitlines()
    if not lines or lines[-1] != "END":
        raise ValueError("the program stopped before its END line")
    for line in lines[:-1]:
        words = line.split()
        fields = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if words[0] == "FV":
            uid = int(fields.get("uid", "-1"))
        elif words[0] == "R":
            records.append(_record(fields))
    return Run(tuple(records), uid)


def run_program(binary: Path, repeat: int, timeout: float = 60.0,
                env: Optional[dict[str, str]] = None) -> list[Run]:
    """Run `binary` `repeat` times, back to back; each run's records. env: added to the
    program's environment (FV_SCRATCH, see files.py)."""
    runs = []
    for _ in range(repeat):
        runs.append(_run_once(binary, timeout, env or {}))
    return runs


def _run_once(binary: Path, timeout: float, extra: Optional[dict[str, str]] = None) -> Run:
    # Its own session, so that a run that hangs (an `exec` of odd bytes) is killed
    # whole, worker processes included.
    proc = subprocess.Popen([str(binary)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            env={**_environment(), **(extra or {})})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise FaultlangError(f"the generated program ran for more than {timeout:.0f} s",
                             "an `exec` of a page holding odd bytes may loop; "
                             "run with --keep-source and look at the program") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        if proc.returncode != 0:
            raise ValueError(f"exit status {proc.returncode}")
        return parse_output(out)
    except ValueError as problem:
        detail = err.strip().splitlines()[-1] if err.strip() else str(problem)
        raise FaultlangError(f"the generated program failed: {detail}",
                             "run with --keep-source FILE to look at the program") from None


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LD_", "GLIBC_"))}
    env.pop("FV_REEXEC", None)
    return env


def _pgfault() -> int:
    with open("/proc/vmstat", encoding="ascii") as f:
        for line in f:
            if line.startswith("pgfault "):
                return int(line.split()[1])
    return 0


def background_faults(seconds: float = 0.1) -> int:
    """Page faults the rest of the machine makes in `seconds` while we do nothing: what
    leaks into the machine-wide counters (vmstat) of every measurement window."""
    try:
        before = _pgfault()
        time.sleep(seconds)
        return _pgfault() - before
    except OSError:
        return 0
