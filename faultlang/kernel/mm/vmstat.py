"""Mirrors mm/vmstat.c: the machine-wide event counters of /proc/vmstat."""

from __future__ import annotations

# The events faultlang counts, in /proc/vmstat order of appearance.
VM_EVENTS = ("pgfault", "pgmajfault", "pgreuse", "pgalloc", "pgfree", "pswpin", "pswpout",
             "pgpgin", "pgpgout", "pglazyfree", "pglazyfreed", "thp_fault_alloc", "thp_fault_fallback", "thp_split_pmd",
             "cow_ksm", "numa_hint_faults", "pgmigrate_success", "oom_kill")


class VmEvents:
    """vm_event_states: one counter per event."""

    __slots__ = VM_EVENTS

    def __init__(self) -> None:
        for name in VM_EVENTS:
            setattr(self, name, 0)

    def items(self) -> list[tuple[str, int]]:
        return [(name, getattr(self, name)) for name in VM_EVENTS]
