"""docs/kernel-map.md lists every engine function beside its kernel file, and no other.
`pytest --update-golden tests/kernel/test_kernel_map.py` regenerates the table."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
import sys
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


def test_every_engine_module_can_be_imported_first() -> None:
    """The mm/ modules call each other both ways (memory.c ↔ its file-fault half), so
    their import order matters: each must load on its own, in a fresh interpreter."""
    names = [m.name for m in pkgutil.walk_packages(kernel_pkg.__path__, "faultlang.kernel.")]
    script = ("import importlib, sys\n"
              f"for name in {names!r}:\n"
              "    for loaded in [k for k in sys.modules if k.startswith('faultlang')]:\n"
              "        del sys.modules[loaded]\n"
              "    importlib.import_module(name)\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(root)))
    assert done.returncode == 0, done.stderr[-2000:]
