"""userfaultfd in verify: which statements are translated, and real runs of them.

The generated C for each uffd statement kind is checked by the golden files of
test_verify_cgen.py (kinds uffd, uffd_modes, uffd_manual). The real runs need Linux on
x86-64, root, a C compiler and a usable userfaultfd(2); they are skipped elsewhere.
"""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from faultlang.lang import parse_text
from faultlang.verify import build, measure
from faultlang.verify.cgen import UffdHost, generate
from faultlang.verify.command import verify_scenario
from faultlang.verify.compare import simulate
from faultlang.verify.measure import parse_output
from faultlang.verify.uffd import FEATURE_BITS, probe

REPO = Path(__file__).resolve().parents[2]
ACCEPTANCE = REPO.parent / "shared" / "acceptance" / "13-uffd-missing-copy.fault"
SCENARIOS = sorted((REPO / "scenarios" / "uffd").glob("*.fault"))

MANUAL = ("map heap anon size 16K\n"
          "uffd register heap[*] missing\n"
          "uffd handle missing manually\n"
          "read heap[0]\n"
          "uffd copy heap[0] = 7\n"
          "expect value heap[0] == 7\n"
          "map other anon size 16K\n"
          "read other[0]\n")


def _skips(text: str, uffd: UffdHost = UffdHost()) -> dict[int, str]:
    scenario = parse_text(text, "uffd.fault")
    program = generate(scenario, simulate(scenario).layout, uffd=uffd)
    return {p.line: p.reason for p in program.statements if p.reason}


def test_without_userfaultfd_every_uffd_statement_is_skipped_saying_why():
    why = "userfaultfd(2) is not permitted here (EPERM)"
    skips = _skips("map a anon size 16K\nuffd register a[*] missing\n"
                   "uffd handle missing by copy 1\nread a[0]\nmap b anon size 16K\nread b[0]\n",
                   UffdHost(frozenset(), why))
    assert skips == {2: why, 3: why,
                     4: "mapping 'a' was changed by line 2, which does not run on the real "
                        "kernel"}


def test_a_feature_this_kernel_lacks_skips_the_register():
    host = UffdHost(frozenset(FEATURE_BITS) - {"wp_async"})
    skips = _skips("map a anon size 16K\nuffd register a[*] wp features wp_async\n"
                   "write a[0]\n", host)
    assert skips[2] == "this kernel's userfaultfd lacks wp_async (UFFDIO_API features)"
    assert 3 in skips


def test_event_fork_is_not_translated():
    skips = _skips("map a anon size 16K\nuffd register a[*] missing features event_fork\n")
    assert skips[2].startswith("event_fork: the handler would have to take over")


def test_an_access_that_blocks_and_what_answers_it_are_skipped():
    # The worker would sleep in handle_userfault with nobody to answer: not translated,
    # and the memory it leaves behind differs from then on. Other memory still runs.
    skips = _skips(MANUAL)
    assert skips == {
        4: "it blocks in handle_userfault until a later statement answers: verify runs a "
           "process's accesses on its one thread, which cannot answer its own fault",
        5: "it completes the access of line 4, which blocked",
        6: "mapping 'heap' was changed by line 4, which does not run on the real kernel",
    }


def test_a_handle_that_answers_a_blocked_access_is_skipped_and_taints_what_is_mapped():
    skips = _skips("map a anon size 16K\nuffd register a[*] missing\n"
                   "uffd handle missing manually\nread a[1]\nuffd handle missing by zeropage\n"
                   "read a[2]\n")
    assert skips[5] == "it completes the access of line 4, which blocked"
    assert skips[6] == "mapping 'a' was changed by line 4, which does not run on the real kernel"


def test_a_skipped_move_changes_its_source_too():
    skips = _skips("map a anon size 16K\nmap m anon size 16K\nwrite m[*]\nuffd move m[0] to a[0]\n"
                   "read m[0]\n", UffdHost(frozenset(), "no userfaultfd"))
    assert skips[5] == "mapping 'm' was changed by line 4, which does not run on the real kernel"


def test_a_fault_the_handler_could_not_answer_is_parsed_as_blocked():
    out = ("R kind=1 stmt=3 wid=0 pid=7 perf=1 last=10 state=0 err=0 addr=0 minflt=1 majflt=0 "
           "page_faults=1 perf_minor=1 perf_major=0 pgfault=1 pgmajfault=0 cum_minflt=9 "
           "cum_majflt=0 out=0,0,0,0,0,0,0,0,0,0,1\nEND\n")
    rec = parse_output(out).statement(3)
    assert rec.outcomes == {"blocked": 1} and rec.last == "blocked"


# --- on the real kernel -------------------------------------------------------------------


def _why_not() -> str:
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return "needs Linux on x86-64"
    if os.geteuid() != 0:
        return "needs root (perf events for kernel-mode faults, /proc/kpageflags)"
    if not (os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")):
        return "needs a C compiler"
    return probe().missing


real = pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "ok")


@real
def test_acceptance_13_agrees_statement_by_statement(assert_agrees):
    if not ACCEPTANCE.exists():
        pytest.skip(f"{ACCEPTANCE} is not there")
    v = verify_scenario(str(ACCEPTANCE), repeat=2)
    assert_agrees(v)
    by_line = {s.line: s for s in v.statements}
    assert by_line[8].cell("minflt").real == (64, 64)        # read u[*]: UFFDIO_COPY each
    assert by_line[8].cell("majflt").real == (0, 0)
    assert by_line[15].cell("minflt").real == (64, 64)       # write v[*]
    assert by_line[12].cell("value").real == (7, 7) and by_line[18].cell("value").real == (9, 9)


@real
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_uffd_scenario_agrees_with_the_real_kernel(path, assert_agrees):
    assert_agrees(verify_scenario(str(path), repeat=2))


@real
def test_every_translated_uffd_statement_agrees(tmp_path, assert_agrees):
    path = tmp_path / "uffd.fault"
    path.write_text(
        "map a anon size 64K\n"
        "uffd register a[*] missing,wp features thread_id\n"
        "uffd handle missing by copy 7\n"
        "read a[0..2]\n"
        "expect value a[1] == 7\n"
        "uffd writeprotect a[0..2] on\n"
        "expect state a[0] == uffd_wp\n"
        "uffd handle wp by unprotect\n"
        "write a[0] = 5\n"
        "expect value a[0] == 5\n"
        "uffd copy a[4..6] = 3\n"
        "expect value a[5] == 3\n"
        "uffd copy a[4] = 9\n"                       # EEXIST, as the ioctl says
        "uffd zeropage a[6]\n"
        "expect state a[6] == zero\n"
        "uffd copy a[7] = 4 wp\n"
        "expect state a[7] == uffd_wp\n"
        "uffd wake a[*]\n"
        "uffd unregister a[8..16]\n"
        "read a[8]\n"
        "fork child\n"                               # the child's VMAs are not registered
        "as child: read a[10..12]\n"
        "as child: uffd copy a[12] = 1\n"            # and it has no userfaultfd: EBADF
        "write a[12..14] = 2\n"                      # the parent's handler still answers
        "map s shmem size 16K shared\n"
        "write s[*] = 4\n"
        "madvise s[*] dontneed\n"
        "uffd register s[*] minor\n"
        "uffd handle minor by continue\n"
        "read s[0]\n"
        "expect value s[0] == 4\n"
        "uffd continue s[1]\n"
        "map m anon size 16K\n"
        "write m[*] = 6\n"
        "uffd move m[0..2] to a[1..3]\n"             # EEXIST: a[1] is there
        "map g anon size 16K\n"
        "uffd register g[*] missing features sigbus\n"
        "read g[0]\n")
    v = verify_scenario(str(path), repeat=2)
    assert_agrees(v)
    results = {s.line: s for s in v.statements}
    assert results[13].cell("result").real == ("EEXIST", "EEXIST")
    assert results[23].cell("result").real == ("EBADF", "EBADF")
    assert results[24].cell("minflt").real == (2, 2)
    assert results[38].cell("outcome").real == ("1× SIGBUS BUS_ADRERR",) * 2
    assert not [s for s in v.statements if s.status == "skipped"]


@real
def test_a_fault_nobody_answers_does_not_hang_the_run(tmp_path):
    # Force the access the engine says blocks into the program: the handler thread has
    # no answer, lets the thread go on, and the page's outcome says so.
    scenario = parse_text(MANUAL, "manual.fault")
    layout = replace(simulate(scenario).layout, blocking={})
    program = generate(scenario, layout)
    binary = build.build(program.source, directory=tmp_path).binary
    run = measure.run_program(binary, 1, timeout=20)[0]
    assert run.statement(3).outcomes == {"blocked": 1}
    assert run.statement(7).outcomes == {"minor": 1}          # the process goes on
