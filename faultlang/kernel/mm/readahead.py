"""Mirrors mm/readahead.c (Linux 6.18): reading file pages before they are asked for.

page_cache_ra_order reads the window [ra.start, ra.start + ra.size) into the page cache
in folios of ra.order and marks the folio where the next (asynchronous) window should
start with PG_readahead; page_cache_sync_ra and page_cache_async_ra size the windows;
force_page_cache_readahead serves MADV_WILLNEED / POSIX_FADV_WILLNEED.

Folio orders ramp up (6.18, measured): the first window of a cold file is read in
order-0 folios (mmap read-around and sequential readahead set ra->order = 0), and each
asynchronous window asks for two orders more than the last (ra->order += 2), capped by
the mapping's largest folio order (9 on x86-64), by log2 of the window size and by the
index's alignment. With read_ahead_kb 128 a cold ext4 file ends up cached as 32 pages
of order 0, 32 of order 2, 32 of order 4 and then 32-page folios, and fault-around
maps each large folio whole. ext4 has large folios since 6.16, so the `kernel 6.12`
profile reads order-0 folios only (page_cache_ra_order's fallback).

Simplified: reads complete at once; the readahead state is per file, not per open
file; prev_pos is never set (faultlang has no read(2)), so a sequential-advice miss
anywhere but at index 0 is read as a standalone small read; bdi->io_pages (the
device's largest request) is not modelled, so requests never grow beyond read_ahead.
"""

from __future__ import annotations

from faultlang.kernel.include.linux.mm_types import Vma, linear_page_index
from faultlang.kernel.trace import kfunc, why

READAHEAD_C = "mm/readahead.c"
MAX_PAGECACHE_ORDER = 9           # x86-64: HPAGE_PMD_ORDER bounds page-cache folios


def mapping_large_folio_support(mapping) -> bool:
    """mapping_large_folio_support(): may this file's page cache hold large folios?
    ext4 sets it since 6.16 (ext4_set_inode_mapping_order), so not in the `kernel
    6.12` profile; tmpfs allocates its own folios in shmem_alloc_folio."""
    return not mapping.shmem and mapping.system.settings.kernel != "6.12"


def mapping_max_folio_order(mapping) -> int:
    """mapping_max_folio_order(): ext4 with 4 KiB blocks allows up to
    min(MAX_PAGECACHE_ORDER, 11 + blkbits - PAGE_SHIFT) = 9."""
    return MAX_PAGECACHE_ORDER if mapping_large_folio_support(mapping) else 0


def read_pages(mapping, nr: int) -> int:
    """read_pages(): submit the read of the folios just added (vmstat pgpgin, in KiB)."""
    mapping.system.vmstat.pgpgin += nr * 4
    return nr


def ra_alloc_range(mapping, start: int, end: int, order: int) -> int:
    """The scenario's `cached` pages: folios of `order` where alignment allows (as
    buffered writes of the file's folio size leave them), skipping cached pages and
    clipped at EOF. Returns the number of pages added. No I/O, no readahead marks."""
    from faultlang.kernel.mm.filemap import filemap_alloc_folio, folio_size_pages
    end = min(end, mapping.nr_pages)
    index = max(0, start)
    added = 0
    while index < end:
        folio = mapping.i_pages.get(index)
        if folio is not None:
            index = folio.index + folio.nr_pages
            continue
        folio = filemap_alloc_folio(mapping, index, folio_size_pages(mapping, index, end, order))
        if folio is None:
            break
        added += folio.nr_pages
        index += folio.nr_pages
    return added


def page_cache_ra_unbounded(mapping, index: int, nr_to_read: int, lookahead_size: int) -> int:
    """page_cache_ra_unbounded(): order-0 folios for the missing pages of
    [index, index + nr_to_read); the page lookahead_size before the end gets
    PG_readahead if it is newly added. Returns the pages read."""
    from faultlang.kernel.mm.filemap import filemap_alloc_folio
    mark = index + nr_to_read - lookahead_size if lookahead_size <= nr_to_read else -1
    read = 0
    for i in range(index, index + nr_to_read):
        if i in mapping.i_pages:
            continue
        folio = filemap_alloc_folio(mapping, i, 0)
        if folio is None:
            break
        if i == mark:
            folio.readahead = True
        read += 1
    return read_pages(mapping, read)


def do_page_cache_ra(mapping, index: int, nr_to_read: int, lookahead_size: int) -> int:
    """do_page_cache_ra(): page_cache_ra_unbounded clipped at the page holding EOF."""
    end_index = mapping.nr_pages - 1
    if index > end_index:
        return 0
    nr_to_read = min(nr_to_read, end_index - index + 1)
    return page_cache_ra_unbounded(mapping, index, nr_to_read, lookahead_size)


def ra_alloc_folio(mapping, index: int, mark: int, order: int) -> bool:
    """ra_alloc_folio(): add a folio of `order` at `index`, PG_readahead when it holds
    `mark`. False when filemap_add_folio fails: a page of the range is already cached
    (-EEXIST) or no memory."""
    from faultlang.kernel.mm.filemap import filemap_alloc_folio
    nr = 1 << order
    if any(index + k in mapping.i_pages for k in range(nr)):
        return False
    folio = filemap_alloc_folio(mapping, index, order)
    if folio is None:
        return False
    if index == mark & ~(nr - 1):
        folio.readahead = True
    return True


@kfunc(READAHEAD_C, fault_bits=False)
def page_cache_ra_order(mapping, ra) -> int:
    """page_cache_ra_order - read the window [ra.start, ra.start + ra.size) clipped at
    EOF in folios of ra.order (capped by the mapping, by log2 of the size and by each
    index's alignment), marking PG_readahead at start + size - async_size. A page
    already cached stops the large folios: the rest is read in order-0 folios."""
    start = index = ra.start
    mark = start + ra.size - ra.async_size
    if not mapping_large_folio_support(mapping):
        ra.order = 0
        read = do_page_cache_ra(mapping, start, ra.size, ra.async_size)
        why(f"no large folios: {read} order-0 pages read" + _mark_note(mapping, mark))
        return read
    limit = min(mapping.nr_pages - 1, index + ra.size - 1)
    new_order = min(mapping_max_folio_order(mapping), ra.order, max(ra.size, 1).bit_length() - 1)
    ra.order = new_order
    read = 0
    ok = True
    while index <= limit:
        order = new_order
        if index & ((1 << order) - 1):
            order = (index & -index).bit_length() - 1       # __ffs(index): align smaller
        while order > 0 and index + (1 << order) - 1 > limit:
            order -= 1                                     # never past EOF
        ok = ra_alloc_folio(mapping, index, mark, order)
        if not ok:
            break
        read += 1 << order
        index += 1 << order
    read_pages(mapping, read)
    if not ok and ra.size > index - start:
        why(f"index {index} already cached: the rest of the window in order-0 folios")
        read += do_page_cache_ra(mapping, index, ra.size - (index - start), ra.async_size)
    why(f"{read} pages read in order-{new_order} folios" + _mark_note(mapping, mark))
    return read


def _mark_note(mapping, mark: int) -> str:
    folio = mapping.i_pages.get(mark)
    return f", PG_readahead at {mark}" if folio is not None and folio.readahead else ""


def get_init_ra_size(size: int, max_pages: int) -> int:
    """get_init_ra_size(): the first window: the request rounded up to a power of two,
    ×4 while small, ×2 while medium, else the maximum."""
    newsize = 1 << max(size - 1, 0).bit_length()
    if newsize <= max_pages // 32:
        return newsize * 4
    if newsize <= max_pages // 4:
        return newsize * 2
    return max_pages


def get_next_ra_size(ra, max_pages: int) -> int:
    """get_next_ra_size(): grow the window ×4 while small, ×2 after, up to the maximum."""
    cur = ra.size
    if cur < max_pages // 16:
        return 4 * cur
    if cur <= max_pages // 2:
        return 2 * cur
    return max_pages


def page_cache_prev_miss(mapping, index: int, max_scan: int) -> int:
    """page_cache_prev_miss(): the first uncached index at or below `index`, scanning
    at most max_scan pages (-1, the kernel's ULONG_MAX, when the scan passes index 0)."""
    for _ in range(max_scan):
        if index < 0 or index not in mapping.i_pages:
            break
        index -= 1
    return index


@kfunc(READAHEAD_C, fault_bits=False)
def page_cache_sync_ra(mapping, index: int, req_count: int) -> int:
    """page_cache_sync_ra - a reader missed at `index` wanting req_count pages.

    At index 0 (or an oversized request) it starts a readahead stream: the initial
    window from `index`, order 0, PG_readahead half-way when the window is no larger
    than the request. Elsewhere (prev_pos never says "sequential" here) the cached
    history before the index decides: no more of it than the request means a
    standalone small read, read as is with no readahead state and no mark."""
    ra = mapping.ra
    max_pages = mapping.system.settings.read_ahead >> 12
    if index == 0 or req_count > max_pages:
        ra.start = index
        ra.size = get_init_ra_size(req_count, max_pages)
        ra.async_size = ra.size - req_count if ra.size > req_count else ra.size >> 1
        ra.order = 0
        return page_cache_ra_order(mapping, ra)
    miss = page_cache_prev_miss(mapping, index - 1, max_pages)
    contig_count = index - miss - 1
    if contig_count <= req_count:
        why(f"{contig_count} cached pages before index {index}: a standalone small read "
            f"of {req_count} pages, no PG_readahead")
        return do_page_cache_ra(mapping, index, req_count, 0)
    if miss < 0:
        contig_count *= 2                 # cached from the start: likely a whole-file read
    ra.start = index
    ra.size = min(contig_count + req_count, max_pages)
    ra.async_size = 1
    ra.order = 0
    return page_cache_ra_order(mapping, ra)


def page_cache_next_miss(mapping, index: int, max_scan: int) -> int:
    """page_cache_next_miss(): the first uncached index at or after `index`, scanning at
    most max_scan pages (index + max_scan when there is none)."""
    for k in range(max_scan):
        if index + k not in mapping.i_pages:
            return index + k
    return index + max_scan


@kfunc(READAHEAD_C, fault_bits=False)
def page_cache_async_ra(mapping, folio, index: int, req_count: int) -> int:
    """page_cache_async_ra - the reader reached a PG_readahead folio: clear the mark and
    read the next window, two folio orders larger than the last.

    Where the window expected it, the next window follows the last one and grows
    (get_next_ra_size); otherwise it starts after the cached run. Its end is trimmed
    to the new order's alignment (at most that of max_pages)."""
    ra = mapping.ra
    max_pages = mapping.system.settings.read_ahead >> 12
    if not max_pages:
        return 0
    folio.readahead = False
    expected = (ra.start + ra.size - ra.async_size) & ~(folio.nr_pages - 1)
    if index == expected:
        ra.start += ra.size
        ra.size = max(ra.size, get_next_ra_size(ra, max_pages))
    else:
        start = page_cache_next_miss(mapping, index + 1, max_pages)
        if start - index > max_pages:
            why("no uncached page within max_pages: nothing to read")
            return 0
        why(f"not where the window expected it ({expected}): restart at {start}")
        ra.start = start
        ra.size = start - index + req_count
        ra.size = get_next_ra_size(ra, max_pages)
    ra.order += 2
    align = 1 << min(ra.order, (max_pages & -max_pages).bit_length() - 1)
    end = ra.start + ra.size
    aligned_end = end & ~(align - 1)
    if aligned_end > ra.start:
        ra.size -= end - aligned_end
    ra.async_size = ra.size
    return page_cache_ra_order(mapping, ra)


@kfunc(READAHEAD_C, fault_bits=False)
def force_page_cache_readahead(vma: Vma, start: int, end: int) -> int:
    """force_page_cache_readahead - MADV_WILLNEED: read the range (clipped at EOF) into
    the page cache now, in order-0 folios and without PG_readahead (do_page_cache_ra
    with no lookahead); nothing is mapped, later faults find the pages (minor)."""
    mapping = vma.vm_file
    if getattr(mapping, "shmem", False):
        why("shmem: nothing to read (holes stay holes, swap is separate)")
        return 0
    first = linear_page_index(vma, start)
    last = linear_page_index(vma, end - 1) + 1
    read = do_page_cache_ra(mapping, first, last - first, 0)
    why(f"{read} pages read into the page cache")
    return read
