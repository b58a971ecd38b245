"""`faultlang verify FILE [--repeat N] [--setup] [--json]`: the whole pipeline.

Exit status: 0 when the real kernel agrees with the simulation on every compared
statement (noisy ones included), 1 when some differ, 2 when verify cannot run here
(not Linux on x86-64, no C compiler, a broken scenario): a FaultlangError.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from contextlib import nullcontext
from pathlib import Path

from faultlang.errors import FaultlangError
from faultlang.verify.result import SettingRow, Verification

__all__ = ["run_verify", "verify_scenario"]


def _check_machine() -> None:
    system, machine = platform.system(), platform.machine()
    if system != "Linux" or machine not in ("x86_64", "AMD64"):
        raise FaultlangError(
            f"verify runs scenarios on a real Linux x86-64 kernel, and this is {system} "
            f"on {machine}", "run it on a Linux x86-64 machine (a virtual machine will do)")


def _setting_notes(rows: list[SettingRow], setup: bool) -> tuple[str, ...]:
    notes = []
    for row in rows:
        if not (row.relevant and row.differs):
            continue
        if setup and row.settable:
            notes.append(f"{row.key} was set to {row.scenario} for the run and restored after")
        elif row.settable:
            notes.append(f"{row.key} is {row.machine} here but {row.scenario} in the scenario: "
                         "counts may differ; --setup (root) sets it for the run")
        else:
            notes.append(f"{row.key} is {row.machine} here but {row.scenario} in the scenario; "
                         "verify cannot change it")
    return tuple(notes)


def verify_scenario(path: str, repeat: int = 3, setup: bool = False,
                    keep_source: str = "", scratch: str = "") -> Verification:
    """Simulate, generate, build, run `repeat` times and compare: the Verification.
    scratch: the directory for the scenario's disk files (default: the cache)."""
    from faultlang.cli import load
    from faultlang.lang.checker import check
    from faultlang.verify import build, cgen, compare, files, host, measure, uffd

    _check_machine()
    if repeat < 1:
        raise FaultlangError("--repeat must be at least 1", "e.g. --repeat 3")
    scenario = load(path)
    check(scenario)
    simulation = compare.simulate(scenario)
    cache = build.cache_dir()
    journal = cache / "setup-journal.json"
    notes: tuple[str, ...] = tuple(
        f"undid `{step}`, left by an interrupted --setup"
        for step in host.repair_interrupted_setup(journal))
    root = files.scratch_root(scratch, cache)
    disk = files.maps_cold_files(scenario)
    rows = host.compare_settings(simulation.settings, root, disk)
    # what this machine cannot run as the scenario says: skipped, with the reason
    program = cgen.generate(scenario, simulation.layout, host.unavailable(rows, setup),
                            uffd=uffd.probe())
    if keep_source:
        Path(keep_source).write_text(program.source, encoding="utf-8")
    built = build.build(program.source)
    context = host.Setup(simulation.settings, journal, root,
                         disk_files=disk) if setup else nullcontext()
    with context, files.ScratchDir(root, files.declares_disk_files(scenario)) as place:
        during = host.compare_settings(simulation.settings, root, disk)
        idle = measure.background_faults()
        runs = measure.run_program(built.binary, repeat, env=place.environment)
    notes += (place.note,) if place.note else ()
    if isinstance(context, host.Setup):
        notes += tuple(f"undid `{step}`, left by an interrupted --setup"
                       for step in context.repaired)
    notes += _setting_notes(rows, setup)
    if runs and runs[0].uid not in (0, -1):
        notes += ("not root: zero, cow and resident pages look alike and perf may be denied",)
    return compare.compare(simulation, program, runs, tuple(during), host.kernel_release(),
                           scenario.source_name, str(built.binary), notes, idle)


def run_verify(args: argparse.Namespace) -> int:
    try:
        verification = verify_scenario(args.scenario, args.repeat, args.setup,
                                       args.keep_source or "",
                                       getattr(args, "scratch", "") or "")
    except FaultlangError as err:
        if not err.source_text and err.source_name == "<input>":
            err.source_name = "faultlang verify"      # not about a line of the scenario
        raise
    if args.json:
        sys.stdout.write(json.dumps(verification.to_data(), indent=1, default=str) + "\n")
    else:
        from faultlang.render.console import make_console
        from faultlang.verify.view import VerifyView
        console = make_console(width=args.width, color=False if args.no_color else None)
        console.print(VerifyView(verification))
    return verification.exit_code
