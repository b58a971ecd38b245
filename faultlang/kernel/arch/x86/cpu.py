"""The CPU's side of a memory access: the MMU's page walk, and #PF when it fails.

Not a kernel file: this is the hardware the kernel runs on. The MMU walks the four
(or five) levels, checks present / user / RW / NX, sets the accessed and dirty bits
itself (no fault for those), and otherwise raises a page fault with an error code.
After the kernel handles the fault the instruction runs again, which may fault again
(an instruction fetch from a page the fault mapped NX ends in SIGSEGV).
"""

from __future__ import annotations

from faultlang.errors import SimulatorBug
from faultlang.kernel.arch.x86.mm.fault import (
    X86_PF_INSTR, X86_PF_PROT, X86_PF_USER, X86_PF_WRITE, exc_page_fault,
)
from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.sched import KERNEL_REGS, USER_REGS, Task

MAX_REEXECUTE = 4

_P, _RW, _A, _D = pt._PAGE_PRESENT, pt._PAGE_RW, pt._PAGE_ACCESSED, pt._PAGE_DIRTY
_NX, _PSE, _PFN = pt._PAGE_NX, pt._PAGE_PSE, pt.PFN_MASK


class AccessResult:
    """What one access did: the #PFs it raised and what it read or wrote."""

    __slots__ = ("faults", "error_code", "value", "signal", "ret", "blocked")

    def __init__(self) -> None:
        self.faults = 0              # hardware page faults taken
        self.error_code = None       # the first one's error code
        self.value = None            # the value read or written
        self.signal = None           # (signal, si_code, address) if one was sent
        self.ret = 0                 # the last handle_mm_fault result
        self.blocked = False


# The error code a #PF of each kind of access carries, before the PROT bit (present
# but refused) is added: the MMU knows these from the instruction, not from the walk.
ACCESS_CODES = {"read": X86_PF_USER, "write": X86_PF_USER | X86_PF_WRITE,
                "exec": X86_PF_USER | X86_PF_INSTR, "kread": 0, "kwrite": X86_PF_WRITE}


def mmu_access(mm, address: int, access: int, value) -> int:
    """One try at the access (`access`: its ACCESS_CODES bits). Returns -1 when done,
    else the #PF error code.

    A write stores `value` (an int); a read returns nothing here: mmu_read does that.
    """
    table = mm.pgd
    shift = 48 if mm.levels == 5 else 39
    while shift > 12:
        entry = table[(address >> shift) & 511]
        if type(entry) is not list:
            if entry is None:
                return access
            return _leaf(mm, table, (address >> shift) & 511, entry, access, value,
                         (address >> 12) & ((1 << (shift - 12)) - 1))
        table = entry
        shift -= 9
    i = (address >> 12) & 511
    return _leaf(mm, table, i, table[i], access, value, 0)


def _leaf(mm, table: list, i: int, pte: int, access: int, value, sub: int) -> int:
    """The MMU's check of a leaf entry (a PTE, or a huge PMD with `sub` the 4 KiB page
    inside it): fault with an error code, or set accessed/dirty and do the store."""
    if not pte & _P:
        return access
    write = access & X86_PF_WRITE
    if write and not pte & _RW or access & X86_PF_INSTR and pte & _NX:
        return access | X86_PF_PROT
    new = pte | (_A | _D if write else _A)
    if new != pte:
        table[i] = new
    if write:
        mm.system.phys.mem[((pte & _PFN) >> 12) + sub] = value
    return -1


def mmu_read(mm, address: int) -> int:
    """The value at a mapped, present address (after mmu_access succeeded)."""
    table = mm.pgd
    shift = 48 if mm.levels == 5 else 39
    while shift > 12:
        entry = table[(address >> shift) & 511]
        if type(entry) is int:
            sub = (address >> 12) & ((1 << (shift - 12)) - 1)
            return mm.system.phys.mem[((entry & _PFN) >> 12) + sub]
        table = entry
        shift -= 9
    return mm.system.phys.mem[(table[(address >> 12) & 511] & _PFN) >> 12]


def mmu_pte_table(mm, address: int):
    """The PTE table the MMU's walk for `address` ends in, or None when the walk stops
    above it (an upper level none, or a huge PMD/PUD leaf).

    For callers that touch many pages of one 2 MiB region (Machine.access): the upper
    levels are the same for all 512 PTEs of a table, so they are walked once per table.
    """
    table = mm.pgd
    shift = 48 if mm.levels == 5 else 39
    while shift > 12:
        table = table[(address >> shift) & 511]
        if type(table) is not list:
            return None
        shift -= 9
    return table


def cpu_access(task: Task, address: int, op: str, value=None) -> AccessResult:
    """Run one load, store or instruction fetch; fault as often as the hardware would."""
    task.pending_signal = None
    task.mm.system.current = task
    return execute(task, address, op, value, AccessResult())


def cpu_reexecute(task: Task, address: int, op: str, value, result: AccessResult) -> AccessResult:
    """A blocked access whose fault was resumed (fault.resume_user_addr_fault): the
    instruction runs again, faulting as often as the hardware would."""
    if task.pending_signal is not None:
        result.signal = task.pending_signal
        return result
    if task.uffd_wait is not None:
        result.blocked = True
        return result
    return execute(task, address, op, value, result)


def execute(task: Task, address: int, op: str, value, result: AccessResult) -> AccessResult:
    """The instruction runs; each #PF goes to exc_page_fault and the instruction runs
    again, until it completes, a signal is pending or the task sleeps in the kernel."""
    mm = task.mm
    access = ACCESS_CODES[op]
    regs = USER_REGS if access & X86_PF_USER else KERNEL_REGS
    for _ in range(MAX_REEXECUTE):
        code = mmu_access(mm, address, access, value)
        if code < 0:
            result.value = value if access & X86_PF_WRITE else mmu_read(mm, address)
            return result
        result.faults += 1
        if result.error_code is None:
            result.error_code = code
        result.ret = exc_page_fault(task, regs, code, address)
        if task.pending_signal is not None:
            result.signal = task.pending_signal
            return result
        if task.uffd_wait is not None:          # asleep in handle_userfault
            result.blocked = True
            return result
    raise SimulatorBug(f"access to {address:#x} still faults after {MAX_REEXECUTE} faults")
