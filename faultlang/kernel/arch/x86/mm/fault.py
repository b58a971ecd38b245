"""Mirrors arch/x86/mm/fault.c (Linux 6.18): the #PF entry, VMA lookup and signals.

exc_page_fault → handle_page_fault → do_user_addr_fault: count the perf event, try the
per-VMA lock, fall back to the mmap_lock (with stack expansion), check access_error,
call handle_mm_fault, retry on VM_FAULT_RETRY, and turn errors into signals.

Simplified: no kprobes, mmiotrace, vsyscall, SMAP/pkeys or shadow stacks (their checks
never fire for the accesses a scenario can make); locks are never contended.
"""

from __future__ import annotations

from typing import Optional

from faultlang.errors import SimulatorBug
from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_DEFAULT, FAULT_FLAG_INSTRUCTION, FAULT_FLAG_TRIED, FAULT_FLAG_USER,
    FAULT_FLAG_VMA_LOCK, FAULT_FLAG_WRITE, VM_FAULT_COMPLETED, VM_FAULT_ERROR,
    VM_FAULT_HWPOISON, VM_FAULT_HWPOISON_LARGE, VM_FAULT_MAJOR, VM_FAULT_OOM,
    VM_FAULT_RETRY, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV, VM_WRITE, MmStruct, Vma,
    vma_is_accessible,
)
from faultlang.kernel.include.linux.sched import Regs, Task, user_mode
from faultlang.kernel.mm.memory import handle_mm_fault
from faultlang.kernel.mm.oom_kill import pagefault_out_of_memory
from faultlang.kernel.trace import kfunc, recording, why

FAULT_C = "arch/x86/mm/fault.c"

# x86 page-fault error code (arch/x86/include/asm/trap_pf.h)
X86_PF_PROT = 1 << 0
X86_PF_WRITE = 1 << 1
X86_PF_USER = 1 << 2
X86_PF_RSVD = 1 << 3
X86_PF_INSTR = 1 << 4
X86_PF_PK = 1 << 5
X86_PF_SHSTK = 1 << 6

MAX_ATTEMPTS = 8          # a fault that keeps asking for RETRY is a simulator bug


def error_code_names(code: int) -> str:
    names = [n for bit, n in ((X86_PF_PROT, "PROT"), (X86_PF_WRITE, "WRITE"),
                               (X86_PF_USER, "USER"), (X86_PF_RSVD, "RSVD"),
                               (X86_PF_INSTR, "INSTR"), (X86_PF_PK, "PK")) if code & bit]
    return "|".join(names) or "0"


_ERROR_CODE_WHY = {code: f"error code {code:#x} ({error_code_names(code)})" for code in range(128)}


@kfunc(FAULT_C, fault_bits=False)
def exc_page_fault(task: Task, regs: Regs, error_code: int, address: int) -> int:
    """exc_page_fault - vector 14: read CR2 and handle the fault.

    Returns the last handle_mm_fault result (0 when none ran); a signal, if any, is
    left in task.pending_signal as force_sig_fault() would queue it.
    """
    why(_ERROR_CODE_WHY.get(error_code) or f"error code {error_code:#x}")
    system = task.mm.system
    if address > system.task_size:
        why("address in the kernel half: do_kern_addr_fault")
        bad_area_nosemaphore(task, regs, error_code, address)
        return 0
    return do_user_addr_fault(task, regs, error_code, address)


@kfunc(FAULT_C, fault_bits=False)
def do_user_addr_fault(task: Task, regs: Regs, error_code: int, address: int) -> int:
    """do_user_addr_fault - the decision tree of kernel-reference section 2.3."""
    mm = task.mm
    task.perf_page_faults += 1          # perf_sw_event(PERF_COUNT_SW_PAGE_FAULTS)
    flags = FAULT_FLAG_DEFAULT
    if error_code & (X86_PF_WRITE | X86_PF_SHSTK):
        flags |= FAULT_FLAG_WRITE
    if error_code & X86_PF_INSTR:
        flags |= FAULT_FLAG_INSTRUCTION
    if user_mode(regs):
        flags |= FAULT_FLAG_USER
    fault = 0
    if flags & FAULT_FLAG_USER:
        vma = lock_vma_under_rcu(mm, address)
        if vma is not None:
            if access_error(error_code, vma):
                bad_area_access_error(task, regs, error_code, address)
                return 0
            fault = handle_mm_fault(vma, address, flags | FAULT_FLAG_VMA_LOCK, regs)
            if not fault & VM_FAULT_RETRY:
                return fault_done(task, regs, error_code, address, fault)
            if fault & VM_FAULT_MAJOR:
                flags |= FAULT_FLAG_TRIED
            if task.uffd_wait is not None:
                task.uffd_wait.retry = (regs, error_code, address, flags)
                return fault
    else:
        why("kernel-mode fault: never uses the per-VMA lock")
    return retry_under_mmap_lock(task, regs, error_code, address, flags)


def resume_user_addr_fault(task: Task) -> int:
    """The thread asleep in handle_userfault was woken: do_user_addr_fault goes on with
    the retry under the mmap_lock, with the flags (TRIED or not) the first attempt left."""
    wait, task.uffd_wait = task.uffd_wait, None
    regs, error_code, address, flags = wait.retry
    return retry_under_mmap_lock(task, regs, error_code, address, flags)


def retry_under_mmap_lock(task: Task, regs: Regs, error_code: int, address: int,
                          flags: int) -> int:
    """The `lock_mmap:` / `retry:` part of do_user_addr_fault."""
    mm = task.mm
    for _ in range(MAX_ATTEMPTS):
        vma = lock_mm_and_find_vma(mm, address, regs)
        if vma is None:
            bad_area_nosemaphore(task, regs, error_code, address)
            return 0
        if access_error(error_code, vma):
            bad_area_access_error(task, regs, error_code, address)
            return 0
        fault = handle_mm_fault(vma, address, flags, regs)
        if fault & VM_FAULT_COMPLETED:
            return fault
        if fault & VM_FAULT_RETRY:
            if task.pending_signal is not None:             # fault_signal_pending
                return fault
            flags |= FAULT_FLAG_TRIED
            if task.uffd_wait is not None:          # asleep until a UFFDIO_* wakes it
                task.uffd_wait.retry = (regs, error_code, address, flags)
                return fault
            continue
        return fault_done(task, regs, error_code, address, fault)
    raise SimulatorBug(f"fault at {address:#x} asked for VM_FAULT_RETRY {MAX_ATTEMPTS} times")


def fault_done(task: Task, regs: Regs, error_code: int, address: int, fault: int) -> int:
    """The `done:` label: success returns; errors become OOM handling or signals."""
    if not fault & VM_FAULT_ERROR:
        return fault
    if fault & VM_FAULT_OOM:
        if not user_mode(regs):
            kernelmode_fixup_or_oops(task, regs, error_code, address, "SIGBUS", "BUS_ADRERR")
        else:
            pagefault_out_of_memory(task)
    elif fault & (VM_FAULT_SIGBUS | VM_FAULT_HWPOISON | VM_FAULT_HWPOISON_LARGE):
        do_sigbus(task, regs, error_code, address, fault)
    elif fault & VM_FAULT_SIGSEGV:
        bad_area_nosemaphore(task, regs, error_code, address)
    else:
        raise SimulatorBug(f"unexpected fault result {fault:#x}")
    return fault


@kfunc("mm/mmap_lock.c", fault_bits=False)
def lock_vma_under_rcu(mm: MmStruct, address: int) -> Optional[Vma]:
    """lock_vma_under_rcu - find the VMA under RCU and read-lock it; NULL sends the fault
    to the mmap_lock path (no VMA contains the address, e.g. the gap below a stack)."""
    vma = mm.vma_lookup(address)
    if recording():
        why(f"per-VMA lock on {vma.name or 'VMA'}" if vma else "no VMA contains the address")
    return vma


@kfunc("mm/mmap_lock.c", fault_bits=False)
def lock_mm_and_find_vma(mm: MmStruct, address: int, regs: Regs) -> Optional[Vma]:
    """lock_mm_and_find_vma - mmap_lock for reading, find_vma, and grow a VM_GROWSDOWN
    stack down to the address (expand_stack_locked) when the address lies just below it."""
    vma = mm.find_vma(address)
    if vma is not None and vma.vm_start <= address:
        if recording():
            why(f"mmap_lock; found {vma.name or 'VMA'}")
        return vma
    if vma is None or not vma.vm_flags & 0x100:          # VM_GROWSDOWN
        why("mmap_lock; no VMA contains the address")
        return None
    from faultlang.kernel.mm.mmap import expand_stack_locked
    if expand_stack_locked(vma, address):
        return vma
    return None


@kfunc(FAULT_C, fault_bits=False)
def access_error(error_code: int, vma: Vma) -> bool:
    """access_error - may this access touch this VMA at all? True means "bad area".

    Kernel order: pkeys and SGX (not modelled), shadow stack, write needs VM_WRITE,
    a read of a present page is refused (e.g. an instruction fetch from an NX page),
    a read of a non-present page needs the VMA to be accessible (not PROT_NONE).
    """
    if error_code & X86_PF_WRITE:
        if not vma.vm_flags & VM_WRITE:
            why("write to a VMA without VM_WRITE")
            return True
        return False
    if error_code & X86_PF_PROT:
        why("read/exec refused by a present PTE (NX)" if error_code & X86_PF_INSTR
            else "read refused by a present PTE")
        return True
    if not vma_is_accessible(vma):
        why("VMA is PROT_NONE")
        return True
    return False


@kfunc(FAULT_C, fault_bits=False)
def bad_area_nosemaphore(task: Task, regs: Regs, error_code: int, address: int) -> None:
    """bad_area_nosemaphore - no usable VMA: SIGSEGV with SEGV_MAPERR (user mode)."""
    if not user_mode(regs):
        kernelmode_fixup_or_oops(task, regs, error_code, address, "SIGSEGV", "SEGV_MAPERR")
        return
    force_sig_fault(task, "SIGSEGV", "SEGV_MAPERR", address)


@kfunc(FAULT_C, fault_bits=False)
def bad_area_access_error(task: Task, regs: Regs, error_code: int, address: int) -> None:
    """bad_area_access_error - the VMA forbids the access: SIGSEGV with SEGV_ACCERR."""
    if not user_mode(regs):
        kernelmode_fixup_or_oops(task, regs, error_code, address, "SIGSEGV", "SEGV_ACCERR")
        return
    force_sig_fault(task, "SIGSEGV", "SEGV_ACCERR", address)


@kfunc(FAULT_C, fault_bits=False)
def do_sigbus(task: Task, regs: Regs, error_code: int, address: int, fault: int) -> None:
    """do_sigbus - SIGBUS: BUS_MCEERR_AR for hardware poison when the kernel is built
    with CONFIG_MEMORY_FAILURE (`set memory_failure on`), else BUS_ADRERR."""
    if not user_mode(regs):
        kernelmode_fixup_or_oops(task, regs, error_code, address, "SIGBUS", "BUS_ADRERR")
        return
    if fault & (VM_FAULT_HWPOISON | VM_FAULT_HWPOISON_LARGE):
        if task.mm.system.settings.memory_failure == "on":
            force_sig_fault(task, "SIGBUS", "BUS_MCEERR_AR", address)
            return
        why("CONFIG_MEMORY_FAILURE off: the hardware-poison branch is compiled out")
    force_sig_fault(task, "SIGBUS", "BUS_ADRERR", address)


@kfunc(FAULT_C, fault_bits=False)
def kernelmode_fixup_or_oops(task: Task, regs: Regs, error_code: int, address: int,
                             signal: str, si_code: str) -> None:
    """kernelmode_fixup_or_oops - a uaccess routine faulted: its exception-table entry
    makes the system call return -EFAULT; no signal is sent."""
    why(f"exception-table fixup: the system call returns -EFAULT (would have been {signal})")
    task.pending_signal = ("EFAULT", si_code, address)


@kfunc("kernel/signal.c", fault_bits=False)
def force_sig_fault(task: Task, signal: str, si_code: str, address: int) -> None:
    """force_sig_fault - queue the signal with its si_code and si_addr."""
    why(f"{signal} {si_code} at {address:#x}")
    task.pending_signal = (signal, si_code, address)
