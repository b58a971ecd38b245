"""The curriculum in scenarios/lessons: at least 20 lessons, each with a golden, and
together they reach every branch of the fault path that the engine simulates."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path
from types import FrameType

from faultlang.course.golden import lang_function

LESSONS = Path(__file__).resolve().parents[2] / "scenarios" / "lessons"
# handle_mm_fault's dispatch, as the issue names it. A branch the engine does not
# simulate is left out (and named) rather than failed.
BRANCHES = ("handle_mm_fault", "hugetlb_fault", "create_huge_pmd", "__handle_mm_fault",
            "handle_pte_fault", "do_anonymous_page", "do_fault", "do_read_fault",
            "do_cow_fault", "do_shared_fault", "do_swap_page", "do_numa_page",
            "shmem_fault", "handle_userfault")


def kernel_functions() -> set[str]:
    import faultlang.kernel as kernel
    from faultlang.kernel.trace import KFUNCS
    for info in pkgutil.walk_packages(kernel.__path__, "faultlang.kernel."):
        importlib.import_module(info.name)
    return set(KFUNCS)


def test_there_are_twenty_lessons_each_with_a_golden() -> None:
    lessons = sorted(LESSONS.glob("[0-9][0-9]-*.fault"))
    assert len(lessons) >= 20
    for lesson in lessons:
        assert lesson.with_suffix(".out").exists(), lesson.name
        assert lesson.read_text().splitlines()[1].startswith("#"), "explain it to students"


def test_the_tutorial_follows_every_lesson() -> None:
    tutorial = (LESSONS.parents[1] / "docs" / "tutorial.md").read_text(encoding="utf-8")
    listed = {int(n) for n in re.findall(r"^ *(\d+)\. \*\*", tutorial, re.M)}
    lessons = {int(p.name[:2]) for p in LESSONS.glob("[0-9][0-9]-*.fault")}
    assert lessons <= listed, f"lessons the tutorial does not list: {sorted(lessons - listed)}"


def run_recording_kernel_functions(scenario: object) -> set[str]:
    """The @kfunc functions a run enters: fault paths and system calls alike.

    Fault paths are in the steps, but what a statement does outside a fault (mmap,
    fork, reclaim, uffd ioctls) is not: a profile hook sees every call.
    """
    from faultlang.kernel.trace import KFUNCS
    from faultlang.runtime.runner import run_scenario

    symbols = {fn.__wrapped__.__code__: name for name, fn in KFUNCS.items()}
    entered: set[str] = set()

    def hook(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            symbol = symbols.get(frame.f_code)
            if symbol is not None:
                entered.add(symbol)

    sys.setprofile(hook)
    try:
        run_scenario(scenario)  # type: ignore[arg-type]
    finally:
        sys.setprofile(None)
    return entered


def test_the_lessons_reach_every_simulated_branch_of_the_fault_path() -> None:
    from faultlang.runtime.runner import run_scenario
    check, parse_path = lang_function("check"), lang_function("parse_path")
    known = kernel_functions()
    on_fault_path: set[str] = set()
    entered: set[str] = set()
    sigbus = False
    for lesson in sorted(LESSONS.glob("*.fault")):
        scenario = parse_path(lesson)
        check(scenario)
        for step in run_scenario(scenario).steps:
            on_fault_path.update(step.path)
            sigbus |= any("SIGBUS" in (f.ret or "") for f in step.frames)
        entered |= run_recording_kernel_functions(scenario)
    unreached = sorted(known - entered - on_fault_path)
    print(f"\nlessons reach {len(known - set(unreached))} of {len(known)} kernel functions "
          f"({len(on_fault_path & known)} on fault paths); no lesson reaches: "
          f"{', '.join(unreached)}")
    not_simulated = [b for b in BRANCHES if b not in known]
    if not_simulated:
        print(f"not simulated yet (left out): {', '.join(not_simulated)}")
    missing = [b for b in BRANCHES if b in known and b not in on_fault_path]
    assert not missing, f"no lesson takes these branches: {missing}"
    assert sigbus, "no lesson returns VM_FAULT_SIGBUS"
