"""CountersView: /proc/PID/stat fault counters per process and /proc/vmstat.

One row per process (not one table each) so a parent and its fork child sit side by
side: the COW lesson is exactly the difference between those two rows.
"""

from __future__ import annotations

from typing import Optional, Sequence

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.text import Text

from faultlang.render._tables import plain_table
from faultlang.render._trim import trimmed
from faultlang.snapshots import Counters, ProcessView, Snapshot

__all__ = ["CountersView", "ordered_vmstat"]

_COUNTER_COLUMNS = (("minflt", "minflt"), ("majflt", "majflt"), ("page_faults", "page_faults"),
                    ("rss", "rss"), ("rss_anon", "anon"), ("rss_file", "file"),
                    ("rss_shmem", "shmem"), ("swap", "swap"))
# perf's minor/major events skip faults without user registers (GUP), so they can
# drift from minflt/majflt; show them only when they do.
_PERF_COLUMNS = (("perf_minor", "perf_minor", "minflt"), ("perf_major", "perf_major", "majflt"))
_VMSTAT_FIRST = ("pgfault", "pgmajfault")


def ordered_vmstat(vmstat: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """pgfault and pgmajfault first, then the other keys in the order given."""
    first = [item for key in _VMSTAT_FIRST for item in vmstat if item[0] == key]
    return first + [item for item in vmstat if item[0] not in _VMSTAT_FIRST]


def _cell(value: int, before: Optional[int]) -> Text:
    text = Text(str(value))
    if before is not None:
        delta = value - before
        text.append(f" ({delta:+d})", style="dim" if delta == 0 else "fault.minor")
    return text


class CountersView:
    """Counters of some processes, and machine-wide vmstat.

    Args:
        processes: the processes to show, in order.
        vmstat: (key, value) pairs from /proc/vmstat.
        before: an earlier counters Snapshot; every cell then shows its change since.
    """

    def __init__(self, processes: Sequence[ProcessView], vmstat: Sequence[tuple[str, int]],
                 before: Optional[Snapshot] = None) -> None:
        self.processes = tuple(processes)
        self.vmstat = tuple(vmstat)
        self.before = before

    def _before_counters(self, name: str) -> Optional[Counters]:
        if self.before is None:
            return None
        for process in self.before.processes:
            if process.name == name:
                return process.counters
        return Counters()  # a process created since then started from zero

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        columns = list(_COUNTER_COLUMNS)
        for field, header, twin in _PERF_COLUMNS:
            if any(getattr(p.counters, field) != getattr(p.counters, twin)
                   for p in self.processes):
                columns.append((field, header))
        headers = [header for _, header in columns]
        table = plain_table("process", "pid", *headers, right=("pid", *headers),
                            ascii_only=options.ascii_only)
        for process in self.processes:
            name = process.name if process.alive else f"{process.name} (exited)"
            old = self._before_counters(process.name)
            cells = [_cell(getattr(process.counters, field),
                           None if old is None else getattr(old, field))
                     for field, _ in columns]
            table.add_row(Text(name), Text(str(process.pid)), *cells)
        parts: list[RenderableType] = [table] if self.processes else []
        if self.vmstat:
            old_vmstat = dict(self.before.vmstat) if self.before is not None else None
            vm = plain_table("vmstat", "value", right=("value",), ascii_only=options.ascii_only)
            for key, value in ordered_vmstat(self.vmstat):
                vm.add_row(key, _cell(value, None if old_vmstat is None
                                      else old_vmstat.get(key, 0)))
            parts += [Text(""), vm] if parts else [vm]
        yield from trimmed(console, options, parts)
