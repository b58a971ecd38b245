"""userfaultfd (fs/userfaultfd.c, mm/userfaultfd.c): one test per decision, accounting first."""

import pytest

from faultlang.errors import ScenarioError
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


# --- ioctl modes: DONTWAKE and MODE_WP ------------------------------------------------


def test_copy_dontwake_leaves_the_waiter_asleep_until_uffdio_wake(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing manually")
    sim("read u[0]")
    rec = sim("uffd copy u[0] = 4 dontwake")
    assert sim.steps(rec) == [] and sim.task().uffd_wait is not None
    rec = sim("uffd wake u[0]")
    assert outcomes(sim, rec) == ["minor"] and sim.steps(rec)[0].value == 4


def test_copy_mode_wp_installs_the_page_write_protected(sim):
    sim("map u anon size 16K\nuffd register u[*] missing,wp\nuffd copy u[0] = 4 wp")
    assert sim("expect state u[0] == uffd_wp").expect.ok
    sim("uffd handle wp manually")
    rec = sim("write u[0] = 5")
    assert outcomes(sim, rec) == ["blocked"] and "WP" in rec.notes[0]


def test_copy_mode_wp_needs_a_wp_registration(sim):
    sim("map u anon size 16K\nuffd register u[*] missing")
    assert sim("uffd copy u[0] wp").notes[0].startswith("failed: EINVAL")


def test_writeprotect_on_with_dontwake_is_einval(sim):
    sim("map u anon size 16K\nuffd register u[*] wp")
    assert sim("uffd writeprotect u[*] on dontwake").notes[0].startswith("failed: EINVAL")


def test_a_write_on_a_wp_marker_keeps_uffd_wp_and_reports_wp(sim):
    sim("map u anon size 16K\nuffd register u[*] wp features wp_unpopulated\n"
        "uffd writeprotect u[*] on\nuffd handle wp manually")
    rec = sim("write u[0] = 3")
    assert outcomes(sim, rec) == ["blocked"]
    assert "flags=WRITE|WP" in rec.notes[0]
    assert sim.task().min_flt == 1           # the first fault mapped the page (counted)
    rec = sim("uffd writeprotect u[0] off")
    assert outcomes(sim, rec) == ["minor"] and sim("read u[0]") and sim.last().value == 3


def test_zeropage_refuses_a_wp_marker_that_copy_overwrites(sim):
    sim("map u anon size 16K\nuffd register u[*] missing,wp features wp_unpopulated\n"
        "uffd writeprotect u[*] on")
    assert sim("uffd zeropage u[0]").notes[0].startswith("failed: EEXIST")
    assert sim("uffd copy u[0] = 1").notes[0] == "1 pages copied (value 1)"


# --- UFFDIO_POISON ----------------------------------------------------------------------


def test_poison_is_sigbus_adrerr_counted_in_pgfault_only(sim):
    # our 6.18 machines lack CONFIG_MEMORY_FAILURE: do_sigbus skips the HWPOISON branch
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd poison u[1]")
    rec = sim("read u[1]")
    step = sim.steps(rec)[0]
    assert (step.outcome, step.si_code) == ("SIGBUS", "BUS_ADRERR")
    assert sim.task().min_flt == 0 and sim.machine.system.vmstat.pgfault == 1
    assert sim("uffd poison u[1]").notes[0].startswith("failed: EEXIST")


def test_poison_is_mceerr_with_memory_failure_on(sim):
    sim("set memory_failure on\nmap u anon size 16K\nuffd register u[*] missing")
    assert "BUS_MCEERR_AR" in sim("uffd poison u[1]").notes[0]
    step = sim.steps(sim("read u[1]"))[0]
    assert (step.outcome, step.si_code) == ("SIGBUS", "BUS_MCEERR_AR")


def test_poison_wakes_a_waiter_which_then_gets_sigbus(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing manually")
    sim("read u[0]")
    rec = sim("uffd poison u[0]")
    assert outcomes(sim, rec) == ["SIGBUS"]


# --- UFFDIO_MOVE -----------------------------------------------------------------------------


def test_move_remaps_the_page_without_a_copy(sim):
    sim("map s anon size 16K\nmap d anon size 16K\nwrite s[*] = 7\nuffd register d[*] missing")
    pfn = sim.machine.system.phys  # noqa: F841 - the page must be the same frame
    from faultlang.runtime.inspect import leaf_entry
    before, _ = leaf_entry(sim.task().mm, sim.machine.span_of(sim_target("s", 1))[0])
    assert sim("uffd move s[0..2] to d[0..2]").notes[0] == "2 pages moved"
    after, _ = leaf_entry(sim.task().mm, sim.machine.span_of(sim_target("d", 1))[0])
    assert before >> 12 == after >> 12
    assert sim("expect state s[1] == none").expect.ok
    rec = sim("read d[1]")
    assert outcomes(sim, rec) == ["none"] and sim.last().value == 7


def sim_target(name, index):
    from faultlang.lang import ast
    return ast.PageIndex(name, index)


def test_move_errors_are_the_kernels(sim):
    sim("map s anon size 16K\nmap d anon size 16K\nwrite s[0..2] = 7\nwrite d[3] = 1\n"
        "uffd register d[*] missing\nmap sh shmem size 16K")
    assert sim("uffd move s[2] to d[0]").notes[0].startswith("failed: ENOENT")
    assert sim("uffd move s[2] to d[0] allow_src_holes").notes[0] == "1 pages moved"
    assert sim("uffd move s[0] to d[3]").notes[0].startswith("failed: EEXIST")
    assert sim("uffd move d[3] to s[3]").notes[0].startswith("failed: EINVAL")   # s not registered
    assert sim("uffd move s[0] to sh[0]").notes[0].startswith("failed: EINVAL")
    assert sim("uffd move s[0..2] to d[2..4]").notes[0].startswith("failed: EAGAIN")
    assert sim("expect value d[2] == 7").expect.ok


def test_move_of_a_page_shared_with_a_fork_child_is_ebusy(sim):
    sim("map s anon size 16K\nmap d anon size 16K\nwrite s[0] = 7\nfork child\n"
        "uffd register d[*] missing")
    assert sim("uffd move s[0] to d[0]").notes[0].startswith("failed: EBUSY")


def test_move_wakes_the_waiter_of_the_destination(sim):
    sim("map s anon size 16K\nmap d anon size 16K\nwrite s[0] = 7\n"
        "uffd register d[*] missing\nuffd handle missing manually\nread d[2]")
    rec = sim("uffd move s[0] to d[2]")
    assert outcomes(sim, rec) == ["minor"] and sim.steps(rec)[0].value == 7


# --- non-cooperative events ---------------------------------------------------------------


def test_fork_without_event_fork_drops_the_childs_registration(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing by copy 3\n"
        "fork child")
    assert all(v.uffd is None for v in sim.task("child").mm.vmas)
    rec = sim("as child: read u[0]")
    assert "handle_userfault" not in sim.last().path and sim.steps(rec)[0].value == 0


def test_fork_with_event_fork_registers_the_child_on_a_new_context(sim):
    sim("map u anon size 16K\nuffd register u[*] missing features event_fork\n"
        "uffd handle missing by copy 3\nfork child")
    parent_ctx = sim.task().mm.vmas[0].uffd.ctx
    child_ctx = sim.task("child").mm.vmas[0].uffd.ctx
    assert child_ctx is not parent_ctx and child_ctx.mm is sim.task("child").mm
    assert [str(e) for e in parent_ctx.events] == [
        "UFFD_EVENT_FORK ufd=the new userfaultfd of pid 2"]
    rec = sim("as child: read u[0]")
    assert outcomes(sim, rec) == ["minor"] and sim.steps(rec)[0].value == 3
    assert "UFFD_EVENT_FORK" in sim("show uffd").snapshot.text


def test_dontneed_and_munmap_send_remove_and_unmap_events_when_asked(sim):
    sim("map u anon size 16K\nwrite u[*]\n"
        "uffd register u[*] missing features event_remove,event_unmap")
    sim("madvise u[0..2] dontneed\nmunmap u[2..4]")
    ctx = sim.task().mm.vmas[0].uffd.ctx
    assert [str(e).split()[0] for e in ctx.events] == ["UFFD_EVENT_REMOVE", "UFFD_EVENT_UNMAP"]
    sim("map v anon size 16K\nwrite v[*]\nuffd register v[*] missing features sigbus")
    sim("madvise v[0] dontneed")
    assert sim.task().mm.vma_lookup(sim.machine.span_of(sim_target("v", 1))[0]).uffd.ctx.events == []


# --- a manual handler reached from GUP ------------------------------------------------------


def test_mlock_on_a_manual_range_sleeps_in_gup_and_goes_on_when_resolved(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing manually")
    rec = sim("mlock u[*]")
    assert [s.outcome for s in sim.steps(rec)] == ["blocked"]
    assert "mlock sleeps in handle_userfault (GUP)" in rec.notes[0]
    rec = sim("uffd copy u[0..4] = 2")
    assert rec.notes[-1].startswith("mlock completed: 4 pages populated")
    assert sim.task().min_flt == 0           # follow_page finds what UFFDIO_COPY mapped
    assert check_invariants(sim.machine.system) == []


def test_madvise_populate_goes_on_page_by_page_as_faults_are_resolved(sim):
    sim("map u anon size 16K\nuffd register u[*] missing\nuffd handle missing manually")
    sim("madvise u[*] populate_read")
    rec = sim("uffd zeropage u[0]")
    assert "sleeps again at u[1]" in rec.notes[-1]
    with pytest.raises(ScenarioError):
        sim("read u[0]")                     # the thread is still in the system call
    rec = sim("uffd zeropage u[1..4]")
    assert "madvise populate_read completed: 4 pages populated" in rec.notes[-1]


# --- hugetlb ------------------------------------------------------------------------------------


def test_hugetlb_copy_fills_a_whole_huge_page(sim):
    sim("set hugepages 4\nmap h hugetlb size 4M\nuffd register h[*] missing\n"
        "uffd handle missing manually\nread h[3]")
    assert sim("uffd copy h[0..1] = 1").notes[0].startswith("failed: EINVAL")
    assert sim("uffd zeropage h[0..512]").notes[0].startswith("failed: EINVAL")
    rec = sim("uffd copy h[0..512] = 6")
    assert outcomes(sim, rec) == ["minor"] and sim.steps(rec)[0].value == 6
    assert sim("expect state h[100] == huge").expect.ok
    assert sim("uffd copy h[0..512] = 6").notes[0].startswith("failed: EEXIST")


def test_hugetlb_minor_fault_resolved_by_continue(sim):
    sim("set hugepages 4\nfile hf on hugetlbfs size 4M\nmap a file hf size 4M shared\n"
        "write a[0] = 8\nmap b file hf size 4M shared\nuffd register b[*] minor\n"
        "uffd handle minor by continue")
    rec = sim("read b[5]")
    assert outcomes(sim, rec) == ["minor"] and "handle_userfault" in sim.last().path
    assert sim("read b[0]") and sim.last().value == 8


def test_hugetlb_wp_on_a_shared_mapping_reports_wp(sim):
    sim("set hugepages 4\nfile hf on hugetlbfs size 2M\nmap a file hf size 2M shared\n"
        "write a[0] = 1\nuffd register a[*] wp\nuffd writeprotect a[*] on\n"
        "uffd handle wp manually")
    rec = sim("write a[1] = 2")
    assert outcomes(sim, rec) == ["blocked"] and "WP" in rec.notes[0]
    rec = sim("uffd writeprotect a[*] off")
    assert outcomes(sim, rec) == ["minor"]


# --- uffd-wp PTE markers left by zapping (zap_install_uffd_wp_if_needed) --------------------


def _wp_shmem(sim):
    sim("map s shmem size 16K\nwrite s[*] = 4\nuffd register s[*] wp\n"
        "uffd writeprotect s[*] on\nmadvise s[*] dontneed")
    from faultlang.kernel.include.linux import pgtable as pt
    from faultlang.kernel.mm.memory import lookup_pte
    base = sim.machine.mappings["s"].start
    table, i = lookup_pte(sim.task().mm, base)
    return pt, table, i


def test_dontneed_of_wp_shmem_leaves_uffd_wp_markers(sim):
    pt, table, i = _wp_shmem(sim)
    assert pt.is_pte_marker(table[i]) and pt.pte_marker_kind(table[i]) & pt.PTE_MARKER_UFFD_WP


def test_read_through_a_wp_marker_maps_the_page_still_protected(sim):
    pt, table, i = _wp_shmem(sim)
    step = sim.steps(sim("read s[0]"))[0]
    assert (step.outcome, step.value) == ("minor", 4)
    assert table[i] & pt._PAGE_UFFD_WP and not table[i] & pt._PAGE_RW


def test_write_through_a_wp_marker_reports_wp(sim):
    _wp_shmem(sim)
    rec = sim("write s[1] = 5")
    assert sim.steps(rec)[-1].outcome == "blocked"
    msgs = [str(m) for ctx in sim.machine.uffd_processes.values()
            for c in ctx.ctxs for m in c.pending]
    assert any("WP" in m for m in msgs)


def test_dontneed_of_wp_anon_drops_the_protection(sim):
    sim("map a anon size 16K\nwrite a[*] = 4\nuffd register a[*] wp\n"
        "uffd writeprotect a[*] on\nmadvise a[*] dontneed")
    step = sim.steps(sim("write a[0] = 5"))[0]
    assert step.outcome == "minor"                   # a fresh page, no WP message


def test_munmap_drops_the_markers(sim):
    pt, table, i = _wp_shmem(sim)
    sim("munmap s[*]")
    assert not any(table)
