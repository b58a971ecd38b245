"""The machine's settings (`set KEY VALUE`): the kernel tunables a scenario may change.

Not a kernel file. Each setting names the sysctl or sysfs file it stands for, and its
default is the Linux 6.x x86-64 default (language spec, section 3). Which values are
allowed is checked once, by the language front end (faultlang/lang/settings.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Union

K, M, G = 1 << 10, 1 << 20, 1 << 30


@dataclass(frozen=True)
class SettingSpec:
    key: str
    default: Union[int, str]
    kind: str                      # "size" (shown as 64K) or "value"
    means: str = ""


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("ram", 256 * M, "size", "physical memory available to user pages (frames)"),
    SettingSpec("swap", 0, "size", "size of the swap device; 0 means no swap"),
    SettingSpec("levels", 4, "value", "page-table levels (CONFIG_X86_5LEVEL)"),
    SettingSpec("thp", "madvise", "value", "/sys/kernel/mm/transparent_hugepage/enabled"),
    SettingSpec("mthp", "off", "value", "anonymous mTHP size enabled as always"),
    SettingSpec("hugepages", 0, "value", "vm.nr_hugepages: 2 MiB pages in the hugetlb pool"),
    SettingSpec("fault_around", 64 * K, "size", "fault_around_bytes (debugfs)"),
    SettingSpec("page_cluster", 3, "value", "vm.page-cluster: swap readahead of 2^n pages"),
    SettingSpec("swap_device", "disk", "value", "rotational disk, ssd or zram"),
    SettingSpec("kernel", "6.18", "value", "behaviour profile"),
    SettingSpec("read_ahead", 128 * K, "size", "read_ahead_kb of the backing device"),
    SettingSpec("zero_page", "on", "value", "map the shared zero page on anonymous read faults"),
    SettingSpec("policy", "linux", "value", "reclaim policy"),
    SettingSpec("numa_nodes", 1, "value", "NUMA nodes; frames split evenly"),
    SettingSpec("memory_failure", "off", "value", "CONFIG_MEMORY_FAILURE (hardware-poison handling)"),
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
    memory_failure: str = "off"

    def with_value(self, key: str, value: Union[int, str]) -> "Settings":
        return replace(self, **{key: value})

    def items(self) -> list[tuple[str, Union[int, str]]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]

    @cached_property          # asked twice by every file read fault; settings never change
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
