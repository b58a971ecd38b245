"""`trace FILE [format lackey|plain]`: replay a memory-access trace beside the scenario.

Formats: valgrind lackey (`I  ADDR,SIZE` instruction fetch, ` L `/` S `/` M ` load,
store, modify) and plain (`R ADDRESS` / `W ADDRESS`, hex or decimal). A `.xz` file is
read with the lzma module. Only files inside the scenario's folder may be read
(symlinks resolved, absolute paths and `..` escapes refused).

How a replay is recorded (a choice, for speed: a real trace has ~1M accesses):
- every access counts as one step (so `--max-steps` bounds it, and the step numbers
  of later statements stay comparable), but only the accesses that faulted get a
  StepRecord; the statement gets a summary note (accesses, faults, majors).
- a run of consecutive accesses to the same page with the same kind is replayed as
  its first access plus a counter: after the first, the rest cannot fault and change
  nothing else (the MMU's accessed/dirty bits are already set). A lackey access that
  crosses a page boundary touches both pages; `M` is a store (its load hits the same
  page first and cannot fault on its own).
- an address outside every VMA is a SIGSEGV step the first time its page is touched;
  later accesses to that page are skipped and the page is listed once in a note.
"""

from __future__ import annotations

import lzma
import os
import re
from pathlib import Path
from typing import Optional

from faultlang.errors import ScenarioError
from faultlang.kernel.arch.x86.cpu import mmu_pte_table
from faultlang.kernel.include.linux import pgtable as pt

READ, WRITE, EXEC = 0, 1, 2
_OPS = ("read", "write", "exec")
_P, _RW, _NX, _PFN = pt._PAGE_PRESENT, pt._PAGE_RW, pt._PAGE_NX, pt.PFN_MASK
_A, _A_D = pt._PAGE_ACCESSED, pt._PAGE_ACCESSED | pt._PAGE_DIRTY
_LACKEY = re.compile(r"^(?:(I) |\s([LSM]))\s*([0-9a-fA-F]+),(\d+)", re.M)
_PLAIN = re.compile(r"^\s*([RWrw])\s+(0[xX][0-9a-fA-F]+|\d+)\s*$", re.M)
_KIND = {"I": EXEC, "L": READ, "S": WRITE, "M": WRITE}

# path → (mtime, size, runs): a trace is parsed once per process (opt reads it twice)
_CACHE: dict[tuple[str, str], tuple[float, int, list]] = {}


def resolve_trace(source_name: str, path: str, node=None) -> Path:
    """The trace file, refused unless it lies inside the scenario's own folder."""
    span = getattr(node, "span", None)
    if os.path.isabs(path):
        raise ScenarioError(f"trace '{path}' is an absolute path",
                            "put the trace beside the scenario and name it relatively", span)
    base = Path(source_name).resolve().parent if source_name and not source_name.startswith("<") \
        else Path.cwd().resolve()
    target = (base / path).resolve()
    if target != base and base not in target.parents:
        raise ScenarioError(f"trace '{path}' lies outside the scenario's folder {base}",
                            "copy (a cut of) the trace beside the scenario", span)
    if not target.is_file():
        raise ScenarioError(f"there is no trace file '{path}' beside the scenario",
                            "check the file name", span)
    return target


def parse_trace(text: str, fmt: Optional[str]) -> list[tuple[int, int]]:
    """The accesses as runs: [(page << 2 | kind, count), ...] in order."""
    if fmt is None:
        head = text.lstrip()[:1].upper()
        fmt = "plain" if head in ("R", "W") else "lackey"
    keys: list[int] = []
    append = keys.append
    if fmt == "plain":
        for op, addr in _PLAIN.findall(text):
            append((int(addr, 0) >> 12) << 2 | (WRITE if op in "Ww" else READ))
    else:
        for i, lsm, addr, size in _LACKEY.findall(text):
            a = int(addr, 16)
            kind = EXEC if i else _KIND[lsm]
            append((a >> 12) << 2 | kind)
            last = (a + max(1, int(size)) - 1) >> 12
            if last != a >> 12:
                append(last << 2 | kind)
    runs: list[tuple[int, int]] = []
    prev, count = -1, 0
    for key in keys:
        if key == prev:
            count += 1
        else:
            if count:
                runs.append((prev, count))
            prev, count = key, 1
    if count:
        runs.append((prev, count))
    return runs


def load_trace(file: Path, fmt: Optional[str]) -> list[tuple[int, int]]:
    st = file.stat()
    key = (str(file), fmt or "")
    hit = _CACHE.get(key)
    if hit and hit[0] == st.st_mtime and hit[1] == st.st_size:
        return hit[2]
    opener = lzma.open if file.suffix == ".xz" else open
    with opener(file, "rt", errors="replace") as f:
        runs = parse_trace(f.read(), fmt)
    _CACHE.clear()
    _CACHE[key] = (st.st_mtime, st.st_size, runs)
    return runs


def replay(machine, task, runs: list[tuple[int, int]], node=None) -> list[str]:
    """Run the accesses on the machine; returns the statement's notes."""
    total = sum(c for _, c in runs)
    machine.charge(total, node)
    system = task.mm.system
    mm = task.mm
    mem = system.phys.mem
    policy = system.policy
    stamp = policy.stamp if policy is not None and policy.name == "lru" else None
    bad: dict[int, int] = {}
    faults = majors = 0
    region, table = -1, None
    first = machine.step + 1
    for key, count in runs:
        page = key >> 2
        if page in bad:
            machine.step += count
            continue
        if page >> 9 != region:
            region, table = page >> 9, mmu_pte_table(mm, page << 12)
        kind = key & 3
        if table is not None:
            i = page & 511
            pte = table[i]
            if pte & _P and (kind == READ or kind == WRITE and pte & _RW
                             or kind == EXEC and not pte & _NX):
                machine.step = n = machine.step + count
                if kind == WRITE:
                    if pte | _A_D != pte:
                        table[i] = pte | _A_D
                    mem[(pte & _PFN) >> 12] = n
                elif not pte & _A:
                    table[i] = pte | _A
                if stamp is not None:
                    stamp[(pte & _PFN) >> 12] = n
                continue
        step = machine.access_one(task, _OPS[kind], page << 12, None)
        region = -1                          # the fault may have built a PTE table
        if step.outcome in ("SIGSEGV", "SIGBUS"):
            bad[page] = 1
        elif step.outcome in ("minor", "major"):
            faults += 1
            majors += step.outcome == "major"
        if stamp is not None and step.outcome in ("minor", "major", "none"):
            t = mmu_pte_table(mm, page << 12)
            if t is not None and t[page & 511] & _P:
                stamp[(t[page & 511] & _PFN) >> 12] = machine.step + count - 1
        machine.step += count - 1
        if not task.alive:
            machine.step = first - 1 + total
            break
    notes = [f"{total:,} accesses replayed ({len(runs):,} runs of one page): "
             f"{faults} faults ({majors} major); only faulting accesses are logged"]
    if bad:
        pages = ", ".join(f"{p << 12:#x}" for p in sorted(bad)[:20])
        more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
        notes.append(f"{len(bad)} pages outside every mapping (SIGSEGV, reported once per "
                     f"page): {pages}{more}")
    if not task.alive:
        notes.append(f"{task.comm} was killed: {task.exit_reason}")
    return notes


def run_trace(machine, stmt, process: Optional[str], source_name: str) -> list[str]:
    task = machine.live_task(process, stmt)
    file = resolve_trace(source_name, stmt.path, stmt)
    runs = load_trace(file, stmt.format)
    system = task.mm.system
    system.current = task
    return replay(machine, task, runs, stmt)
