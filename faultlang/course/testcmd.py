"""`faultlang test PATH…`: run scenarios, compare them with their goldens, grade them.

Every scenario under the paths runs; one with a golden beside it must print exactly
that golden, and every scenario's `expect`s must hold. Missing goldens (scenario with
no .out) and stale ones (.out with no scenario) are listed by name but do not fail:
`--update` writes the missing ones and rewrites those that differ.

Exit codes: 0 all passed, 1 a golden differs or an expect failed, 2 a scenario does
not parse, check or run, or the paths hold no scenario.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, TextIO

from faultlang.course.golden import (discover, display_name, find_root, golden_for,
                                     render_golden, unified_diff)

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


@dataclass
class Outcome:
    """The result of one scenario; plain data so it crosses the process pool."""

    name: str
    path: str
    golden: Optional[str]
    golden_status: str        # match mismatch missing updated twin error
    expects: list[dict[str, Any]] = field(default_factory=list)
    diff: str = ""
    error: Optional[str] = None
    seconds: float = 0.0

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        if self.golden_status == "mismatch" or not all(e["ok"] for e in self.expects):
            return "fail"
        return "pass"


def check_one(path_text: str, root_text: str, update: bool) -> Outcome:
    """Run one scenario against its golden (the pool's unit of work)."""
    from faultlang.errors import FaultlangError

    path, root = Path(path_text), Path(root_text)
    name = display_name(path, root)
    golden = golden_for(path)
    golden_text = str(golden) if golden else None
    start = time.perf_counter()
    try:
        rendered = render_golden(path, root)
    except FaultlangError as err:
        return Outcome(name, path_text, golden_text, "error", error=err.render(),
                       seconds=time.perf_counter() - start)
    expects = [e.to_data() for e in rendered.expects]
    diff = ""
    if golden is None:
        status = "twin"
    elif golden.exists() and golden.read_text() == rendered.text:
        status = "match"
    elif update:
        golden.write_text(rendered.text)
        status = "updated"
    elif golden.exists():
        status = "mismatch"
        diff = unified_diff(golden.read_text(), rendered.text, display_name(golden, root))
    else:
        status = "missing"
    error = rendered.error     # an engine-reported stop (e.g. max steps) is an error too
    return Outcome(name, path_text, golden_text, status, expects, diff, error,
                   time.perf_counter() - start)


def select(paths: Sequence[str], pattern: Optional[str]) -> tuple[list[Path], list[Path]]:
    scenarios, stale = discover(paths)
    if pattern:
        scenarios = [p for p in scenarios if matches(p, pattern)]
    return scenarios, stale


def matches(path: Path, pattern: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatch(path.as_posix(), pattern) or fnmatch.fnmatch(path.name, pattern)
    return pattern in path.as_posix()


def run_all(scenarios: Sequence[Path], root: Optional[Path], update: bool,
            jobs: int) -> list[Outcome]:
    work = [(str(p), str(root or find_root(p)), update) for p in scenarios]
    if jobs <= 1 or len(work) < 2:
        return [check_one(*w) for w in work]
    # imported here: multiprocessing costs every `faultlang run` start-up ~20 ms
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        # Chunks amortise the pickling round trip; many scenarios run in milliseconds.
        chunk = max(1, len(work) // (jobs * 8))
        return list(pool.map(check_one, *zip(*work), chunksize=chunk))


def summary(outcomes: Sequence[Outcome], stale: Sequence[Path]) -> dict[str, int]:
    count = {s: sum(o.status == s for o in outcomes) for s in ("pass", "fail", "error")}
    count["missing"] = sum(o.golden_status == "missing" for o in outcomes)
    count["updated"] = sum(o.golden_status == "updated" for o in outcomes)
    count["stale"] = len(stale)
    return count


def print_text(outcomes: Sequence[Outcome], stale: Sequence[str], out: TextIO,
               seconds: float) -> None:
    for o in outcomes:
        label = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}[o.status]
        extra = {"updated": "  (golden updated)", "missing": "  (no golden)"}.get(o.golden_status, "")
        out.write(f"{label:5} {o.name}{extra}\n")
        if o.error:
            out.write("".join(f"      {line}\n" for line in o.error.splitlines()))
        if o.diff:
            out.write(o.diff)
        for e in o.expects:
            if not e["ok"]:
                out.write(f"      line {e['line']}: {e['text']}  expected {e['expected']}, "
                          f"got {e['actual']}\n")
    for o in outcomes:
        if o.golden_status == "missing":
            out.write(f"missing golden: {o.name} (faultlang test --update writes it)\n")
    for name in stale:
        out.write(f"stale golden: {name} (no scenario beside it)\n")
    c = summary(outcomes, [Path(s) for s in stale])
    out.write(f"\n{len(outcomes)} scenarios: {c['pass']} passed, {c['fail']} failed, "
              f"{c['error']} errors; {c['missing']} missing, {c['stale']} stale, "
              f"{c['updated']} updated goldens ({seconds:.1f}s)\n")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                   help="scenario files or directories (default: .)")
    p.add_argument("--update", action="store_true", help="write missing goldens, rewrite differing ones")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--gradescope", metavar="FILE", help="also write Gradescope's results.json here")
    p.add_argument("--filter", "-k", metavar="PATTERN",
                   help="only scenarios whose path contains PATTERN (or matches it, with * ? [])")
    p.add_argument("--list", action="store_true", help="list the scenarios that would run")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="run N in parallel")
    p.add_argument("--root", metavar="DIR",
                   help="the course root the goldens name paths from (default: found from "
                        "pyproject.toml, pytest.ini, tox.ini, setup.cfg or .git)")


def cmd_test(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    missing_paths = [p for p in args.paths if not Path(p).exists()]
    if missing_paths:
        print(f"faultlang test: no such file or directory: {', '.join(missing_paths)}",
              file=sys.stderr)
        return EXIT_ERROR
    scenarios, stale_paths = select(args.paths, args.filter)
    root = Path(args.root) if args.root else None
    if args.list:
        for p in scenarios:
            out.write(display_name(p, root or find_root(p)) + "\n")
        return EXIT_OK
    if not scenarios:
        print("faultlang test: no scenarios (.fault, .yaml) under "
              + ", ".join(args.paths), file=sys.stderr)
        return EXIT_ERROR
    start = time.perf_counter()
    outcomes = run_all(scenarios, root, args.update, max(1, args.jobs))
    seconds = time.perf_counter() - start
    stale = [display_name(p, root or find_root(p)) for p in stale_paths]
    if args.gradescope:
        from faultlang.course.gradescope import results
        Path(args.gradescope).write_text(json.dumps(results(outcomes, seconds), indent=1) + "\n")
    if args.json:
        data = {"ok": all(o.status == "pass" for o in outcomes),
                "summary": summary(outcomes, stale_paths), "stale": stale,
                "scenarios": [{**asdict(o), "status": o.status} for o in outcomes]}
        out.write(json.dumps(data, indent=1) + "\n")
    else:
        print_text(outcomes, stale, out, seconds)
    if any(o.status == "error" for o in outcomes):
        return EXIT_ERROR
    return EXIT_FAIL if any(o.status == "fail" for o in outcomes) else EXIT_OK
