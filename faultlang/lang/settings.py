"""The machine settings of `set KEY VALUE` (spec section 3): defaults and allowed values.

DEFAULTS follows Linux 6.18 on x86-64. `check_setting` says what is wrong with a value
in one sentence and how to fix it in another. The ranges are those the engine accepts
(faultlang/kernel/settings.py, which lang may not import), so `faultlang check` and
`faultlang run` agree.
"""

from __future__ import annotations

from typing import Callable, Optional, Union

from faultlang.lang.lexical import format_size, one_of, suggestion

__all__ = ["DEFAULTS", "DESCRIPTIONS", "check_setting"]

Value = Union[int, str]
Problem = Optional[tuple[str, str]]

K, M, G = 1 << 10, 1 << 20, 1 << 30

DEFAULTS: dict[str, Value] = {
    "ram": 256 * M, "swap": 0, "levels": 4, "thp": "madvise", "mthp": "off",
    "hugepages": 0, "fault_around": 64 * K, "page_cluster": 3, "swap_device": "disk",
    "kernel": "6.18", "read_ahead": 128 * K, "zero_page": "on", "policy": "linux",
    "numa_nodes": 1, "memory_failure": "off",
}

DESCRIPTIONS: dict[str, str] = {
    "ram": "physical memory available to user pages (frames)",
    "swap": "size of the swap device; 0 means no swap",
    "levels": "page-table levels, 4 or 5",
    "thp": "transparent huge pages: always, madvise or never",
    "mthp": "anonymous multi-size THP: off, or 16K..1M enabled as always",
    "hugepages": "number of 2 MiB pages in the hugetlb pool",
    "fault_around": "fault_around_bytes",
    "page_cluster": "vm.page-cluster (swap readahead of 2^n pages)",
    "swap_device": "disk, ssd or zram",
    "kernel": "behaviour profile: 6.18, or 6.12 where the two differ",
    "read_ahead": "read_ahead_kb of the backing device",
    "zero_page": "map the shared zero page on anonymous read faults: on or off",
    "policy": "reclaim policy: linux, fifo, lru, clock or opt",
    "numa_nodes": "NUMA nodes; frames are split evenly between them",
    "memory_failure": "CONFIG_MEMORY_FAILURE: on or off (off on the 6.18 reference machines)",
}

_WORDS: dict[str, tuple[str, ...]] = {
    "thp": ("always", "madvise", "never"), "swap_device": ("disk", "ssd", "zram"),
    "kernel": ("6.18", "6.12"), "zero_page": ("on", "off"),
    "policy": ("linux", "fifo", "lru", "clock", "opt"), "memory_failure": ("on", "off"),
}


def _size(key: str, low: int, high: int, example: str) -> Callable[[Value], Problem]:
    def check(value: Value) -> Problem:
        if not isinstance(value, int):
            return f"{key} takes a size, not '{value}'", f"write e.g. set {key} {example}"
        if not low <= value <= high:
            return (f"{key} {format_size(value)} is outside "
                    f"{format_size(low)}..{format_size(high)}", f"write e.g. set {key} {example}")
        if value % (4 * K):
            return (f"{key} {format_size(value)} is not a multiple of 4K",
                    f"round it to a whole number of pages, e.g. set {key} {example}")
        return None
    return check


def _count(key: str, low: int, high: int, example: str) -> Callable[[Value], Problem]:
    def check(value: Value) -> Problem:
        if not isinstance(value, int) or not low <= value <= high:
            return (f"{key} takes a number from {low} to {high}, not '{value}'",
                    f"write e.g. set {key} {example}")
        return None
    return check


def _power_of_two(key: str, low: int, high: int) -> Callable[[Value], Problem]:
    def check(value: Value) -> Problem:
        if value == "off":
            return None
        if isinstance(value, int) and low <= value <= high and not value & (value - 1):
            return None
        accepted = f"off or a power of two from {format_size(low)} to {format_size(high)}"
        return f"{key} cannot be '{value if isinstance(value, str) else format_size(value)}'", \
            f"use {accepted}"
    return check


def _word(key: str) -> Callable[[Value], Problem]:
    choices = _WORDS[key]

    def check(value: Value) -> Problem:
        if str(value) in choices:
            return None
        hint = suggestion(str(value), choices, f"use {one_of(choices)}")
        return f"{key} cannot be '{value}'", hint
    return check


_CHECKS: dict[str, Callable[[Value], Problem]] = {
    "ram": _size("ram", 4 * K, 64 * G, "64M"),
    "swap": _size("swap", 0, 64 * G, "256M"),
    "levels": lambda v: None if v in (4, 5) else (f"levels cannot be '{v}'", "use 4 or 5"),
    "thp": _word("thp"),
    "mthp": _power_of_two("mthp", 16 * K, 1 * M),
    "hugepages": _count("hugepages", 0, 1 << 20, "8"),
    "fault_around": _size("fault_around", 4 * K, 2 * M, "64K"),
    "page_cluster": _count("page_cluster", 0, 10, "3"),
    "swap_device": _word("swap_device"),
    "kernel": _word("kernel"),
    "read_ahead": _size("read_ahead", 0, 64 * M, "128K"),
    "zero_page": _word("zero_page"),
    "policy": _word("policy"),
    "numa_nodes": _count("numa_nodes", 1, 64, "2"),
    "memory_failure": _word("memory_failure"),
}


def check_setting(key: str, value: Value) -> Problem:
    """(problem, hint) when `set key value` is not allowed, else None."""
    check = _CHECKS.get(key)
    if check is None:
        return f"unknown setting '{key}'", suggestion(key, DEFAULTS, f"settings are "
                                                      f"{one_of(list(DEFAULTS))}")
    return check(value)
