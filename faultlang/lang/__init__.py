"""The faultlang front end: .fault text and YAML in, a checked ast.Scenario out.

    from faultlang.lang import parse_path, check
    scenario = parse_path("lessons/03-fork-cow.fault")
    check(scenario)          # raises ScenarioError at the first semantic problem

Layering: this package imports only lark, PyYAML and faultlang.errors.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = ["parse_text", "parse_yaml", "parse_path", "parse_statement", "check", "check_all",
           "format_scenario", "format_statement"]

# Imported on first use, so that parsing one line does not pay for the checker, the
# printer or the YAML loader (start-up time is part of the REPL's feel).
_HOMES = {"parse_text": "parse", "parse_yaml": "parse", "parse_path": "parse",
          "parse_statement": "parse", "check": "checker", "check_all": "checker",
          "format_scenario": "printer", "format_statement": "printer"}

if TYPE_CHECKING:
    from faultlang.lang.checker import check, check_all
    from faultlang.lang.parse import parse_path, parse_statement, parse_text, parse_yaml
    from faultlang.lang.printer import format_scenario, format_statement


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'faultlang.lang' has no attribute {name!r}")
    value = getattr(import_module(f"faultlang.lang.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
