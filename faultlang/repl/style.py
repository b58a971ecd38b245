"""The prompt's style: token colours for FaultLexer and the toolbar's look.

Colours are ANSI names so the terminal's own palette (light or dark) decides the
shades, as ptpython's default style does. The rich output below the prompt has its
own theme (faultlang.render.theme); the names here mirror its meanings.
"""

from __future__ import annotations

from prompt_toolkit.styles import BaseStyle, Style, merge_styles, style_from_pygments_dict
from pygments.token import (  # type: ignore[import-untyped]
    Comment,
    Error,
    Keyword,
    Literal,
    Name,
    Number,
    Operator,
    String,
)

__all__ = ["TOKEN_STYLES", "UI_STYLES", "faultlang_style"]

TOKEN_STYLES = {
    Keyword: "ansiblue bold",
    Keyword.Pseudo: "ansimagenta bold",
    Name.Builtin: "ansicyan",
    Name.Attribute: "ansicyan",
    Name.Variable: "ansigreen",
    Name.Function: "ansiyellow",
    Name.Constant: "ansimagenta",
    Name.Exception: "ansired bold",
    Number: "ansiyellow",
    Literal: "ansimagenta",
    String: "ansigreen",
    Operator: "ansibrightblack",
    Comment: "ansibrightblack italic",
    Error: "ansired underline",
}

UI_STYLES = {
    "prompt": "ansigreen bold",
    "prompt.process": "ansicyan bold",
    "continuation": "ansibrightblack",
    "bottom-toolbar": "noreverse bg:#303030 #d0d0d0",
    "bottom-toolbar.key": "bold",
    "bottom-toolbar.value": "",
    "bottom-toolbar.major": "ansiyellow bold",
    "bottom-toolbar.dim": "#909090",
    "bottom-toolbar.warn": "ansired bold",
    "auto-suggestion": "ansibrightblack",
}


def faultlang_style() -> BaseStyle:
    """Token colours for the input, then the prompt, toolbar and suggestion styles."""
    return merge_styles([style_from_pygments_dict(TOKEN_STYLES), Style.from_dict(UI_STYLES)])
