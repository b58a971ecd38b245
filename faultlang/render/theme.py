"""The faultlang rich Theme: every style the views use, by meaning, never by colour.

Views ask for "fault.major" or "pte.swap", so a course can restyle the whole tool
(slides, a colour-blind palette) by swapping this one Theme. Outcome and PTE-state
strings from snapshots map to these names through `outcome_style` and `state_style`.
"""

from __future__ import annotations

from rich.theme import Theme

__all__ = ["FAULTLANG_STYLES", "FAULTLANG_THEME", "outcome_style", "state_style"]

FAULTLANG_STYLES: dict[str, str] = {
    # Outcomes of an access (spec section 11).
    "fault.none": "dim",
    "fault.minor": "green",
    "fault.major": "bold yellow",
    "fault.sigsegv": "bold red",
    "fault.sigbus": "bold magenta",
    "fault.blocked": "cyan",
    "fault.oom": "bold white on red",
    # States of a page-table leaf.
    "pte.present": "green",
    "pte.none": "dim",
    "pte.zero": "blue",
    "pte.swap": "yellow",
    "pte.cow": "magenta",
    "pte.huge": "bold cyan",
    # Call-path nodes.
    "kfunc.name": "bold",
    "kfunc.file": "cyan",
    "kfunc.why": "dim",
    "kfunc.ret": "yellow",
    # Expectations.
    "expect.ok": "green",
    "expect.fail": "bold red",
    # Everything else.
    "addr": "cyan",
    "header": "bold",
}

FAULTLANG_THEME = Theme(FAULTLANG_STYLES)

_OUTCOME_STYLES = {
    "none": "fault.none",
    "minor": "fault.minor",
    "major": "fault.major",
    "sigsegv": "fault.sigsegv",
    "sigbus": "fault.sigbus",
    "blocked": "fault.blocked",
    "oom": "fault.oom",
}

# Leaf states the engine reports (PteView.state) → the closest pte.* style.
_STATE_STYLES = {
    "none": "pte.none",
    "resident": "pte.present",
    "present": "pte.present",
    "zero": "pte.zero",
    "swapped": "pte.swap",
    "swapcache": "pte.swap",
    "migration": "pte.swap",
    "cow": "pte.cow",
    "huge": "pte.huge",
}


def outcome_style(outcome: str) -> str:
    """The theme name for an access outcome ("minor", "SIGSEGV", ...)."""
    return _OUTCOME_STYLES.get(outcome.lower(), "fault.none")


def state_style(state: str) -> str:
    """The theme name for a leaf state ("resident", "zero", "swapped", ...)."""
    return _STATE_STYLES.get(state.lower(), "pte.present")
