"""fork: copy_page_range write-protects private pages in both; COW breaks on write."""

from faultlang.runtime.inspect import page_state, peek_value


def test_child_reads_shared_pages_without_faults(sim):
    rec = sim("map a anon size 16K\nwrite a[*] = 1\nfork child\nas child: read a[*]")
    assert all(s.outcome == "none" for s in sim.steps(rec))
    assert page_state(sim.task("child").mm, sim.machine.mappings["a"].start) == "cow"


def test_child_write_copies_and_parent_keeps_its_value(sim):
    sim("map a anon size 16K\nwrite a[*] = 1\nfork child\nas child: write a[0] = 2")
    start = sim.machine.mappings["a"].start
    assert "wp_page_copy" in sim.last().path
    assert peek_value(sim.task().mm, start) == 1
    assert peek_value(sim.task("child").mm, start) == 2


def test_parent_write_after_child_exit_reuses_the_page(sim):
    sim("map a anon size 16K\nwrite a[0] = 1\nfork child\nexit child\nwrite a[0] = 3")
    step = sim.last()
    assert step.outcome == "minor" and "wp_page_reuse" in step.path


def test_parent_write_while_child_lives_copies(sim):
    sim("map a anon size 16K\nwrite a[0] = 1\nfork child\nwrite a[0] = 3")
    assert "wp_page_copy" in sim.last().path


def test_child_counters_start_at_zero(sim):
    sim("map a anon size 16K\nwrite a[*]\nfork child")
    c = sim.task("child")
    assert (c.min_flt, c.maj_flt) == (0, 0)
    assert c.mm.rss() == 4


def test_dontfork_vma_is_missing_in_the_child(sim):
    sim("map a anon size 16K\nmadvise a[*] dontfork\nfork child\nas child: read a[0]")
    assert sim.last().si_code == "SEGV_MAPERR"


def test_wipeonfork_vma_starts_empty_in_the_child(sim):
    sim("map a anon size 16K\nwrite a[*] = 7\nmadvise a[*] wipeonfork\nfork child\nas child: read a[0]")
    assert sim.last().outcome == "minor" and sim.last().value == 0


def test_never_faulted_vma_is_not_copied(sim):
    sim("map a anon size 16K\nfork child")
    assert sim.task("child").mm.pgd == [None] * 512


def test_exit_frees_everything(sim):
    sim("map a anon size 16K\nwrite a[*]\nfork child\nas child: write a[*]\nexit child")
    phys = sim.machine.system.phys
    assert phys.nr_free() == phys.nr_frames - 4
