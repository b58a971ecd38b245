"""The runtime side of the textbook reclaim policies (kernel/mm/textbook.py).

- opt needs the future. Before each access or trace statement, the runtime computes
  the reference string of that statement and every statement after it that it can
  already resolve (the scenario's remaining statements, which the Runner keeps): the
  pages of accesses to mappings that exist now and the pages of traces, with the step
  number each access will get (one step per page access). Accesses to mappings made
  later are not known yet; they join the future when the statement that maps them has
  run (the future is recomputed at every access statement). In the REPL only the
  statement being run is known. Pages are named by their virtual page number.
- lru needs a timestamp per access: the runtime stamps each access it runs
  (Machine.access, trace replay) in Policy.stamp; other policies pay nothing for it.
- `show lru`: the kernel's active/inactive lists, or the textbook policy's queue.
"""

from __future__ import annotations

from typing import Any, Optional

from faultlang.errors import FaultlangError
from faultlang.lang import ast


def page_key(system: Any, folio: Any) -> Optional[int]:
    """The virtual page number a folio backs (for opt's future)."""
    from faultlang.kernel.mm.vmscan import folio_ptes
    for vma, _, _ in folio_ptes(system, folio):
        return (vma.vm_start >> 12) + folio.index - vma.vm_pgoff
    return None


def set_future(machine: Any, statements: list, source_name: str) -> None:
    """Give opt the reference string of `statements` (the current one first)."""
    policy = machine.system.policy
    future: dict[int, list[int]] = {}
    pos = machine.step + 1
    for stmt in statements:
        inner = stmt.statement if isinstance(stmt, ast.As) else stmt
        if isinstance(inner, ast.Access):
            try:
                addrs = machine.addresses(inner.target)
            except FaultlangError:
                continue                # a mapping made later: not known yet
            for a in addrs:
                future.setdefault(a >> 12, []).append(pos)
                pos += 1
        elif isinstance(inner, ast.Trace):
            from faultlang.runtime.trace import load_trace, resolve_trace
            try:
                runs = load_trace(resolve_trace(source_name, inner.path, inner), inner.format)
            except FaultlangError:
                continue
            for key, count in runs:
                future.setdefault(key >> 2, []).append(pos)
                pos += count
    policy.future = future


def future_of_runs(machine: Any, runs: list) -> None:
    """Give opt the reference string of one trace about to be replayed (benchmarks)."""
    future: dict[int, list[int]] = {}
    pos = machine.step + 1
    for key, count in runs:
        future.setdefault(key >> 2, []).append(pos)
        pos += count
    machine.system.policy.future = future


def lru_text(machine: Any) -> str:
    """`show lru`."""
    system = machine.system
    policy = system.policy
    if policy is not None:
        return "\n".join(policy.lines(system, lambda f: _label(machine, f)))
    from faultlang.kernel.mm.vmscan import lru_refresh
    lru = lru_refresh(system)
    out = [f"linux: {len(lru.inactive)} inactive, {len(lru.active)} active "
           "(oldest first; reclaim takes the inactive list's head)"]
    for name, lst in (("inactive", lru.inactive), ("active", lru.active)):
        out.append(f"{name}:")
        for folio in list(lst.values())[:64]:
            flags = ",".join(w for w, on in (("anon", folio.anon), ("swapcache", folio.swapcache),
                                             ("dirty", folio.dirty),
                                             ("referenced", folio.referenced)) if on)
            out.append(f"   pfn {folio.pfn:#x}  {_label(machine, folio)}  {flags}")
        if len(lst) > 64:
            out.append(f"   ... and {len(lst) - 64} more")
    return "\n".join(out)


def _label(machine: Any, folio: Any) -> str:
    key = page_key(machine.system, folio)
    if key is None:
        name = getattr(folio.mapping, "name", None)
        return f"{name}:{folio.index}" if name else "unmapped"
    return machine.label(key << 12)
