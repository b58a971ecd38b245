"""Mirrors mm/gup.c: the kernel touching user pages for itself (get_user_pages).

MAP_POPULATE, mlock() and MADV_POPULATE_* fault pages in through __get_user_pages →
faultin_page → handle_mm_fault(regs = NULL): counted in the *caller's* minflt/majflt
and in vmstat, never in perf; the per-VMA lock is never used. follow_page_pte finds
pages that are already there (fault-around may have mapped them) without a fault.
"""

from __future__ import annotations

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_ALLOW_RETRY, FAULT_FLAG_KILLABLE, FAULT_FLAG_TRIED, FAULT_FLAG_WRITE,
    VM_FAULT_ERROR, VM_FAULT_RETRY, VM_READ, VM_SHARED, VM_WRITE, MmStruct, Vma,
    vma_is_accessible,
)
from faultlang.kernel.mm.memory import handle_mm_fault, lookup_pte, pmd_table_of
from faultlang.kernel.trace import kfunc, recorder, why

GUP_C = "mm/gup.c"
FOLL_WRITE = 0x1
FOLL_TOUCH = 0x2
FOLL_FORCE = 0x10
FOLL_TRIED = 0x800
FOLL_UNLOCKABLE = 0x100000
# faultlang's marker for __mm_populate's callers: the lock may be dropped, but the
# caller re-takes it and starts over itself, so the next attempt is not FOLL_TRIED.
FOLL_POPULATE_RELOCK = 1 << 40


class GupFault:
    """One handle_mm_fault made by GUP, kept for the runtime's log (not a kernel struct)."""

    __slots__ = ("address", "write", "ret", "frames", "counted")

    def __init__(self, address: int, write: bool, ret: int, frames: list, counted: str):
        self.address = address
        self.write = write
        self.ret = ret
        self.frames = frames
        self.counted = counted        # "minor", "major", "" (not counted: an error), or
                                      # "blocked" (asleep in handle_userfault)


def follow_page_pte(vma: Vma, address: int, foll_flags: int) -> bool:
    """follow_page_pte(): is the page there, and good enough for this access?"""
    mm = vma.vm_mm
    pmd = pmd_table_of(mm, address, False)
    if pmd is None:
        return False
    entry = pmd[(address >> 21) & 511]
    if type(entry) is int:
        return not foll_flags & FOLL_WRITE or bool(entry & pt._PAGE_RW)
    table, i = lookup_pte(mm, address)
    if table is None:
        return False
    pte = table[i]
    if not pte & pt._PAGE_PRESENT:
        return False
    if foll_flags & FOLL_WRITE and not pte & pt._PAGE_RW:
        return False
    if foll_flags & FOLL_TOUCH:
        table[i] = pte | pt._PAGE_ACCESSED | (pt._PAGE_DIRTY if foll_flags & FOLL_WRITE else 0)
    return True


def faultin_page(vma: Vma, address: int, foll_flags: int) -> int:
    """faultin_page(): translate FOLL_* into FAULT_FLAG_* and fault the page in.

    Every call is recorded on its own (system.gup_faults) so that each GUP fault shows
    its own path in the log, as an access's fault does.
    """
    flags = 0
    if foll_flags & FOLL_WRITE:
        flags |= FAULT_FLAG_WRITE
    if foll_flags & FOLL_UNLOCKABLE:
        flags |= FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE
    if foll_flags & FOLL_TRIED:
        flags |= FAULT_FLAG_TRIED
    system = vma.vm_mm.system
    current = system.current
    before = (current.min_flt, current.maj_flt)
    outer = recorder.frames
    frames = recorder.start()
    try:
        ret = _faultin_page(vma, address, flags)
    finally:
        recorder.frames = outer
    counted = "major" if current.maj_flt > before[1] else "minor" if current.min_flt > before[0] else ""
    system.gup_faults.append(
        GupFault(address, bool(foll_flags & FOLL_WRITE), ret, frames, counted))
    return ret


@kfunc(GUP_C, symbol="faultin_page")
def _faultin_page(vma: Vma, address: int, flags: int) -> int:
    """faultin_page - GUP's fault: handle_mm_fault with regs = NULL (no perf events)."""
    why("GUP: the page is missing or not writable enough; regs = NULL")
    return handle_mm_fault(vma, address, flags, None)


class GupResume:
    """Where a GUP walk goes on once the thread asleep in handle_userfault is woken
    (kept in UffdWait.gup): `populate` is __mm_populate (re-take the lock and populate
    again from the faulting address, no FOLL_TRIED), `range` is faultin_page_range
    (__get_user_pages_locked retries the faulting page with FOLL_TRIED)."""

    __slots__ = ("kind", "mm", "address", "end", "foll_flags", "done", "syscall")

    def __init__(self, kind: str, mm: MmStruct, address: int, end: int, foll_flags: int,
                 done: int):
        self.kind = kind
        self.mm = mm
        self.address = address
        self.end = end
        self.foll_flags = foll_flags
        self.done = done             # pages got before the thread went to sleep
        self.syscall = ""            # the runtime's name for the blocked call


def _asleep_in_userfault(mm: MmStruct) -> bool:
    """handle_userfault put the calling thread to sleep (a manual uffd handler): the
    kernel would sleep right there inside GUP, so the walk stops and goes on when the
    fault is resolved (gup_resume)."""
    current = mm.system.current
    return current is not None and current.uffd_wait is not None


@kfunc(GUP_C, symbol="__get_user_pages", fault_bits=False)
def get_user_pages(mm: MmStruct, start: int, nr_pages: int, foll_flags: int,
                   first_tried: int = 0) -> int:
    """__get_user_pages - walk the range page by page; fault in what follow_page misses.
    Returns the number of pages it got, or a negative errno value. A fault that leaves
    the thread asleep in handle_userfault ends the walk (see _asleep_in_userfault)."""
    done = 0
    address = start
    end = start + (nr_pages << 12)
    tried = first_tried
    while address < end:
        vma = mm.vma_lookup(address)
        if vma is None:
            return done or -14                      # -EFAULT
        if foll_flags & FOLL_WRITE and not vma.vm_flags & VM_WRITE and not foll_flags & FOLL_FORCE:
            return done or -14
        while not follow_page_pte(vma, address, foll_flags):
            ret = faultin_page(vma, address, foll_flags | tried)
            if ret & VM_FAULT_ERROR:
                return done or -14
            if ret & VM_FAULT_RETRY and _asleep_in_userfault(mm):
                why(f"asleep in handle_userfault at {address:#x}")
                mm.system.gup_faults[-1].counted = "blocked"
                mm.system.current.uffd_wait.gup = GupResume(
                    "range", mm, address, end, foll_flags, done)
                return done
            if ret & VM_FAULT_RETRY:
                tried = FOLL_TRIED if foll_flags & FOLL_UNLOCKABLE \
                    and not foll_flags & FOLL_POPULATE_RELOCK else 0
            if not ret & VM_FAULT_RETRY and not follow_page_pte(vma, address, foll_flags):
                break                               # e.g. FOLL_FORCE read of a PROT_NONE hole
        done += 1
        address += 4096
        tried = 0
    return done


@kfunc(GUP_C, fault_bits=False)
def populate_vma_page_range(vma: Vma, start: int, end: int) -> int:
    """populate_vma_page_range - MAP_POPULATE / mlock: write-fault private writable
    VMAs (COW broken up front), read-fault the rest (FOLL_FORCE)."""
    foll = FOLL_TOUCH | FOLL_UNLOCKABLE | FOLL_POPULATE_RELOCK
    if (vma.vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE:
        foll |= FOLL_WRITE
        why("private writable VMA: FOLL_WRITE")
    elif vma_is_accessible(vma):
        foll |= FOLL_FORCE
    if vma.vm_flags & 0x80000:                       # VM_LOCKONFAULT
        return 0
    if not vma_is_accessible(vma):
        return 0
    return get_user_pages(vma.vm_mm, start, (end - start) >> 12, foll)


@kfunc(GUP_C, symbol="__mm_populate", fault_bits=False)
def mm_populate(mm: MmStruct, start: int, length: int) -> int:
    """__mm_populate - populate every VMA of the range. A dropped lock is handled by
    calling populate_vma_page_range again without FOLL_TRIED (so the retry is minor)."""
    end = start + length
    total = 0
    for vma in [v for v in mm.vmas if v.vm_start < end and v.vm_end > start]:
        total += max(0, populate_vma_page_range(vma, max(start, vma.vm_start), min(end, vma.vm_end)))
        if _asleep_in_userfault(mm):
            wait = mm.system.current.uffd_wait
            wait.gup.kind, wait.gup.end, wait.gup.done = "populate", end, total
            break
    return total


@kfunc(GUP_C, fault_bits=False)
def gup_resume(task) -> int:
    """The thread that slept in handle_userfault inside GUP was woken: the populate
    (mlock, MADV_POPULATE_*) goes on from the faulting page. Returns the pages the
    whole call got so far."""
    wait, task.uffd_wait = task.uffd_wait, None
    g = wait.gup
    if g.kind == "populate":
        why("__mm_populate: lock re-taken, populate again from the faulting page")
        got = mm_populate(g.mm, g.address, g.end - g.address)
    else:
        why("__get_user_pages_locked: retry the faulting page with FOLL_TRIED")
        got = max(0, get_user_pages(g.mm, g.address, (g.end - g.address) >> 12, g.foll_flags,
                                    FOLL_TRIED))
    if task.uffd_wait is not None:
        task.uffd_wait.gup.done += g.done
        task.uffd_wait.gup.syscall = g.syscall
    return g.done + got


@kfunc(GUP_C, fault_bits=False)
def faultin_page_range(mm: MmStruct, start: int, end: int, write: bool) -> int:
    """faultin_page_range - MADV_POPULATE_READ / _WRITE: FOLL_UNLOCKABLE, so a retried
    fault carries FOLL_TRIED and is counted major. Negative errno on failure."""
    foll = FOLL_TOUCH | FOLL_UNLOCKABLE | (FOLL_WRITE if write else 0)
    for vma in [v for v in mm.vmas if v.vm_start < end and v.vm_end > start]:
        if not vma_is_accessible(vma) or write and not vma.vm_flags & VM_WRITE:
            return -14
        if not write and not vma.vm_flags & VM_READ:
            return -14
    return get_user_pages(mm, start, (end - start) >> 12, foll)
