"""Which statements the engine simulates today; the rest get a clear "not supported yet".

Every statement of language v0 parses, but a statement whose simulation belongs to a
later engine issue must not be silently ignored: `faultlang check` and `faultlang run`
refuse it, naming the issue. (Today the engine simulates every statement.)
"""

from __future__ import annotations

from typing import Optional

from faultlang.errors import NotSupportedYet
from faultlang.lang import ast

_BY_TYPE: dict[type, str] = {}
_SETTINGS: dict[str, str] = {}
_DEFAULTS: dict[str, object] = {}
_SHOW: dict[str, str] = {}


def unsupported(stmt: ast.Statement) -> Optional[str]:
    """The later work a statement needs, or None when the engine simulates it now."""
    if isinstance(stmt, ast.As):
        return unsupported(stmt.statement)
    if type(stmt) in _BY_TYPE:
        return _BY_TYPE[type(stmt)]
    if isinstance(stmt, ast.Set) and stmt.key in _SETTINGS and stmt.value != _DEFAULTS[stmt.key]:
        return _SETTINGS[stmt.key]
    if isinstance(stmt, ast.Show) and stmt.view in _SHOW:
        return _SHOW[stmt.view]
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
