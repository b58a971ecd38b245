"""Property tests for huge pages: random access / fork / exit / madvise / mprotect /
munmap / truncate sequences on a THP mapping (PMD-mapped, and PTE-mapped once a
partial munmap, mprotect or MADV_DONTNEED splits it), private and shared MAP_HUGETLB
mappings and a shared and a private mapping of a hugetlbfs file. Every read must
return what the kernel's semantics say (no COW leak in either direction after fork,
as the kernel's selftests/mm/cow.c checks: a private write is never seen by another
process, a shared one always is, and a private mapping of a file sees the file's
cached pages until it writes, in 2 MiB units), and the machine's invariants hold
after every step: mapcounts and refcounts, RSS, and the hugetlb pool's counters.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from faultlang.lang import ast
from faultlang.runtime.invariants import check_invariants
from faultlang.runtime.runner import Runner

M = 1 << 20
HUGE = 512                               # 4 KiB pages in a 2 MiB page
PAGES = 2 * HUGE                         # every mapping is 4 MiB: two huge pages
IDX = (0, 1, 511, 512, 700, 1023)        # the pages the model follows
# mapping → what it is: THP anon, MAP_HUGETLB private/shared, hugetlbfs file shared/private
KIND = {"t": "thp", "hp": "private", "hs": "shared", "hf": "file", "hpf": "file_private"}
PRIVATE = ("thp", "private", "file_private")
FILE_BACKED = ("file", "file_private")
PROCS = ("main", "c1", "c2")
WHO = st.integers(0, 5)                  # the live processes, counted round
MAPS = st.sampled_from(tuple(KIND))
PAGE = st.sampled_from(IDX)

write = st.tuples(st.just("write"), MAPS, PAGE, WHO)
read = st.tuples(st.just("read"), MAPS, PAGE, WHO)
op = st.one_of(
    write, read, write, read,
    st.tuples(st.just("fork"), WHO),
    st.tuples(st.just("exit"), WHO),
    st.tuples(st.just("dontneed"), MAPS, PAGE, WHO),
    st.tuples(st.just("mprotect"), MAPS, PAGE, st.sampled_from(("r--", "rw-", "---")), WHO),
    st.tuples(st.just("munmap"), MAPS, PAGE, WHO),
    st.tuples(st.just("truncate"), st.sampled_from((HUGE, PAGES))),
)


class Model:
    """Per process: the pages it maps, their protection and its private values; one
    store for the shared MAP_HUGETLB mapping and one for the hugetlbfs file."""

    def __init__(self):
        every = {(m, i) for m in KIND for i in IDX}
        self.mapped = {"main": set(every)}
        self.prot = {"main": {p: "rw-" for p in every}}
        self.private = {"main": {}}
        self.shared: dict[int, int] = {}
        self.file: dict[int, int] = {}
        self.cached: set[int] = set()            # huge pages in the file's page cache
        self.file_pages = PAGES

    def expected(self, proc: str, page: tuple[str, int]) -> int:
        kind = KIND[page[0]]
        if kind == "shared":
            return self.shared.get(page[1], 0)
        if kind == "file":
            return self.file.get(page[1], 0)
        if kind == "file_private" and page not in self.private[proc]:
            return self.file.get(page[1], 0)
        return self.private[proc].get(page, 0)

    def affected(self, page: tuple[str, int]) -> list[tuple[str, int]]:
        """The followed pages a syscall on `page` reaches: the page itself for THP,
        its whole huge page for hugetlb (the range is widened to 2 MiB)."""
        name, i = page
        if KIND[name] == "thp":
            return [page]
        return [(name, j) for j in IDX if j // HUGE == i // HUGE]


def syscall_target(name: str, i: int) -> ast.Target:
    if KIND[name] == "thp":
        return ast.PageIndex(mapping=name, index=i)
    first = i // HUGE * HUGE
    return ast.PageRange(mapping=name, start=first, stop=first + HUGE)


def setup() -> Runner:
    runner = Runner()
    runner.execute(ast.Set(key="thp", value="always"))
    runner.execute(ast.Set(key="hugepages", value=20))
    runner.execute(ast.FileDecl(name="f", size=4 * M, fs="hugetlbfs"))
    for name, kind in KIND.items():
        if kind in FILE_BACKED:
            stmt = ast.Map(name=name, kind="file", file="f", size=4 * M,
                           shared=kind == "file")
        else:
            stmt = ast.Map(name=name, kind="anon" if kind == "thp" else "hugetlb",
                           size=4 * M, shared=kind == "shared")
        rec = runner.execute(stmt)
        assert not any("failed" in n for n in rec.notes), rec.notes
    return runner


def run(ops):
    runner = setup()
    model = Model()
    value = 1000
    for item in ops:
        kind = item[0]
        alive = [p for p in PROCS if p in model.mapped]
        if kind != "truncate" and isinstance(item[-1], int):
            item = item[:-1] + (alive[item[-1] % len(alive)],)
        if kind == "fork":
            parent = item[1]
            unborn = [p for p in PROCS if p not in runner.machine.processes]
            if not unborn:
                continue
            child = unborn[0]
            runner.execute(ast.Fork(child=child, parent=parent))
            model.mapped[child] = set(model.mapped[parent])
            model.prot[child] = dict(model.prot[parent])
            model.private[child] = dict(model.private[parent])
        elif kind == "exit":
            if item[1] == "main":
                continue
            runner.execute(ast.Exit(name=item[1]))
            for table in (model.mapped, model.prot, model.private):
                table.pop(item[1])
        elif kind == "truncate":
            size = item[1]
            runner.execute(ast.Truncate(file="f", size=size * 4096))
            if size < model.file_pages:
                model.file = {i: v for i, v in model.file.items() if i < size}
                model.cached = {h for h in model.cached if h < size // HUGE}
                for values in model.private.values():
                    for page in [p for p in values if KIND[p[0]] == "file_private"
                                 and p[1] >= size]:
                        del values[page]
            model.file_pages = size
        else:
            proc = item[-1]
            page = (item[1], item[2])
            if kind in ("write", "read"):
                value += 1
                access(runner, model, kind, page, proc, value)
            else:
                syscall(runner, model, kind, page, item, proc)
        problems = check_invariants(runner.machine.system)
        assert not problems, (item, problems)


def access(runner: Runner, model: Model, op: str, page: tuple[str, int], proc: str,
           value: int) -> None:
    rec = runner.execute(ast.As(process=proc, statement=ast.Access(
        op=op, target=ast.PageIndex(mapping=page[0], index=page[1]),
        value=value if op == "write" else None)))
    step = runner.machine.steps[rec.first_step - 1]
    prot = model.prot[proc].get(page)
    if page not in model.mapped[proc]:
        assert step.si_code == "SEGV_MAPERR", step
    elif prot == "---" or (op == "write" and prot == "r--"):
        assert step.si_code == "SEGV_ACCERR", step
    elif KIND[page[0]] in FILE_BACKED and page[1] >= model.file_pages:
        assert step.outcome == "SIGBUS", step           # beyond EOF of the hugetlbfs file
    else:
        assert step.outcome in ("none", "minor"), step   # hugetlb and THP: never major
        kind = KIND[page[0]]
        if kind == "file":
            model.cached.add(page[1] // HUGE)
        elif kind == "file_private" and page not in model.private[proc] and (
                op == "write" or page[1] // HUGE not in model.cached):
            # The mapping gets a 2 MiB page of its own: a COW copy of the file's page
            # (hugetlb_wp), or for a hole, even on a read, a new anonymous page that
            # the page cache never sees (hugetlb_no_page). Its other pages stop
            # following the file too.
            for p in model.affected(page):
                model.private[proc][p] = model.file.get(p[1], 0)
        if op == "read":
            assert step.value == model.expected(proc, page), (step, page, model.private[proc])
        elif kind == "shared":
            model.shared[page[1]] = value
        elif kind == "file":
            model.file[page[1]] = value
        else:
            model.private[proc][page] = value


def syscall(runner: Runner, model: Model, op: str, page: tuple[str, int], item: tuple,
            proc: str) -> None:
    if page not in model.mapped[proc]:
        return
    reached = model.affected(page)
    if any(p not in model.mapped[proc] for p in reached):
        return                           # the 2 MiB range is partly unmapped: ENOMEM
    target = syscall_target(*page)
    if op == "dontneed":
        stmt = ast.Madvise(target=target, advice="dontneed")
    elif op == "mprotect":
        stmt = ast.Mprotect(target=target, prot=item[3])
    else:
        stmt = ast.Munmap(target=target)
    rec = runner.execute(ast.As(process=proc, statement=stmt))
    assert not any("failed" in n for n in rec.notes), (item, rec.notes)
    for p in reached:
        if op == "mprotect":
            model.prot[proc][p] = item[3]
            continue
        if KIND[p[0]] in PRIVATE:
            model.private[proc].pop(p, None)     # the page (or private copy) is gone
        if op == "munmap":
            model.mapped[proc].discard(p)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=20, max_size=50))
@example([("write", "t", 0, "main"), ("fork", "main"), ("write", "t", 1, "c1"),
          ("read", "t", 1, "main"), ("read", "t", 0, "c1"), ("write", "t", 0, "main"),
          ("read", "t", 0, "c1")])
@example([("write", "t", 0, "main"), ("munmap", "t", 1, "main"), ("fork", "main"),
          ("write", "t", 0, "c1"), ("read", "t", 0, "main"), ("mprotect", "t", 511, "r--",
                                                               "c1"),
          ("write", "t", 700, "main"), ("fork", "c1"), ("read", "t", 700, "c2")])
@example([("write", "hp", 0, "main"), ("fork", "main"), ("write", "hp", 1, "c1"),
          ("read", "hp", 1, "main"), ("write", "hp", 0, "main"), ("read", "hp", 0, "c1"),
          ("write", "hs", 512, "c1"), ("read", "hs", 512, "main")])
@example([("write", "hf", 0, "main"), ("read", "hpf", 0, "main"), ("write", "hpf", 1, "main"),
          ("fork", "main"), ("write", "hf", 0, "c1"), ("read", "hpf", 0, "main"),
          ("read", "hpf", 1, "c1"), ("truncate", HUGE), ("read", "hpf", 512, "main"),
          ("dontneed", "hpf", 1, "main"), ("read", "hpf", 1, "main"), ("truncate", PAGES),
          ("read", "hf", 700, "c1")])
@example([("read", "hpf", 0, "main"), ("write", "hf", 0, "main"), ("read", "hpf", 0, "main"),
          ("read", "hf", 512, "main"), ("read", "hpf", 700, "main"),
          ("write", "hf", 700, "main"), ("read", "hpf", 700, "main")])
def test_random_huge_page_sequences_keep_invariants_and_values(ops):
    run(ops)
