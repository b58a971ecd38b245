"""do_anonymous_page, do_wp_page and handle_pte_fault: one test per decision.

    0x7f0000000000                         0x7f0000010000
    [ heap: anon private rw, 16 pages                    ]
"""

from faultlang.runtime.inspect import page_state, peek_value


def test_read_of_untouched_anon_page_maps_the_zero_page(sim):
    sim("map heap anon size 64K\nread heap[3]")
    step = sim.last()
    assert step.outcome == "minor"
    assert step.handler == "do_anonymous_page"
    assert page_state(sim.task().mm, step.address) == "zero"
    assert step.value == 0
    assert sim.task().mm.rss() == 0          # the zero page is not counted in RSS


def test_write_of_untouched_anon_page_allocates_a_page(sim):
    sim("map heap anon size 64K\nwrite heap[3] = 42")
    step = sim.last()
    assert step.outcome == "minor"
    assert "do_anonymous_page" in step.path and "__alloc_pages" in step.path
    assert page_state(sim.task().mm, step.address) == "resident"
    assert peek_value(sim.task().mm, step.address) == 42
    assert sim.task().mm.rss() == 1


def test_write_after_read_copies_the_zero_page(sim):
    sim("map heap anon size 64K\nread heap[0]\nwrite heap[0]")
    step = sim.last()
    assert step.outcome == "minor"
    assert step.path[-3:] == ("wp_page_copy", "vmf_anon_prepare", "__alloc_pages") or \
        "wp_page_copy" in step.path
    assert step.error_code == 0x7                # PROT | WRITE | USER


def test_second_access_to_a_present_page_does_not_fault(sim):
    sim("map heap anon size 64K\nwrite heap[0]\nwrite heap[0]\nread heap[0]")
    assert [s.outcome for s in sim.machine.steps] == ["minor", "none", "none"]
    assert sim.task().min_flt == 1


def test_the_first_anon_page_of_a_vma_prepares_its_anon_vma(sim):
    sim("map heap anon size 64K\nwrite heap[0]\nwrite heap[1]")
    first, second = sim.machine.steps
    assert "vmf_anon_prepare" in first.path
    assert any("__anon_vma_prepare" in f.why for f in first.frames)
    assert not any("__anon_vma_prepare" in f.why for f in second.frames)


def test_zero_page_off_allocates_on_read(sim):
    sim("set zero_page off\nmap heap anon size 64K\nread heap[0]")
    assert page_state(sim.task().mm, sim.last().address) == "resident"


def test_write_to_read_only_vma_is_sigsegv_accerr_and_not_counted(sim):
    sim("map ro anon size 4K r\nwrite ro[0]")
    step = sim.last()
    assert (step.outcome, step.si_code) == ("SIGSEGV", "SEGV_ACCERR")
    task = sim.task()
    assert (task.min_flt, task.maj_flt, task.perf_page_faults) == (0, 0, 1)
    assert sim.machine.system.vmstat.pgfault == 0


def test_access_outside_every_mapping_is_sigsegv_maperr(sim):
    sim("read 0x1000")
    assert (sim.last().outcome, sim.last().si_code) == ("SIGSEGV", "SEGV_MAPERR")
    assert "lock_mm_and_find_vma" in sim.last().path      # the per-VMA lock found nothing


def test_prot_none_read_is_accerr(sim):
    sim("map n anon size 4K ---\nread n[0]")
    assert sim.last().si_code == "SEGV_ACCERR"


def test_exec_of_non_exec_mapping_faults_twice_then_sigsegv(sim):
    # The first #PF maps the zero page NX; the instruction runs again and faults with
    # PROT|INSTR, which access_error refuses.
    sim("map code anon size 4K rw\nexec code[0]")
    step = sim.last()
    assert (step.outcome, step.si_code) == ("SIGSEGV", "SEGV_ACCERR")
    assert sim.task().perf_page_faults == 2 and sim.task().min_flt == 1


def test_exec_of_executable_mapping_succeeds(sim):
    sim("map code anon size 4K rwx\nexec code[0]")
    assert sim.last().outcome == "minor"


def test_kernel_mode_access_uses_the_mmap_lock_and_counts(sim):
    sim("map buf anon size 16K\nkwrite buf[0..4]")
    step = sim.last()
    assert step.outcome == "minor"
    assert "lock_vma_under_rcu" not in step.path and "lock_mm_and_find_vma" in step.path
    assert step.error_code == 0x2                # WRITE, no USER bit
    assert sim.task().min_flt == 4


def test_kernel_mode_access_to_unmapped_memory_is_efault_not_a_signal(sim):
    sim("kread 0x1000")
    assert sim.last().outcome == "EFAULT"


def test_mm_account_fault_counts_perf_minor_for_user_faults(sim):
    sim("map buf anon size 16K\nwrite buf[*]")
    t = sim.task()
    assert (t.min_flt, t.perf_min, t.perf_page_faults) == (4, 4, 4)
    assert sim.machine.system.vmstat.pgfault == 4
