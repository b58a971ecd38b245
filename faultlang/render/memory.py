"""MemoryView: the machine's frames, like a small /proc/meminfo in pages."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult

from faultlang.render._fmt import PAGE_SIZE, size_text
from faultlang.render._tables import plain_table
from faultlang.render._trim import trimmed
from faultlang.snapshots import MemoryView as MemorySnapshot

__all__ = ["MemoryView"]

HUGE_PAGE_SIZE = 2 << 20


class MemoryView:
    """Frames total/free/used, what the used ones hold, swap and the hugetlb pool."""

    def __init__(self, memory: MemorySnapshot) -> None:
        self.memory = memory

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        m = self.memory
        table = plain_table("memory", "pages", "size", title="physical memory",
                            right=("pages", "size"), ascii_only=options.ascii_only)

        def row(name: str, pages: int, page_size: int = PAGE_SIZE) -> None:
            table.add_row(name, str(pages), size_text(pages * page_size) if pages else "0")

        row("frames total", m.total_frames)
        row("frames free", m.free_frames)
        row("frames used", m.used_frames)
        row("anon", m.anon_pages)
        row("file (page cache)", m.file_pages)
        row("shmem", m.shmem_pages)
        if m.swap_total:
            row("swap total", m.swap_total)
            row("swap used", m.swap_used)
            row("swap cache", m.swap_cache)
        if m.hugepages_total:
            row("hugepages total (2 MiB)", m.hugepages_total, HUGE_PAGE_SIZE)
            row("hugepages free (2 MiB)", m.hugepages_free, HUGE_PAGE_SIZE)
        for key, value in m.extra:
            row(key, value, HUGE_PAGE_SIZE if key.startswith("HugePages_") else PAGE_SIZE)
        yield from trimmed(console, options, [table])
