"""CallPathView: the kernel functions one access went through, as a tree.

The tree is rebuilt from CallFrame.depth alone, so a retried fault needs no special
case: the second attempt is simply another handle_mm_fault at the same depth under
the same exc_page_fault.
"""

from __future__ import annotations

from typing import Optional

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.text import Text
from rich.tree import Tree

from faultlang.render._fmt import Glyphs, glyphs, hexaddr
from faultlang.render._trim import trimmed
from faultlang.render.log import outcome_text
from faultlang.snapshots import CallFrame, StepRecord

__all__ = ["CallPathView", "describe_error_code", "frame_label"]

# arch/x86/include/asm/trap_pf.h: P, W, U and I are spelled out in reading order
# ("not-present write user"); the rarer bits follow by name.
_PF_PROT, _PF_WRITE, _PF_USER, _PF_INSTR = 1 << 0, 1 << 1, 1 << 2, 1 << 4
_PF_OTHER = ((1 << 3, "reserved-bit"), (1 << 5, "protection-key"), (1 << 6, "shadow-stack"),
             (1 << 15, "sgx"))


def describe_error_code(error_code: int) -> str:
    """0x6 → "0x6: not-present write user"; 0x15 → "0x15: protection instruction-fetch user"."""
    words = ["protection" if error_code & _PF_PROT else "not-present"]
    if error_code & _PF_INSTR:
        words.append("instruction-fetch")
    else:
        words.append("write" if error_code & _PF_WRITE else "read")
    words.append("user" if error_code & _PF_USER else "kernel")
    words += [name for bit, name in _PF_OTHER if error_code & bit]
    return f"{error_code:#x}: {' '.join(words)}"


def frame_label(frame: CallFrame, g: Glyphs, width: Optional[int] = None) -> Text:
    """"do_anonymous_page  mm/memory.c  why  → VM_FAULT_X" ("→ 0" for an empty return).

    When the line would be wider than `width`, the why moves to a line of its own
    (and then, if still too wide, the return value), so no part is split.
    """
    head = Text.assemble((frame.symbol, "kfunc.name"), "  ", (frame.file, "kfunc.file"))
    ret = None
    if frame.ret is not None:
        ret = Text(f"{g.arrow} {frame.ret or '0'}", style="kfunc.ret")
    why = Text(frame.why, style="kfunc.why") if frame.why else None
    one_line = Text("  ").join(part for part in (head, why, ret) if part is not None)
    if why is None or width is None or one_line.cell_len <= width:
        return one_line
    if ret is not None and head.cell_len + 2 + ret.cell_len > width:
        return Text("\n").join([head, ret, why])
    first = Text("  ").join(part for part in (head, ret) if part is not None)
    return Text("\n").join([first, why])


def _title(step: StepRecord) -> Text:
    title = Text.assemble(("step ", "header"), (str(step.n), "header"), f": {step.op} ")
    if step.target:
        title.append(f"{step.target} @ ")
    title.append(hexaddr(step.address), style="addr")
    title.append("  ")
    title.append_text(outcome_text(step))
    if step.process != "main":
        title.append(f"  (process {step.process})", style="dim")
    return title


class CallPathView:
    """The title line, the #PF error code, and the tree of kernel functions entered."""

    def __init__(self, step: StepRecord) -> None:
        self.step = step

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        g = glyphs(options)
        step = self.step
        lines = [_title(step)]
        if step.error_code is not None:
            lines.append(Text(f"x86 error code {describe_error_code(step.error_code)}",
                              style="dim"))
        if not step.frames:
            lines.append(Text("no kernel functions entered (the page was already mapped)",
                              style="dim"))
            yield from trimmed(console, options, lines)
            return
        tree = Tree(Group(*lines), guide_style="dim")
        # stack[d] is the node that frames of depth d + 1 attach to.
        stack: list[tuple[int, Tree]] = [(-1, tree)]
        for frame in step.frames:
            while stack[-1][0] >= frame.depth:
                stack.pop()
            room = options.max_width - 4 * len(stack)  # each tree level indents 4 cells
            node = stack[-1][1].add(frame_label(frame, g, room))
            stack.append((frame.depth, node))
        yield from trimmed(console, options, [tree])
