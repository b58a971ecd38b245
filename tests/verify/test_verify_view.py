"""VerifyView: the text of `faultlang verify`, from plain data only."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from faultlang.render.console import make_console
from faultlang.verify.result import (
    AGREE, DIFFER, NA, NOISY, SKIPPED, Cell, SettingRow, StatementResult, Verification,
)
from faultlang.verify.view import VerifyView, cell_text


UNSEEN = "call paths cannot be seen from user space"


def counters(minflt: Cell, pgfault: Cell) -> tuple[Cell, ...]:
    return (minflt, Cell("majflt", 0, (0, 0), AGREE), pgfault,
            Cell("page_faults", minflt.sim, (minflt.sim, minflt.sim), AGREE))


def sample() -> Verification:
    ok = Cell("minflt", 512, (512, 512), AGREE)
    statements = (
        StatementResult(0, 3, "map buf anon size 2M", "main", "measure", AGREE, cells=(
            *counters(Cell("minflt", 0, (0, 0), AGREE), Cell("pgfault", 0, (0, 0), AGREE)),
            Cell("result", "0x7f0000000000", ("0x7f0000000000",) * 2, AGREE))),
        StatementResult(1, 4, "write buf[*]", "main", "measure", DIFFER, cells=(
            *counters(Cell("minflt", 512, (1, 1), DIFFER),
                      Cell("pgfault", 512, (1, 1), DIFFER)),
            Cell("outcome", "512× minor", ("511× none, 1× minor",) * 2, DIFFER))),
        StatementResult(2, 5, "read buf[*]", "main", "measure", NOISY, cells=(
            *counters(Cell("minflt", 0, (0, 0), AGREE), Cell("pgfault", 0, (0, 3), NOISY)),
            Cell("outcome", "512× none", ("512× none",) * 2, AGREE))),
        StatementResult(3, 6, "expect delta minflt == 512", "main", "evaluate", DIFFER,
                        cells=(Cell("expect", 512, (1, 1), DIFFER),)),
        StatementResult(4, 7, "expect path last contains do_anonymous_page", "main", "skip", NA,
                        UNSEEN, (Cell("expect", None, (), NA, UNSEEN),)),
        StatementResult(5, 8, "map f file m size 4K", "main", "skip", SKIPPED,
                        "verify does not translate file mappings yet"),
    )
    return Verification(
        scenario="first.fault", title="Fresh anonymous memory", kernel="6.18.44-test",
        simulated="Linux 6.18", runs=2, statements=statements,
        totals=(("main", (ok, Cell("majflt", 0, (0, 0), AGREE))),
                ("vmstat", (Cell("pgfault", 512, (513, 515), NOISY),))),
        settings=(SettingRow("kernel", "6.18", "6.18.44-test", True, False),
                  SettingRow("thp", "madvise", "always", True, True),
                  SettingRow("read_ahead", "128K", "8M", False, False)),
        notes=("thp is always here but madvise in the scenario: counts may differ; --setup "
               "(root) sets it for the run",))


def render(width: int = 100) -> str:
    out = io.StringIO()
    make_console(file=out, width=width, color=False).print(VerifyView(sample()))
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 120])
def test_view_matches_golden(golden, width):
    golden(f"view_{width}.txt", render(width))


def test_cells_show_one_value_when_agreeing_and_both_when_not():
    assert str(cell_text(Cell("minflt", 512, (512, 512), AGREE))) == "512"
    assert str(cell_text(Cell("minflt", 512, (1, 1), DIFFER))) == "512 ≠ 1"
    assert str(cell_text(Cell("pgfault", 4, (4, 9), NOISY))) == "4 ~ 4..9"
    assert cell_text(Cell("minflt", 512, (1, 1), DIFFER)).style == "fault.sigsegv"


def test_the_summary_counts_statements_by_verdict():
    last = render(200).rstrip().splitlines()[-1]
    assert last.startswith("statements: 1 agree, 2 differ, 1 noisy, 1 skipped, 1 not compared")
    assert "differ" in last.split("—")[1]


def test_the_view_never_imports_the_engine():
    tree = ast.parse(Path(__file__).parents[2].joinpath("faultlang/verify/view.py").read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    engine = ("faultlang.kernel", "faultlang.runtime")
    assert not [m for m in imported if m and m.startswith(engine)]
    result = Path(__file__).parents[2].joinpath("faultlang/verify/result.py").read_text()
    assert "faultlang.kernel" not in result and "faultlang.runtime" not in result
