"""shmem: shared anonymous memory, memfd and tmpfs files (mm/shmem.c)."""

from faultlang.runtime.invariants import check_invariants


def outcomes(sim, rec):
    return [s.outcome for s in sim.steps(rec)]


def test_shared_anon_read_allocates_a_real_page_and_writes_are_free(sim):
    rec = sim("map s anon size 16K shared\nread s[*]")
    assert outcomes(sim, rec) == ["minor"] * 4
    assert "shmem_fault" in sim.last().path
    assert sim.task().mm.rss_stat[3] == 4                  # MM_SHMEMPAGES
    rec = sim("write s[*]")
    assert outcomes(sim, rec) == ["none"] * 4
    assert check_invariants(sim.machine.system) == []


def test_shmem_beyond_i_size_is_sigbus(sim):
    sim("memfd m size 8K\nmap x file m size 16K shared\nread x[3]")
    assert sim.last().outcome == "SIGBUS"


def test_memfd_pages_are_shared_between_mappings_and_fault_around_maps_them(sim):
    sim("memfd m size 64K\nmap a file m size 64K shared\nwrite a[*]")
    rec = sim("map b file m size 64K shared\nread b[*]")
    assert outcomes(sim, rec).count("minor") == 1
    assert all(s.value for s in sim.steps(rec))           # the values a[*] wrote


def test_private_memfd_write_copies(sim):
    sim("memfd m size 16K\nmap a file m size 16K shared\nwrite a[0] = 3")
    sim("map p file m size 16K private\nwrite p[0] = 4")
    assert "do_cow_fault" in sim.last().path
    rec = sim("read a[0]")
    assert sim.steps(rec)[0].value == 3
    assert check_invariants(sim.machine.system) == []


def test_fork_child_refaults_shared_anon_with_fault_around(sim):
    sim("map s shmem size 64K\nwrite s[*] = 1\nfork child")
    rec = sim("as child: read s[*]")
    assert outcomes(sim, rec).count("minor") == 1
    assert all(s.value == 1 for s in sim.steps(rec))
