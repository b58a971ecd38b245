"""userfaultfd (fs/userfaultfd.c, mm/userfaultfd.c): one test per decision, accounting first."""

from faultlang.runtime.invariants import check_invariants


def outcomes(sim, rec):
    return [s.outcome for s in sim.steps(rec)]


def test_read_resolved_by_copy_is_one_minor_fault_and_sees_the_copy(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing by copy 7")
    rec = sim("read u[*]")
    assert outcomes(sim, rec) == ["minor"] * 4
    assert [s.value for s in sim.steps(rec)] == [7] * 4
    assert "handle_userfault" in sim.last().path
    assert sim.task().maj_flt == 0
    assert check_invariants(sim.machine.system) == []


def test_write_resolved_by_copy_is_minor_and_stores_its_own_value(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing by copy 7")
    rec = sim("write u[*] = 9")
    assert outcomes(sim, rec) == ["minor"] * 4
    assert sim("read u[2]") and sim.last().value == 9


def test_zeropage_maps_the_zero_page_minor(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing by zeropage")
    rec = sim("read u[*]")
    assert outcomes(sim, rec) == ["minor"] * 4
    assert sim.task().mm.rss_stat[1] == 0


def test_kernel_mode_fault_starts_under_mmap_lock_so_the_retry_is_major(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing by copy")
    rec = sim("kwrite u[*] = 3")
    assert outcomes(sim, rec) == ["major"] * 4
    assert sim.task().min_flt == 0


def test_sigbus_feature_gives_sigbus_not_counted(sim):
    sim("map u anon size 16K\nuffd register u[*] missing features sigbus")
    rec = sim("read u[0]")
    assert outcomes(sim, rec) == ["SIGBUS"]
    assert sim.task().min_flt == sim.task().maj_flt == 0
    assert sim.machine.system.vmstat.pgfault == 1


def test_register_errors(sim):
    sim("map p anon size 16K\nfile data size 16K\nmap f file data size 16K shared")
    assert sim("uffd register p[*] minor").notes[0].startswith("failed: EINVAL")
    assert sim("uffd register f[*] missing").notes[0].startswith("failed: EINVAL")
    assert "WRITEPROTECT" in sim("uffd register p[*] wp").notes[0]
    assert sim("uffd writeprotect f[*] on").notes[0].startswith("failed: ENOENT")


def test_register_splits_the_vma_and_unregister_merges_it_back(sim):
    sim("map u anon size 16K\nuffd register u[1..3] missing")
    assert len(sim.task().mm.vmas) == 3
    sim("uffd unregister u[1..3]")
    assert len(sim.task().mm.vmas) == 1
    rec = sim("read u[1]")
    assert outcomes(sim, rec) == ["minor"] and "handle_userfault" not in sim.last().path


def test_manual_fault_blocks_then_copy_completes_it_counted_minor(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing manually")
    rec = sim("read u[0..2]")
    assert outcomes(sim, rec) == ["blocked"]
    assert "UFFD_EVENT_PAGEFAULT" in rec.notes[0]
    assert sim.task().min_flt == 0
    rec = sim("uffd copy u[0] = 5")
    assert outcomes(sim, rec) == ["minor", "blocked"]      # u[0] done, u[1] blocks next
    assert sim.steps(rec)[0].value == 5
    assert sim.task().min_flt == 1


def test_second_copy_to_a_filled_page_is_eexist(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd copy u[0] = 1")
    assert sim("uffd copy u[0] = 2").notes[0].startswith("failed: EEXIST")


def test_wake_without_resolving_waits_again_and_then_counts_major(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing manually")
    sim("read u[0]")
    rec = sim("uffd wake u[0]")
    assert outcomes(sim, rec) == ["blocked"]
    rec = sim("uffd zeropage u[0]")
    assert outcomes(sim, rec) == ["major"]                  # the retry carried TRIED


def test_writeprotect_then_write_is_unprotected_minor(sim):
    sim("map w anon size 16K\nwrite w[*] = 1\nuffd register w[*] wp\nuffd writeprotect w[*] on")
    rec = sim("uffd handle wp by unprotect\nwrite w[*] = 2")
    assert outcomes(sim, rec) == ["minor"] * 4
    assert "handle_userfault" in sim.last().path


def test_shmem_minor_by_continue_maps_the_cached_page(sim):
    sim("memfd m size 16K\nmap a file m size 16K shared\nwrite a[*] = 3")
    sim("map b file m size 16K shared\nuffd register b[*] minor\nuffd handle minor by continue")
    rec = sim("read b[*]")
    assert outcomes(sim, rec) == ["minor"] * 4
    assert [s.value for s in sim.steps(rec)] == [3] * 4
