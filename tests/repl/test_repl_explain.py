""":explain's sources: the @kfunc registry and a static scan of the mirrored kernel source;
and the import discipline that keeps the REPL's start-up short."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from faultlang.repl._explain import explain, kernel_functions

ROOT = Path(__file__).resolve().parents[2]


def test_every_mirrored_function_is_listed_with_its_kernel_file() -> None:
    functions = kernel_functions()
    assert functions["do_wp_page"] == "mm/memory.c"
    assert functions["exc_page_fault"] == "arch/x86/mm/fault.c"
    assert all(file for file in functions.values())


def test_the_static_scan_finds_the_branch_and_its_reason() -> None:
    found = explain("do_wp_page", [])
    assert found is not None
    site = next(s for s in found.call_sites if s.caller == "handle_pte_fault")
    assert "not pte & pt._PAGE_RW" in site.conditions[-1]
    assert site.why == ("write to a present, read-only PTE",)
    assert "wp_page_copy" in found.callees and "wp_page_reuse" in found.callees


def test_a_call_after_returning_branches_is_reached_only_when_none_returned() -> None:
    found = explain("wp_page_copy", [])
    assert found is not None
    site = next(s for s in found.call_sites if s.caller == "do_wp_page")
    assert site.conditions == ("no earlier branch returned",)


def test_the_entry_point_has_no_caller_in_the_source() -> None:
    found = explain("exc_page_fault", [])
    assert found is not None and found.call_sites == ()


def test_an_unknown_function_has_no_explanation() -> None:
    assert explain("do_nothing_at_all", []) is None


def test_importing_the_repl_app_loads_no_engine_parser_or_rich() -> None:
    code = ("import sys, faultlang.repl.app\n"
            "heavy = [m for m in ('lark', 'rich', 'faultlang.runtime.runner', "
            "'faultlang.kernel.mm.memory') if m in sys.modules]\n"
            "print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""}, check=True)
    assert done.stdout.strip() == ""
