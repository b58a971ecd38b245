"""Header, VMAs, memory, settings and expects views: exact text."""

from __future__ import annotations

import pytest

from faultlang.render import ExpectsView, HeaderView, MemoryView, SettingsView, VmasView
from faultlang.render._samples import (
    sample_memory,
    sample_report,
    sample_settings,
    sample_vmas,
)
from faultlang.render.header import kernel_label
from faultlang.snapshots import ExpectResult


def test_header(render):
    assert render(HeaderView(sample_report()), 80) == (
        "faultlang · modelled on Linux 6.18\n"
        "scenario  lessons/01-first-touch.fault\n"
        "title     First touch of an anonymous buffer\n"
        "settings  thp=never\n")
    assert kernel_label("Linux 6.12") == "Linux 6.12"


@pytest.mark.parametrize("width", [80, 100])
def test_vmas_match_golden(render, golden, width):
    golden(f"vmas_{width}", render(VmasView(sample_vmas(), "main"), width))


def test_vmas_read_like_proc_maps(render):
    text = render(VmasView(sample_vmas(), "main"), 100)
    assert "7f0000200000-7f0000400000  r-xp   00004000   2 MiB  lib   file libc.so" in text
    assert render(VmasView((), "child"), 80) == "child has no mappings\n"


def test_memory_matches_golden(render, golden):
    golden("memory_80", render(MemoryView(sample_memory()), 80))


def test_hugetlb_counters_are_sized_in_huge_pages(render):
    import dataclasses
    memory = dataclasses.replace(sample_memory(), hugepages_total=4, hugepages_free=1,
                                 extra=(("HugePages_Rsvd", 2), ("HugePages_Surp", 0)))
    rows = {line.split()[0]: line.split()[1:] for line in render(MemoryView(memory), 80)
            .splitlines() if line.startswith("HugePages_")}
    assert rows == {"HugePages_Rsvd": ["2", "4", "MiB"], "HugePages_Surp": ["0", "0"]}


def test_settings_mark_changed_values(render, golden):
    text = render(SettingsView(sample_settings(thp="never", swap="16M")), 80)
    golden("settings_80", text)
    assert [line.split()[0] for line in text.splitlines() if line.endswith("changed")] == \
        ["swap", "thp"]


def test_expects_summary(render):
    ok = ExpectResult(1, True, "expect minflt == 1", 1, 1)
    bad = ExpectResult(2, False, "expect outcome last == major", "major", "minor")
    assert render(ExpectsView([ok] * 7), 80) == "7 expects: 7 ok\n"
    assert render(ExpectsView([ok, bad]), 80) == (
        "line 2: expect outcome last == major  FAIL  expected major, actual minor\n"
        "1 of 2 expects failed\n")
    assert render(ExpectsView([]), 80) == "no expects\n"
