"""ast -> canonical .fault text, one line per statement (the REPL's :save, `fmt`).

For every statement the parser produces, parse(format_statement(s)) == s. Sizes print
with the shortest exact suffix (65536 -> 64K), addresses in hex, protections short
(rw, r, r-x) and clauses in the order of spec section 5.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Union

from faultlang.lang import ast
from faultlang.lang.lexical import format_size, is_name, quote

__all__ = ["format_statement", "format_scenario", "format_target"]

_SIZE_SETTINGS = ("ram", "swap", "mthp", "fault_around", "read_ahead")


def format_scenario(scenario: ast.Scenario) -> str:
    """The whole scenario, one statement per line, ending with a newline."""
    return "".join(format_statement(s) + "\n" for s in scenario.statements)


def _name(text: str) -> str:
    """A file name as written: bare when it is a NAME, quoted otherwise."""
    return text if is_name(text) else quote(text)


def _prot(prot: str) -> str:
    letters = prot.replace("-", "")
    return letters if letters and prot.endswith("-") else prot


def format_target(target: ast.Target) -> str:
    if isinstance(target, ast.Absolute):
        return hex(target.address)
    if isinstance(target, ast.ByteOffset):
        return f"{target.mapping}+{target.offset:#x}"
    if isinstance(target, ast.PageIndex):
        return f"{target.mapping}[{target.index}]"
    if target.start is None and target.stop is None:
        inner = "*"
    else:
        step = f" step {target.step}" if target.step != 1 else ""
        inner = f"{target.start or 0}..{target.stop if target.stop is not None else ''}{step}"
    return f"{target.mapping}[{inner}]" + (" reverse" if target.reverse else "")


def _value(value: Union[int, str, None], prefix: str = " = ") -> str:
    return "" if value is None else f"{prefix}{value}"


def _step(step: Union[int, None]) -> str:
    return "last" if step is None else str(step)


@singledispatch
def format_statement(node: ast.Node) -> str:
    """One statement as canonical text (no newline)."""
    raise TypeError(f"not a statement: {type(node).__name__}")


@format_statement.register
def _(node: ast.Title) -> str:
    return f"title {quote(node.text)}"


@format_statement.register
def _(node: ast.Set) -> str:
    value = node.value
    if isinstance(value, int):
        shown = format_size(value) if node.key in _SIZE_SETTINGS else str(value)
    else:
        shown = value
    return f"set {node.key} {shown}"


@format_statement.register
def _(node: ast.FileDecl) -> str:
    plain = (node.fs, node.dax, node.cached_all, node.cached_pages, node.folio) == \
        ("tmpfs", False, False, (), 4096)
    if node.memfd and plain:
        return f"memfd {_name(node.name)} size {format_size(node.size)}"
    parts = [f"file {_name(node.name)} size {format_size(node.size)}"]
    if node.fs != "ext4" or node.dax:
        parts.append(f"on {node.fs}" + (" dax" if node.dax else ""))
    if node.cached_all:
        parts.append("cached")
    elif len(node.cached_pages) == 1 and node.cached_pages[0][0] == 0 \
            and node.cached_pages[0][1] > 0:
        parts.append(f"cached {node.cached_pages[0][1]}")
    elif node.cached_pages:
        spans = (f"{a}" if b == a + 1 else f"{a}..{b}" for a, b in node.cached_pages)
        parts.append(f"cached [{', '.join(spans)}]")
    if node.folio != 4096:
        parts.append(f"folio {format_size(node.folio)}")
    return " ".join(parts)


@format_statement.register
def _(node: ast.ProcessDecl) -> str:
    return f"process {node.name}" + (f" node {node.node}" if node.node else "")


@format_statement.register
def _(node: ast.Fork) -> str:
    return f"fork {node.parent} -> {node.child}" if node.parent else f"fork {node.child}"


@format_statement.register
def _(node: ast.Exit) -> str:
    return f"exit {node.name}"


@format_statement.register
def _(node: ast.Switch) -> str:
    return f"switch {node.name}"


@format_statement.register
def _(node: ast.As) -> str:
    return f"as {node.process}: {format_statement(node.statement)}"


@format_statement.register
def _(node: ast.Map) -> str:
    parts = [f"map {node.name} {node.kind}"]
    if node.kind == "file":
        parts.append(_name(node.file or ""))
    if node.offset:
        parts.append(f"offset {format_size(node.offset)}")
    parts.append(f"size {format_size(node.size)}")
    if node.mapped is not None:
        parts.append(f"mapped {format_size(node.mapped)}")
    if node.at is not None:
        parts.append(f"at {node.at:#x}")
    if node.prot is not None:
        parts.append(_prot(node.prot))
    if node.shared is not None:
        parts.append("shared" if node.shared else "private")
    parts.extend(node.options)
    return " ".join(parts)


def _target_only(verb: str):
    def fmt(node: ast.Node) -> str:
        return f"{verb} {format_target(node.target)}"  # type: ignore[attr-defined]
    return fmt


for _cls, _verb in ((ast.Munmap, "munmap"), (ast.Mlock, "mlock"), (ast.Munlock, "munlock"),
                    (ast.Msync, "msync"), (ast.Swapout, "swapout"),
                    (ast.NumaScan, "numa_scan"), (ast.UffdUnregister, "uffd unregister"),
                    (ast.UffdWake, "uffd wake")):
    format_statement.register(_cls, _target_only(_verb))


@format_statement.register
def _(node: ast.Mprotect) -> str:
    return f"mprotect {format_target(node.target)} {_prot(node.prot)}"


@format_statement.register
def _(node: ast.Madvise) -> str:
    return f"madvise {format_target(node.target)} {node.advice}"


@format_statement.register
def _(node: ast.Truncate) -> str:
    return f"truncate {_name(node.file)} {format_size(node.size)}"


@format_statement.register
def _(node: ast.Access) -> str:
    return f"{node.op} {format_target(node.target)}{_value(node.value)}"


@format_statement.register
def _(node: ast.Trace) -> str:
    return f"trace {_name(node.path)}" + _value(node.format, " format ")


@format_statement.register
def _(node: ast.Migrate) -> str:
    return f"migrate {format_target(node.target)} to node {node.node}" + \
        (" hold" if node.hold else "")


@format_statement.register
def _(node: ast.MigrateRelease) -> str:
    return "migrate release"


@format_statement.register
def _(node: ast.Reclaim) -> str:
    return f"reclaim {node.count}"


@format_statement.register
def _(node: ast.DropCaches) -> str:
    return "drop_caches"


@format_statement.register
def _(node: ast.UffdRegister) -> str:
    text = f"uffd register {format_target(node.target)} {','.join(node.modes)}"
    return text + (f" features {','.join(node.features)}" if node.features else "")


@format_statement.register
def _(node: ast.UffdHandle) -> str:
    if node.action == "manual":
        return f"uffd handle {node.mode} manually"
    return f"uffd handle {node.mode} by {node.action}{_value(node.value, ' ')}"


def _flags(flags: tuple[str, ...]) -> str:
    return "".join(f" {flag}" for flag in flags)


@format_statement.register
def _(node: ast.UffdCopy) -> str:
    return f"uffd copy {format_target(node.target)}{_value(node.value)}{_flags(node.flags)}"


@format_statement.register
def _(node: ast.UffdZeropage) -> str:
    return f"uffd zeropage {format_target(node.target)}{_flags(node.flags)}"


@format_statement.register
def _(node: ast.UffdContinue) -> str:
    return f"uffd continue {format_target(node.target)}{_flags(node.flags)}"


@format_statement.register
def _(node: ast.UffdWriteprotect) -> str:
    return (f"uffd writeprotect {format_target(node.target)} {'on' if node.on else 'off'}"
            f"{_flags(node.flags)}")


@format_statement.register
def _(node: ast.UffdMove) -> str:
    return (f"uffd move {format_target(node.source)} to {format_target(node.target)}"
            f"{_flags(node.flags)}")


@format_statement.register
def _(node: ast.UffdPoison) -> str:
    return f"uffd poison {format_target(node.target)}{_flags(node.flags)}"


@format_statement.register
def _(node: ast.Show) -> str:
    arg = node.arg
    if arg is None:
        return f"show {node.view}"
    if isinstance(arg, ast.Node):
        return f"show {node.view} {format_target(arg)}"
    return f"show {node.view} {arg if isinstance(arg, int) or node.view == 'path' else _name(arg)}"


@format_statement.register
def _(node: ast.ExpectCounter) -> str:
    delta = "delta " if node.delta else ""
    process = f"{node.process}." if node.process else ""
    return f"expect {delta}{process}{node.counter} {node.op} {node.value}"


@format_statement.register
def _(node: ast.ExpectOutcome) -> str:
    return f"expect outcome {_step(node.step)} {node.op} {node.value}"


@format_statement.register
def _(node: ast.ExpectPath) -> str:
    return f"expect path {_step(node.step)} contains {node.function}"


@format_statement.register
def _(node: ast.ExpectState) -> str:
    return f"expect state {format_target(node.target)} {node.op} {node.value}"


@format_statement.register
def _(node: ast.ExpectValue) -> str:
    return f"expect value {format_target(node.target)} {node.op} {node.value}"
