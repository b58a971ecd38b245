"""The machine's settings (`set KEY VALUE`): the kernel tunables a scenario may change.

Not a kernel file. Each setting names the sysctl or sysfs file it stands for, and its
default is the Linux 6.x x86-64 default (language spec, section 3).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Union

K, M, G = 1 << 10, 1 << 20, 1 << 30


@dataclass(frozen=True)
class SettingSpec:
    key: str
    default: Union[int, str]
    kind: str                      # "size", "int" or "word"
    choices: tuple[str, ...] = ()
    low: int = 0
    high: int = 1 << 62
    means: str = ""


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("ram", 256 * M, "size", low=64 * K, high=64 * G,
                means="physical memory available to user pages (frames)"),
    SettingSpec("swap", 0, "size", high=64 * G, means="size of the swap device; 0 means no swap"),
    SettingSpec("levels", 4, "int", low=4, high=5, means="page-table levels (CONFIG_X86_5LEVEL)"),
    SettingSpec("thp", "madvise", "word", ("always", "madvise", "never"),
                means="/sys/kernel/mm/transparent_hugepage/enabled"),
    SettingSpec("mthp", "off", "word", ("off", "16K", "32K", "64K", "128K", "256K", "512K", "1M"),
                means="anonymous mTHP size enabled as always (hugepages-<size>kB/enabled)"),
    SettingSpec("hugepages", 0, "int", high=1 << 20, means="vm.nr_hugepages: 2 MiB pages in the hugetlb pool"),
    SettingSpec("fault_around", 64 * K, "size", low=4 * K, high=2 * M,
                means="fault_around_bytes (debugfs)"),
    SettingSpec("page_cluster", 3, "int", high=10, means="vm.page-cluster: swap readahead of 2^n pages"),
    SettingSpec("swap_device", "disk", "word", ("disk", "ssd", "zram"),
                means="the swap device: rotational disk, ssd (VMA readahead) or zram (synchronous)"),
    SettingSpec("kernel", "6.18", "word", ("6.18", "6.12"), means="behaviour profile"),
    SettingSpec("read_ahead", 128 * K, "size", high=64 * M, means="read_ahead_kb of the backing device"),
    SettingSpec("zero_page", "on", "word", ("on", "off"),
                means="map the shared zero page on anonymous read faults"),
    SettingSpec("policy", "linux", "word", ("linux", "fifo", "lru", "clock", "opt"),
                means="reclaim policy"),
    SettingSpec("numa_nodes", 1, "int", low=1, high=64, means="NUMA nodes; frames split evenly"),
)

SPEC_BY_KEY = {s.key: s for s in SPECS}


@dataclass(frozen=True)
class Settings:
    ram: int = 256 * M
    swap: int = 0
    levels: int = 4
    thp: str = "madvise"
    mthp: str = "off"
    hugepages: int = 0
    fault_around: int = 64 * K
    page_cluster: int = 3
    swap_device: str = "disk"
    kernel: str = "6.18"
    read_ahead: int = 128 * K
    zero_page: str = "on"
    policy: str = "linux"
    numa_nodes: int = 1

    def with_value(self, key: str, value: Union[int, str]) -> "Settings":
        return replace(self, **{key: value})

    def items(self) -> list[tuple[str, Union[int, str]]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]

    @property
    def fault_around_pages(self) -> int:
        """fault_around_bytes >> PAGE_SHIFT, rounded down to a power of two, at most 512."""
        pages = max(1, self.fault_around >> 12)
        return min(1 << (pages.bit_length() - 1), 512)


def format_value(key: str, value: Union[int, str]) -> str:
    spec = SPEC_BY_KEY[key]
    if spec.kind != "size" or not isinstance(value, int):
        return str(value)
    for unit, size in (("G", G), ("M", M), ("K", K)):
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def check_value(key: str, value: Union[int, str]) -> str:
    """An empty string when `value` is allowed for `key`, else one sentence saying why not."""
    spec = SPEC_BY_KEY.get(key)
    if spec is None:
        return f"there is no setting '{key}'"
    if spec.kind == "word":
        if str(value) not in spec.choices:
            return f"'{key}' takes one of: {', '.join(spec.choices)}"
        return ""
    if not isinstance(value, int):
        return f"'{key}' takes a number" + (" or a size such as 64M" if spec.kind == "size" else "")
    if not spec.low <= value <= spec.high:
        return f"'{key}' must lie between {format_value(key, spec.low)} and {format_value(key, spec.high)}"
    if spec.kind == "size" and value % 4096:
        return f"'{key}' must be a multiple of the 4 KiB page size"
    return ""
