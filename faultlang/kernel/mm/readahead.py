"""Mirrors mm/readahead.c (Linux 6.18): reading file pages before they are asked for.

page_cache_ra_order reads a window into the page cache and marks the folio where the
next (asynchronous) window should start with PG_readahead; page_cache_sync_ra and
page_cache_async_ra size the windows; force_page_cache_readahead serves
MADV_WILLNEED / POSIX_FADV_WILLNEED.

Simplified: reads complete at once; folio sizes are the file's `folio` size where
alignment allows (6.12's "+2 orders" and 7.x's ra->order ramp-up are not modelled:
they change minor-fault counts of cold large files, never major counts); no
page_cache_next_miss scan beyond the cached neighbours; readahead state is per file.
"""

from __future__ import annotations

from faultlang.kernel.include.linux.mm_types import Folio, Vma, linear_page_index
from faultlang.kernel.trace import kfunc, why

READAHEAD_C = "mm/readahead.c"


def ra_alloc_range(mapping, start: int, end: int, order: int, mark: int = -1) -> int:
    """Create the missing folios of [start, end) (clipped at EOF); the folio holding
    index `mark` gets PG_readahead. Returns the number of pages read."""
    from faultlang.kernel.mm.filemap import filemap_alloc_folio, folio_size_pages
    end = min(end, mapping.nr_pages)
    index = max(0, start)
    read = 0
    while index < end:
        folio = mapping.i_pages.get(index)
        if folio is not None:
            index = folio.index + folio.nr_pages
            continue
        o = folio_size_pages(mapping, index, end, order)
        folio = filemap_alloc_folio(mapping, index, o)
        if folio is None:
            break
        if folio.index <= mark < folio.index + folio.nr_pages:
            folio.readahead = True
        read += folio.nr_pages
        index += folio.nr_pages
    return read


@kfunc(READAHEAD_C, fault_bits=False)
def page_cache_ra_order(mapping, ra, order: int) -> int:
    """page_cache_ra_order - read [ra.start, ra.start + ra.size) clipped at EOF, marking
    PG_readahead at start + size - async_size (no mark when that is beyond EOF)."""
    mark = ra.start + ra.size - ra.async_size if ra.async_size else -1
    read = ra_alloc_range(mapping, ra.start, ra.start + ra.size, order, mark)
    mapping.system.vmstat.pgpgin += read * 4
    why(f"{read} pages read" + (f", PG_readahead at {mark}" if 0 <= mark < mapping.nr_pages else ""))
    return read


def get_next_ra_size(ra, max_pages: int) -> int:
    """get_next_ra_size(): grow the window ×4 while small, ×2 after, up to the maximum."""
    cur = ra.size
    if cur < max_pages // 16:
        return 4 * cur
    if cur <= max_pages // 2:
        return 2 * cur
    return max_pages


@kfunc(READAHEAD_C, fault_bits=False)
def page_cache_sync_ra(mapping, index: int, ra_pages: int) -> int:
    """page_cache_sync_ra - a sequential reader missed: read ra_pages from `index`."""
    ra = mapping.ra
    ra.start = index
    ra.size = ra_pages
    ra.async_size = ra_pages // 4 if ra_pages >= 4 else 0
    return page_cache_ra_order(mapping, ra, mapping.folio_order)


@kfunc(READAHEAD_C, fault_bits=False)
def page_cache_async_ra(mapping, folio: Folio, index: int) -> int:
    """page_cache_async_ra - the reader reached a PG_readahead folio: clear the mark and
    read the next window, which starts where the cached run ends."""
    folio.readahead = False
    ra = mapping.ra
    max_pages = mapping.system.settings.read_ahead >> 12
    if not max_pages:
        return 0
    if index != ra.start + ra.size - ra.async_size:
        why("not where the window expected it: restart after the cached run")
        start = folio.index + folio.nr_pages
        while start in mapping.i_pages:
            start += 1
        ra.size = max(1, start - index)
        ra.start = start
    else:
        ra.start += ra.size
    ra.size = get_next_ra_size(ra, max_pages)
    ra.async_size = ra.size
    return page_cache_ra_order(mapping, ra, mapping.folio_order)


@kfunc(READAHEAD_C, fault_bits=False)
def force_page_cache_readahead(vma: Vma, start: int, end: int) -> int:
    """force_page_cache_readahead - MADV_WILLNEED: read the range (clipped at EOF) into
    the page cache now; nothing is mapped, later faults find the pages (minor)."""
    mapping = vma.vm_file
    if getattr(mapping, "shmem", False):
        why("shmem: nothing to read (holes stay holes, swap is separate)")
        return 0
    first = linear_page_index(vma, start)
    last = linear_page_index(vma, end - 1) + 1
    read = ra_alloc_range(mapping, first, last, mapping.folio_order)
    mapping.system.vmstat.pgpgin += read * 4
    why(f"{read} pages read into the page cache")
    return read
