"""Property tests: random map / access / fork / madvise / mprotect / munmap / exit
sequences keep the machine's invariants, and every read returns what the kernel's
semantics say (a private write in one process is never visible in another)."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from faultlang.lang import ast
from faultlang.runtime.invariants import check_invariants
from faultlang.runtime.runner import Runner

PAGES = 6
MAPS = ("a", "b")
PROCS = ("main", "c1", "c2")
WHO = st.sampled_from(("main", "main", "c1", "c1", "c2"))

op = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(MAPS), st.integers(0, PAGES - 1),
              WHO),
    st.tuples(st.just("read"), st.sampled_from(MAPS), st.integers(0, PAGES - 1),
              WHO),
    st.tuples(st.just("fork"), st.sampled_from(PROCS), WHO),
    st.tuples(st.just("exit"), st.sampled_from(PROCS[1:])),
    st.tuples(st.just("madvise"), st.sampled_from(MAPS), st.integers(0, PAGES - 1),
              st.sampled_from(("dontneed", "free", "cold", "populate_write", "populate_read",
                               "dontfork", "wipeonfork", "pageout")), WHO),
    st.tuples(st.just("mprotect"), st.sampled_from(MAPS), st.integers(0, PAGES - 1),
              st.sampled_from(("r--", "rw-", "---")), WHO),
    st.tuples(st.just("munmap"), st.sampled_from(MAPS), st.integers(0, PAGES - 1),
              WHO),
)


class Model:
    """What each process must read: per process, page → value, and which pages exist."""

    def __init__(self):
        self.mem = {"main": {}}
        self.mapped = {"main": {(m, i) for m in MAPS for i in range(PAGES)}}
        self.prot = {"main": {(m, i): "rw-" for m in MAPS for i in range(PAGES)}}
        self.dontfork = {"main": set()}
        self.wipe = {"main": set()}

    def fork(self, parent, child):
        """copy_page_range as the model sees it: dontfork pages stay behind, wipeonfork
        pages start empty in the child."""
        keep = {p for p in self.mapped[parent] if p not in self.dontfork[parent]}
        self.mapped[child] = set(keep)
        self.prot[child] = {p: self.prot[parent][p] for p in keep}
        self.mem[child] = {p: v for p, v in self.mem[parent].items()
                           if p in keep and p not in self.wipe[parent]}
        self.dontfork[child] = set(self.dontfork[parent]) & keep
        self.wipe[child] = set(self.wipe[parent]) & keep

    def exit(self, proc):
        for table in (self.mem, self.mapped, self.prot, self.dontfork, self.wipe):
            table.pop(proc)

    def signal(self, proc, page, kind):
        """The si_code an access must get, or None when it must succeed."""
        if page not in self.mapped[proc]:
            return "SEGV_MAPERR"
        prot = self.prot[proc][page]
        if prot == "---" or (kind == "write" and prot == "r--"):
            return "SEGV_ACCERR"
        return None

    def mprotect(self, proc, page, prot):
        self.prot[proc][page] = prot

    def munmap(self, proc, page):
        self.mapped[proc].discard(page)
        self.mem[proc].pop(page, None)


def fork_or_exit(runner, model, item) -> bool:
    """Run a fork or exit item on both sides; False for any other kind."""
    if item[0] == "fork":
        parent, child = item[1], item[2]
        if parent in model.mem and child not in runner.machine.processes:
            runner.execute(ast.Fork(child=child, parent=parent))
            model.fork(parent, child)
        return True
    if item[0] == "exit":
        if item[1] in model.mem:
            runner.execute(ast.Exit(name=item[1]))
            model.exit(item[1])
        return True
    return False


def access(runner, model, item, step_value):
    """Run a read or write item; the step, after checking any signal it must get
    (None when it got one)."""
    kind, proc, page = item[0], item[-1], (item[1], item[2])
    rec = runner.execute(ast.As(process=proc, statement=ast.Access(
        op=kind, target=ast.PageIndex(mapping=item[1], index=item[2]),
        value=step_value if kind == "write" else None)))
    step = runner.machine.steps[rec.first_step - 1]
    si_code = model.signal(proc, page, kind)
    if si_code is not None:
        assert step.si_code == si_code, step
        return None
    return step


def mprotect_or_munmap(runner, model, item) -> None:
    proc, page = item[-1], (item[1], item[2])
    target = ast.PageIndex(mapping=item[1], index=item[2])
    if item[0] == "mprotect":
        if page in model.mapped[proc]:
            runner.execute(ast.As(process=proc, statement=ast.Mprotect(target=target,
                                                                        prot=item[3])))
            model.mprotect(proc, page, item[3])
    else:
        runner.execute(ast.As(process=proc, statement=ast.Munmap(target=target)))
        model.munmap(proc, page)


def run(ops, swap=None):
    runner = Runner()
    if swap is not None:
        runner.execute(ast.Set(key="swap", value=64 << 20))
        runner.execute(ast.Set(key="swap_device", value=swap))
    for name in MAPS:
        runner.execute(ast.Map(name=name, kind="anon", size=PAGES * 4096))
    model = Model()
    step_value = 1000
    for item in ops:
        kind = item[0]
        if fork_or_exit(runner, model, item):
            continue
        proc = item[-1]
        if proc not in model.mem:
            continue
        page = (item[1], item[2])
        target = ast.PageIndex(mapping=item[1], index=item[2])
        if kind in ("write", "read"):
            step_value += 1
            step = access(runner, model, item, step_value)
            if step is None:
                pass
            elif kind == "write":
                assert step.outcome in (("none", "minor", "major") if swap else
                                        ("none", "minor")), step
                model.mem[proc][page] = step_value
            else:
                assert step.value == model.mem[proc].get(page, 0), (step, model.mem[proc])
        elif kind == "madvise":
            if page not in model.mapped[proc]:
                continue
            advice = item[3]
            rec = runner.execute(ast.As(process=proc, statement=ast.Madvise(target=target, advice=advice)))
            if any("failed" in n for n in rec.notes):
                continue
            if advice == "dontneed":
                model.mem[proc].pop(page, None)
            elif advice == "dontfork":
                model.dontfork[proc].add(page)
            elif advice == "wipeonfork":
                model.wipe[proc].add(page)
        else:
            mprotect_or_munmap(runner, model, item)
        problems = check_invariants(runner.machine.system)
        assert not problems, problems


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=40))
@example([("write", "a", 0, "main"), ("fork", "main", "c1"), ("write", "a", 0, "c1"),
          ("read", "a", 0, "main"), ("write", "a", 1, "main"), ("read", "a", 1, "c1")])
def test_random_sequences_keep_invariants_and_values(ops):
    run(ops)


# With a swap device, pageout really swaps: values must survive swap-out, the swap cache,
# swap-in (exclusive or shared after fork) and slot freeing. MADV_FREE is left out: a
# lazily freed clean page that pageout discards reads back as 0, which the model ignores.
swap_op = st.one_of(
    op.filter(lambda item: not (item[0] == "madvise" and item[3] == "free")),
    st.tuples(st.just("madvise"), st.sampled_from(MAPS), st.integers(0, PAGES - 1),
              st.just("pageout"), WHO),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(swap_op, max_size=40), st.sampled_from(("disk", "ssd", "zram")))
@example([("write", "a", 0, "main"), ("madvise", "a", 0, "pageout", "main"),
          ("fork", "main", "c1"), ("write", "a", 0, "c1"), ("read", "a", 0, "main"),
          ("madvise", "a", 0, "pageout", "c1"), ("read", "a", 0, "c1")], "disk")
def test_random_sequences_with_swap_keep_invariants_and_values(ops, device):
    run(ops, swap=device)


# --- file-backed and shmem mappings ---------------------------------------------------
# "a" is a MAP_SHARED mapping of file F: every process sees the file's one copy of each
# page, which outlives unmapping and exit. "b" is a MAP_PRIVATE mapping of another file
# G that nothing writes through a shared mapping: each process has its own copy once it
# wrote a page (copied at fork), and dropping the copy (MADV_DONTNEED) reads G again: 0.
FILE_SYSTEMS = ("ext4 cached", "ext4", "tmpfs", "ext4 dax")
file_op = op.filter(lambda item: not (item[0] == "madvise" and item[3] in ("free", "wipeonfork")))


def run_files(ops, fs, kernel):
    from faultlang.lang import parse_text
    runner = Runner()
    size = PAGES * 4096
    on = "" if fs == "ext4" else " cached" if fs == "ext4 cached" else f" on {fs}"
    for stmt in parse_text(f"set kernel {kernel}\nfile F size {size}{on}\nfile G size {size}{on}\n"
                           f"map a file F size {size} shared\nmap b file G size {size} private\n"
                           ).statements:
        runner.execute(stmt)
    model = Model()
    shared = {}
    step_value = 1000
    for item in ops:
        kind = item[0]
        if fork_or_exit(runner, model, item):      # file_op has no wipeonfork: wipe stays empty
            continue
        proc = item[-1]
        if proc not in model.mem:
            continue
        page = (item[1], item[2])
        target = ast.PageIndex(mapping=item[1], index=item[2])
        if kind in ("write", "read"):
            step_value += 1
            step = access(runner, model, item, step_value)
            if step is None:
                pass
            elif kind == "write":
                assert step.outcome in ("none", "minor", "major"), step
                if item[1] == "a":
                    shared[item[2]] = step_value
                else:
                    model.mem[proc][page] = step_value
            elif item[1] == "a":
                assert step.value == shared.get(item[2], 0), (step, shared)
            else:
                assert step.value == model.mem[proc].get(page, 0), (step, model.mem[proc])
        elif kind == "madvise":
            if page not in model.mapped[proc]:
                continue
            advice = item[3]
            rec = runner.execute(ast.As(process=proc, statement=ast.Madvise(target=target, advice=advice)))
            if any("failed" in n for n in rec.notes):
                continue
            if advice == "dontneed" and item[1] == "b":
                model.mem[proc].pop(page, None)
            elif advice == "dontfork":
                model.dontfork[proc].add(page)
        else:
            mprotect_or_munmap(runner, model, item)
        problems = check_invariants(runner.machine.system)
        assert not problems, problems


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(file_op, max_size=40), st.sampled_from(FILE_SYSTEMS),
       st.sampled_from(("6.18", "6.12")))
@example([("read", "a", 0, "main"), ("write", "a", 0, "main"), ("fork", "main", "c1"),
          ("write", "a", 0, "c1"), ("read", "a", 0, "main"), ("write", "b", 1, "main"),
          ("fork", "main", "c2"), ("write", "b", 1, "c2"), ("read", "b", 1, "main"),
          ("madvise", "b", 1, "dontneed", "main"), ("read", "b", 1, "main")], "ext4 dax", "6.18")
def test_random_file_and_shmem_sequences_keep_invariants_and_values(ops, fs, kernel):
    run_files(ops, fs, kernel)
