"""Statements of one shipped scenario dropped into another: whatever mix passes
`check` runs to the end or stops with a faultlang error, never a Python exception
(SimulatorBug included) and never a hang. The engine's features meet here in
orders no hand-written test chose: a uffd register after a swap-out, a THP
collapse after a fork, a truncate during a migration."""

from __future__ import annotations

import random
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlang.errors import FaultlangError
from faultlang.lang import check_all
from faultlang.lang.parse import parse_text
from faultlang.runtime.runner import run_scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").rglob("*.fault"))
TEXTS = {path: path.read_text() for path in SCENARIOS}
# declarations stay with their scenario; everything else may move
DECLARATIONS = ("set ", "map ", "file ", "memfd ", "title", "kernel ", "process ", "trace ", "#")
MOVABLE = [(path, line) for path, text in TEXTS.items() for line in text.splitlines()
           if line.strip() and not line.lstrip().startswith(DECLARATIONS)]
NAMED = {"map": re.compile(r"^\s*map\s+(\w+)"), "file": re.compile(r"^\s*(?:file|memfd)\s+(\w+)"),
         "process": re.compile(r"^\s*(?:process|fork)\s+(\w+)")}


def declared(text: str) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {kind: [] for kind in NAMED}
    for line in text.splitlines():
        for kind, pattern in NAMED.items():
            match = pattern.match(line)
            if match:
                names[kind].append(match.group(1))
    return names


NAMES = {path: declared(text) for path, text in TEXTS.items()}


def moved(line: str, source: Path, host: Path, rng: random.Random) -> str:
    """`line` of `source`, its mapping, file and process names swapped for the host's."""
    for kind, names in NAMES[source].items():
        for name in names:
            if NAMES[host][kind] and re.search(rf"\b{re.escape(name)}\b", line):
                line = re.sub(rf"\b{re.escape(name)}\b", rng.choice(NAMES[host][kind]), line)
    return line


def mixed(rng: random.Random) -> tuple[Path, str]:
    host = rng.choice(SCENARIOS)
    lines = TEXTS[host].splitlines()
    for _ in range(rng.randint(1, 8)):
        source, line = rng.choice(MOVABLE)
        lines.insert(rng.randint(len(lines) // 3, len(lines)), moved(line, source, host, rng))
    return host, "\n".join(lines) + "\n"


# A seed, not st.randoms(): Hypothesis steers its own choices towards the first
# scenario and the first line, and this test is about the far corners.
@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32))
def test_mixed_scenarios_run_or_stop_with_a_faultlang_error(seed: int) -> None:
    host, text = mixed(random.Random(seed))
    try:
        scenario = parse_text(text, str(host))   # `trace` files resolve beside the host
        if check_all(scenario):
            return
        run_scenario(scenario, max_steps=20_000)
    except FaultlangError as err:
        err.render()
