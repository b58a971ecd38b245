"""Readahead folio orders (mm/readahead.c, 6.18) and what they do to fault counts.

Every layout and fault list below was measured on 6.18.44 (ext4, /proc/kpageflags for
the folio sizes, getrusage around each page's first touch). The mapping is 2 MiB-aligned
at 0x7f0000000000 unless a test says otherwise.
"""

from faultlang.kernel.mm.readahead import get_init_ra_size, mapping_max_folio_order

BASE = 0x7F0000000000


def layout(sim, name="f"):
    """The file's folios as "index+pages", in index order."""
    return [f"{f.index}+{f.nr_pages}" for f in sim.machine.system.files[name].folios()]


def faults(sim, text):
    """Run `text` (reads of page i, in order) and list the pages that faulted: "iM" for a
    major fault, "i" for a minor one."""
    before = len(sim.machine.steps)
    sim(text)
    out = []
    for step in sim.machine.steps[before:]:
        if step.outcome in ("minor", "major"):
            page = int(step.target.split("[")[1].rstrip("]"))
            out.append(f"{page}M" if step.outcome == "major" else str(page))
    return out


def cold(sim, size="1M", ra="128K", at=BASE, opts="shared"):
    sim(f"set read_ahead {ra}\nfile f size {size} uncached\n"
        f"map m file f size {size} {opts} at {at:#x}")


def reads(pages):
    return "\n".join(f"read m[{i}]" for i in pages)


def test_async_windows_grow_the_order_by_two_up_to_log2_of_the_window(sim):
    cold(sim)
    got = faults(sim, reads(range(256)))
    assert got == ["0M", "16", "24", "32", "48", "64", "80", "96", "128", "160", "192",
                   "224", "240"]
    assert layout(sim) == ([f"{i}+1" for i in range(32)] + [f"{i}+4" for i in range(32, 64, 4)]
                           + ["64+16", "80+16"] + [f"{i}+32" for i in range(96, 256, 32)])
    assert sim.machine.system.files["f"].ra.order == 5       # ra->order after the cap


def test_touching_a_marked_folio_drops_the_lock_and_the_retry_maps_it_by_fault_around(sim):
    cold(sim)
    sim(reads(range(96)))
    assert faults(sim, "read m[96]") == ["96"]                # one minor fault, not two
    path = sim.last().path
    assert "page_cache_async_ra" in path and "finish_fault" not in path
    assert path.count("handle_mm_fault") == 2 and path[-1] == "mm_account_fault"
    assert faults(sim, reads(range(97, 128))) == []           # the whole 32-page folio


def test_a_large_folio_ending_on_the_last_page_is_mapped_a_window_at_a_time(sim):
    cold(sim)
    sim(reads(range(224)))
    assert faults(sim, reads(range(224, 256))) == ["224", "240"]


def test_a_bigger_window_trims_its_end_to_the_new_orders_alignment(sim):
    # read-around from page 48 (fault at 64): the order-6 window 144..176 is cut to
    # 144..160 so that it ends on a 32-page boundary, then the ramp goes on
    cold(sim)
    got = faults(sim, reads(range(64, 256)))
    assert got == ["64M", "72", "80", "96", "112", "128", "144", "160", "192", "224", "240"]
    assert layout(sim)[32:] == ([f"{i}+4" for i in range(80, 112, 4)] +
                                ["112+16", "128+16", "144+16", "160+32", "192+32", "224+32"])


def test_read_ahead_512k_ramps_to_128_page_folios(sim):
    cold(sim, size="4M", ra="512K")
    got = faults(sim, reads(range(1024)))
    assert got == (["0M"] + [str(i) for i in range(16, 384, 16)] + ["384", "448", "512", "640",
                   "768"] + [str(i) for i in range(896, 1024, 16)])
    assert layout(sim)[-4:] == ["512+128", "640+128", "768+128", "896+128"]


def test_a_cached_page_in_the_window_stops_the_large_folios(sim):
    # page_cache_ra_order's fallback: order-0 folios from the conflict on; ra->order
    # still ramps (the next window is order 4)
    sim("set read_ahead 128K\nfile f size 1M cached [33]\n"
        f"map m file f size 1M shared at {BASE:#x}")
    assert faults(sim, reads(range(256))) == ["0M", "16", "24", "32", "48", "64", "80", "96",
                                               "128", "160", "192", "224", "240"]
    assert layout(sim)[:66] == [f"{i}+1" for i in range(64)] + ["64+16", "80+16"]


def test_sequential_advice_starts_the_stream_at_index_0_only(sim):
    cold(sim, opts="shared sequential")
    assert faults(sim, reads(range(256))) == ["0M", "16", "32", "48", "64", "80", "96", "128",
                                               "160", "192", "224", "240"]
    assert [f.index for f in sim.machine.system.files["f"].folios() if f.readahead] == []


def test_sequential_advice_elsewhere_is_a_standalone_read_without_a_mark(sim):
    cold(sim, opts="shared sequential")
    got = faults(sim, reads(range(64, 256)))
    assert got == ["64M", "80", "96M", "112", "128M", "144", "160M", "176", "192M", "208",
                   "224M", "240"]
    assert "64+32" not in layout(sim) and len(layout(sim)) == 192


def test_an_executable_mapping_reads_from_the_fault_without_a_mark_even_random(sim):
    cold(sim, size="256K", opts="rx private random")
    assert faults(sim, reads(range(64))) == ["0M", "16", "32M", "48"]
    assert layout(sim) == [f"{i}+1" for i in range(64)]


def test_first_folio_ending_on_the_last_page_keeps_fault_around_from_an_empty_pmd(sim):
    # filemap_map_pmd is skipped, so no PTE table: ->fault and finish_fault map the
    # whole folio (which does not pass EOF) in the one fault
    sim(f"file f size 128K cached folio 128K\nmap m file f size 128K shared at {BASE:#x}")
    assert faults(sim, "read m[0]") == ["0"]
    path = sim.last().path
    assert "filemap_map_pages" in path and "finish_fault" in path
    assert faults(sim, reads(range(1, 32))) == []


def test_willneed_reads_order_0_folios_without_a_mark(sim):
    sim(f"file f size 256K\nmap m file f size 256K shared at {BASE:#x}\nmadvise m[*] willneed")
    assert layout(sim) == [f"{i}+1" for i in range(64)]
    assert not any(f.readahead for f in sim.machine.system.files["f"].folios())
    assert faults(sim, reads(range(64))) == ["0", "16", "32", "48"]


def test_kernel_612_ext4_has_no_large_folios(sim):
    sim("set kernel 6.12")
    cold(sim)
    assert mapping_max_folio_order(sim.machine.system.files["f"]) == 0
    got = faults(sim, reads(range(256)))
    assert len(got) == 17 and got[:4] == ["0M", "16", "24", "32"]
    assert set(layout(sim)) == {f"{i}+1" for i in range(256)}


def test_get_init_ra_size():
    # the kernel's comment for a 128K maximum: 1-2 pages → 16K, 3-4 → 32K, 5-8 → 64K
    assert [get_init_ra_size(n, 32) for n in (1, 2, 4, 8, 9, 32, 33)] == [4, 4, 8, 16, 32, 32, 32]
    assert get_init_ra_size(1, 2048) == 4 and get_init_ra_size(64, 2048) == 256
