"""The front end's facade: text, YAML or a path in, an ast.Scenario out.

Every failure is a FaultlangError (ScenarioSyntaxError for text that does not parse)
located at file:line:col; no input produces a Python traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from lark.exceptions import UnexpectedInput

from faultlang.errors import FaultlangError, ScenarioSyntaxError
from faultlang.lang import ast
from faultlang.lang.grammar import build_parser
from faultlang.lang.transform import ToAst

__all__ = ["parse_text", "parse_yaml", "parse_path", "parse_statement", "parse_statements",
           "decode_source"]

TEXT_SUFFIXES = (".fault", ".fl")
YAML_SUFFIXES = (".yaml", ".yml")


def parse_statements(text: str, source_name: str = "<input>") -> tuple[ast.Statement, ...]:
    """The statements of `text`, in order (the body of parse_text)."""
    text = text[1:] if text.startswith("\ufeff") else text  # an editor's byte order mark
    try:
        tree = build_parser().parse(text)
        return ToAst().transform(tree)
    except UnexpectedInput as err:
        from faultlang.lang.diagnostics import (
            syntax_error,  # only when there is an error
        )

        raise syntax_error(err, text, source_name) from None
    except FaultlangError as err:
        raise err.located(source_name, text) from None


def parse_text(text: str, source_name: str = "<input>") -> ast.Scenario:
    """Parse a whole .fault scenario. An empty text is a scenario of no statements."""
    statements = parse_statements(text, source_name)
    text = text[1:] if text.startswith("\ufeff") else text
    return ast.Scenario(statements, source_name=source_name, source_text=text)


def parse_statement(text: str, source_name: str = "<repl>") -> Optional[ast.Statement]:
    """Parse one REPL line: its statement, or None for a blank or comment-only line.

    Several statements (a multi-line paste) are an error: feed them one at a time.
    """
    statements = parse_statements(text, source_name)
    if len(statements) > 1:
        second = statements[1]
        raise ScenarioSyntaxError("only one statement can be given here",
                                  "enter the statements one at a time", second.span,
                                  source_name, text)
    return statements[0] if statements else None


def parse_yaml(text: str, source_name: str = "<input>") -> ast.Scenario:
    """Parse the YAML form (spec section 9) into the same AST as the text form."""
    from faultlang.lang.yaml_syntax import load_yaml_scenario

    return load_yaml_scenario(text, source_name)


def decode_source(data: bytes, source_name: str) -> str:
    """UTF-8 (with or without a BOM) to text; anything else is a clear error."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ScenarioSyntaxError(
            f"byte 0x{data[err.start]:02x} is not valid UTF-8",
            "save the scenario as UTF-8 text", ast.Span(line, column, line, column + 1),
            source_name, data[: err.start].decode("utf-8", "replace")) from None
    return text[1:] if text.startswith("\ufeff") else text


def parse_path(path: Union[str, Path]) -> ast.Scenario:
    """Parse a .fault (or .fl) or .yaml/.yml file, chosen by its suffix."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in TEXT_SUFFIXES + YAML_SUFFIXES:
        raise FaultlangError(f"cannot tell the syntax of '{file.name}' from its suffix",
                             "name the scenario NAME.fault or NAME.yaml",
                             source_name=str(path))
    try:
        data = file.read_bytes()
    except OSError as err:
        raise FaultlangError(f"cannot read the scenario: {err.strerror or err}",
                             "check the path and its permissions", source_name=str(path)) from None
    text = decode_source(data, str(path))
    if suffix in YAML_SUFFIXES:
        return parse_yaml(text, str(path))
    return parse_text(text, str(path))
