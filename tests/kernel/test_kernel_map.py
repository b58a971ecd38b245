"""docs/kernel-map.md lists every engine function beside its kernel file, and no other.
`pytest --update-golden tests/kernel/test_kernel_map.py` regenerates the table."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import faultlang.kernel as kernel_pkg
from faultlang.kernel.trace import KFUNCS

MAP = Path(__file__).resolve().parents[2] / "docs" / "kernel-map.md"
BEGIN, END = "<!-- table: generated -->", "<!-- end of table -->"


def load_all() -> dict:
    for mod in pkgutil.walk_packages(kernel_pkg.__path__, "faultlang.kernel."):
        importlib.import_module(mod.name)
    return KFUNCS


def table() -> str:
    rows = ["| kernel function | kernel file | faultlang module | what it decides |",
            "| --- | --- | --- | --- |"]
    for sym, fn in sorted(load_all().items(), key=lambda kv: (kv[1].kernel_file, kv[0])):
        doc = (fn.__doc__ or "").strip().splitlines()
        summary = doc[0].split(" - ", 1)[-1] if doc else ""
        module = fn.python_module.replace("faultlang.", "").replace(".", "/") + ".py"
        rows.append(f"| `{sym}` | `{fn.kernel_file}` | `{module}` | {summary} |")
    return "\n".join(rows)


def test_kernel_map_lists_every_engine_function(update_golden: bool) -> None:
    text = MAP.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    if update_golden:
        MAP.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")
        return
    listed = dict(re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", rest.split(END)[0], re.M))
    functions = {sym: fn.kernel_file for sym, fn in load_all().items()}
    assert listed == functions, "run pytest --update-golden tests/kernel/test_kernel_map.py"
