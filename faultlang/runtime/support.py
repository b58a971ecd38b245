"""Which statements the engine simulates today; the rest get a clear "not supported yet".

Every statement of language v0 parses, but a statement whose simulation belongs to a
later engine issue (files and shmem, swap, huge pages, userfaultfd) must not be
silently ignored: `faultlang check` and `faultlang run` refuse it, naming the issue.
"""

from __future__ import annotations

from typing import Optional

from faultlang.errors import NotSupportedYet
from faultlang.lang import ast

_FILES = "file-backed and shmem mappings (issue 5)"
_SWAP = "swap, reclaim and memory pressure (issue 6)"
_HUGE = "huge pages (issue 7)"
_UFFD = "userfaultfd (issue 8)"

_BY_TYPE = {
    ast.Swapout: _SWAP, ast.Reclaim: _SWAP,
    ast.DropCaches: _SWAP, ast.NumaScan: _SWAP, ast.Trace: _SWAP,
    ast.UffdRegister: _UFFD, ast.UffdUnregister: _UFFD, ast.UffdHandle: _UFFD,
    ast.UffdCopy: _UFFD, ast.UffdZeropage: _UFFD, ast.UffdContinue: _UFFD,
    ast.UffdWriteprotect: _UFFD, ast.UffdWake: _UFFD,
}
_SETTINGS = {"swap": _SWAP, "swap_device": _SWAP, "page_cluster": _SWAP, "policy": _SWAP,
             "numa_nodes": _SWAP, "thp": _HUGE, "mthp": _HUGE, "hugepages": _HUGE}
_DEFAULTS = {"swap": 0, "swap_device": "disk", "page_cluster": 3, "policy": "linux",
             "numa_nodes": 1, "thp": "madvise", "mthp": "off", "hugepages": 0}
_MAP_KINDS = {"hugetlb": _HUGE}
_ADVICE = {"hugepage": _HUGE}
_SHOW = {"swap": _SWAP, "lru": _SWAP, "uffd": _UFFD}


def unsupported(stmt: ast.Statement) -> Optional[str]:
    """The later work a statement needs, or None when the engine simulates it now."""
    if isinstance(stmt, ast.As):
        return unsupported(stmt.statement)
    if type(stmt) in _BY_TYPE:
        return _BY_TYPE[type(stmt)]
    if isinstance(stmt, ast.FileDecl):
        if stmt.fs == "hugetlbfs":
            return _HUGE + " (hugetlbfs files)"
        if stmt.dax:
            return _FILES + " (DAX files)"
    if isinstance(stmt, ast.Set) and stmt.key in _SETTINGS and stmt.value != _DEFAULTS[stmt.key]:
        return _SETTINGS[stmt.key]
    if isinstance(stmt, ast.Map):
        if stmt.kind in _MAP_KINDS:
            return _MAP_KINDS[stmt.kind]
        for option in stmt.options:
            if option in _ADVICE:
                return _ADVICE[option]
    if isinstance(stmt, ast.Madvise) and stmt.advice in _ADVICE:
        return _ADVICE[stmt.advice]
    if isinstance(stmt, ast.Show) and stmt.view in _SHOW:
        return _SHOW[stmt.view]
    if isinstance(stmt, ast.ExpectState) and stmt.value in ("swapped", "swapcache", "huge", "uffd_wp"):
        return {"swapped": _SWAP, "swapcache": _SWAP, "huge": _HUGE, "uffd_wp": _UFFD}[stmt.value]
    if isinstance(stmt, ast.ExpectOutcome) and stmt.value == "blocked":
        return _UFFD
    return None


def check_supported(scenario: ast.Scenario) -> list[NotSupportedYet]:
    errors = []
    for stmt in scenario.statements:
        reason = unsupported(stmt)
        if reason:
            errors.append(NotSupportedYet(
                f"this statement is not simulated yet: it needs {reason}",
                "remove it for now; it will run once that part of the engine lands",
                stmt.span, scenario.source_name, scenario.source_text))
    return errors
