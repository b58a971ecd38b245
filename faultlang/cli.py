"""The command line: faultlang run | check | test | quiz | repl | verify.

Exit codes: 0 ok, 1 an `expect` failed (or verify found a mismatch), 2 usage or
scenario error. Errors print file:line:col with a caret; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

from faultlang import __version__
from faultlang.errors import FaultlangError

EXIT_OK, EXIT_EXPECT, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:            # argparse exits 2 as we do
        self.print_usage(sys.stderr)
        print(f"faultlang: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="faultlang", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"faultlang {__version__}")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run a scenario and show what the kernel did")
    run.add_argument("scenario", help="a .fault or .yaml scenario")
    run.add_argument("--json", action="store_true", help="print the JSON result (spec section 12)")
    run.add_argument("--verbose", "-v", action="store_true", help="every step and every path")
    run.add_argument("--max-steps", type=int, default=None, metavar="N",
                     help="stop a run that needs more than N page operations")
    run.add_argument("--svg", metavar="FILE", help="also export the output as SVG (slides)")
    run.add_argument("--html", metavar="FILE", help="also export the output as HTML (handouts)")
    _output_options(run)

    check = sub.add_parser("check", help="parse and check scenarios without running them")
    check.add_argument("scenarios", nargs="+")

    from faultlang.course import quiz, testcmd
    testcmd.add_arguments(sub.add_parser(
        "test", help="run scenarios against their golden .out files (grading)"))
    quiz.add_arguments(sub.add_parser(
        "quiz", help="a seeded question about a generated scenario (OSTEP style)"))

    repl = sub.add_parser("repl", help="the interactive prompt (also: faultlang with no arguments)")
    repl.add_argument("--vi", action="store_true", help="vi key bindings")
    repl.add_argument("--max-steps", type=int, default=None, metavar="N",
                      help="refuse statements past N page operations in the session "
                           "(default 5,000,000; :reset starts the count again)")

    verify = sub.add_parser("verify", help="run a scenario on the real kernel and compare")
    verify.add_argument("scenario")
    verify.add_argument("--json", action="store_true")
    verify.add_argument("--repeat", type=int, default=3, metavar="N")
    verify.add_argument("--setup", action="store_true",
                        help="as root: set up swap, hugepages or THP for the run, then restore")
    verify.add_argument("--keep-source", metavar="FILE", help="also write the generated C here")
    verify.add_argument("--scratch", metavar="DIR",
                        help="where the scenario's disk files go (a disk file system, "
                             "not tmpfs; default: the verify cache directory)")
    _output_options(verify)
    return parser


def _output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-color", action="store_true", help="no colour (also: NO_COLOR)")
    p.add_argument("--width", type=int, default=None, help="output width (default 100 when piped)")


def load(path_text: str):
    from faultlang.lang.parse import parse_path
    path = Path(path_text)
    if not path.is_file():
        raise FaultlangError(f"cannot read '{path_text}': no such file",
                             "check the path; scenarios end in .fault or .yaml",
                             source_name=path_text)
    return parse_path(path)


def cmd_run(args: argparse.Namespace) -> int:
    from faultlang.runtime.machine import DEFAULT_MAX_STEPS
    from faultlang.runtime.runner import run_scenario
    scenario = load(args.scenario)
    from faultlang.lang.checker import check
    check(scenario)
    report = run_scenario(scenario, max_steps=args.max_steps or DEFAULT_MAX_STEPS)
    if args.json:
        sys.stdout.write(json.dumps(report.to_data(), indent=1) + "\n")
    else:
        from faultlang.render import make_console, render_report
        console = make_console(width=args.width, color=False if args.no_color else None)
        render_report(report, console, verbose=args.verbose)
    if args.svg or args.html:
        from faultlang.course.handout import export_report
        export_report(report, svg=args.svg, html=args.html, verbose=args.verbose)
    return EXIT_OK if report.ok else EXIT_EXPECT


def cmd_check(args: argparse.Namespace) -> int:
    from faultlang.lang.checker import check_all
    from faultlang.runtime.support import check_supported
    status = EXIT_OK
    for name in args.scenarios:
        try:
            scenario = load(name)
        except FaultlangError as err:
            print(err.render(), file=sys.stderr)
            status = EXIT_USAGE
            continue
        errors = check_all(scenario) + check_supported(scenario)
        for err in sorted(errors, key=lambda e: (e.span.line, e.span.column)):
            print(err.located(scenario.source_name, scenario.source_text).render(), file=sys.stderr)
        if errors:
            status = EXIT_USAGE
        else:
            print(f"{name}: ok ({len(scenario.statements)} statements)")
    return status


def cmd_repl(args: argparse.Namespace) -> int:
    from faultlang.repl.app import run_repl
    return run_repl(vi=getattr(args, "vi", False),
                    max_steps=getattr(args, "max_steps", None) or None)


def cmd_verify(args: argparse.Namespace) -> int:
    from faultlang.verify.command import run_verify
    return run_verify(args)


def cmd_test(args: argparse.Namespace) -> int:
    from faultlang.course.testcmd import cmd_test as run_tests
    return run_tests(args)


def cmd_quiz(args: argparse.Namespace) -> int:
    from faultlang.course.quiz import cmd_quiz as run_quiz
    return run_quiz(args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {"run": cmd_run, "check": cmd_check, "repl": cmd_repl, "verify": cmd_verify,
                "test": cmd_test, "quiz": cmd_quiz}
    try:
        return commands.get(args.command or "repl", cmd_repl)(args)
    except FaultlangError as err:
        print(err.render(), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
