"""Mirrors mm/memory.c (Linux 6.18): the generic page-fault path and its accounting.

handle_mm_fault → __handle_mm_fault → handle_pte_fault → do_pte_missing →
do_anonymous_page | do_fault; do_wp_page (reuse or copy); do_swap_page; and
mm_account_fault, the one place where faults are counted.

Simplified: single-threaded, so no mmap_lock/PTE-lock races (the "PTE changed under
us" rechecks never fire) and mmap_read_trylock always succeeds; no memcg; no KSM.
"""

from __future__ import annotations

from typing import Optional

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import (
    FAULT_FLAG_INSTRUCTION, FAULT_FLAG_ORIG_PTE_VALID, FAULT_FLAG_TRIED,
    FAULT_FLAG_UNSHARE, FAULT_FLAG_VMA_LOCK, FAULT_FLAG_RETRY_NOWAIT, FAULT_FLAG_WRITE,
    VM_FAULT_ERROR, VM_FAULT_MAJOR, VM_FAULT_NOPAGE, VM_FAULT_OOM, VM_FAULT_RETRY,
    VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV, VM_EXEC, VM_MAYSHARE, VM_MAYWRITE, VM_SHARED,
    VM_WRITE, VM_ACCESS_FLAGS, AnonVma, Folio, MmStruct, Vma, VmFault, is_cow_mapping, vma_is_accessible,
    vma_is_anonymous, PageAnonExclusive, SetPageAnonExclusive,
)
from faultlang.kernel.mm.huge_memory import anon_mthp_orders, thp_vma_allowable_pmd
from faultlang.kernel.mm.page_alloc import alloc_pages
from faultlang.kernel.mm.rmap import (
    folio_add_new_anon_rmap, folio_move_anon_rmap, folio_put, folio_remove_rmap_ptes,
)
from faultlang.kernel.trace import kfunc, why

MEMORY_C = "mm/memory.c"
MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES = range(4)

_BASE_PROT = pt._PAGE_PRESENT | pt._PAGE_USER | pt._PAGE_ACCESSED


def vm_get_page_prot(vm_flags: int) -> int:
    """vm_get_page_prot(): the PTE bits for a VMA's protections (x86 protection_map).

    Private mappings never get _PAGE_RW here: a write must fault first (COW); PROT_NONE
    gives a non-present PROTNONE entry.
    """
    if not vm_flags & VM_ACCESS_FLAGS:
        return pt._PAGE_PROTNONE | pt._PAGE_ACCESSED
    prot = _BASE_PROT
    if not vm_flags & VM_EXEC:
        prot |= pt._PAGE_NX
    if vm_flags & VM_SHARED and vm_flags & VM_WRITE:
        prot |= pt._PAGE_RW
    return prot


# --- page-table walking --------------------------------------------------------


def pmd_table_of(mm: MmStruct, address: int, alloc: bool) -> Optional[list]:
    """Walk PGD (→ P4D) → PUD → PMD and return the PMD table covering `address`
    (allocating the upper tables when `alloc`), or None when a level is none."""
    table = mm.pgd
    shift = 48 if mm.levels == 5 else 39
    while shift > 21:
        i = (address >> shift) & 511
        nxt = table[i]
        if nxt is None:
            if not alloc:
                return None
            nxt = table[i] = [None] * 512
        table = nxt
        shift -= 9
    return table


def walk_pte_slots(mm: MmStruct, start: int, end: int):
    """Yield (table, index, address) for every PTE slot of [start, end) whose PTE table
    exists, skipping none upper-level entries whole: the cost is the tables, not the range."""
    top = 48 if mm.levels == 5 else 39
    addr = start
    while addr < end:
        table = mm.pgd
        shift = top
        while shift > 21:
            nxt = table[(addr >> shift) & 511]
            if nxt is None:
                break
            table = nxt
            shift -= 9
        if shift > 21:
            size = 1 << shift
            addr = (addr & ~(size - 1)) + size
            continue
        entry = table[(addr >> 21) & 511]
        boundary = (addr | 0x1FFFFF) + 1
        if type(entry) is list:
            stop = min(end, boundary)
            i = (addr >> 12) & 511
            while addr < stop:
                yield entry, i, addr
                addr += 4096
                i += 1
        addr = boundary


def lookup_pte(mm: MmStruct, address: int) -> tuple[Optional[list], int]:
    """The PTE table and index for `address`, (None, i) when no table exists."""
    pmd = pmd_table_of(mm, address, False)
    i = (address >> 12) & 511
    if pmd is None:
        return None, i
    entry = pmd[(address >> 21) & 511]
    return (entry if type(entry) is list else None), i


def pte_alloc(vmf: VmFault) -> bool:
    """pte_alloc(): give the PMD a PTE table if it has none. False when out of memory."""
    pmd = vmf.pmd_table
    if pmd[vmf.pmd_index] is None:
        pmd[vmf.pmd_index] = vmf.prealloc_pte or [0] * 512
        vmf.prealloc_pte = None
    vmf.pte_table = pmd[vmf.pmd_index]
    return True


def vm_normal_folio(mm: MmStruct, pte: int) -> Optional[Folio]:
    """vm_normal_folio(): the folio behind a PTE, None for special mappings (zero page)."""
    if pte & pt._PAGE_SPECIAL:
        return None
    return mm.system.phys.page_folio((pte & pt.PFN_MASK) >> 12)


def is_zero_pfn(mm: MmStruct, pfn: int) -> bool:
    return pfn == mm.system.zero_pfn


# --- accounting ------------------------------------------------------------------


@kfunc(MEMORY_C, fault_bits=False)
def mm_account_fault(mm: MmStruct, regs, address: int, flags: int, ret: int) -> None:
    """mm_account_fault - count one finished fault, exactly once.

    Kernel: mm/memory.c mm_account_fault(). A RETRY is not counted (the attempt that
    completes is); every other fault moves vmstat pgfault; failed faults stop there;
    the rest count major when the handler said VM_FAULT_MAJOR or an earlier attempt of
    this exception gave up (FAULT_FLAG_TRIED). GUP faults (regs None) skip perf.
    """
    if ret & VM_FAULT_RETRY:
        why("VM_FAULT_RETRY: not counted, the retried attempt will be")
        return
    system = mm.system
    system.vmstat.pgfault += 1
    if ret & VM_FAULT_ERROR:
        why("error result: vmstat pgfault only, not minflt/majflt")
        return
    major = bool(ret & VM_FAULT_MAJOR) or bool(flags & FAULT_FLAG_TRIED)
    current = system.current
    if major:
        current.maj_flt += 1
        why("major: " + ("VM_FAULT_MAJOR" if ret & VM_FAULT_MAJOR else "FAULT_FLAG_TRIED"))
    else:
        current.min_flt += 1
        why("minor")
    if regs is None:
        return
    if major:
        current.perf_maj += 1
    else:
        current.perf_min += 1


# --- the entry ---------------------------------------------------------------------


@kfunc(MEMORY_C)
def handle_mm_fault(vma: Vma, address: int, flags: int, regs) -> int:
    """handle_mm_fault - the generic entry, called by the arch code and by GUP.

    Kernel: mm/memory.c handle_mm_fault(). Sanitize the flags, send hugetlb VMAs to
    hugetlb_fault and everything else to __handle_mm_fault, then account the fault.
    """
    ret = sanitize_fault_flags(vma, flags)
    if not ret:
        if vma.vm_flags & 0x400000:          # VM_HUGETLB
            from faultlang.kernel.mm.hugetlb import hugetlb_fault
            ret = hugetlb_fault(vma.vm_mm, vma, address, flags)
        else:
            ret = _handle_mm_fault(vma, address, flags)
    current = vma.vm_mm.system.current
    wait = current.uffd_wait if current is not None else None
    if wait is not None and getattr(wait, "defers_account", False):
        # asleep in migration_entry_wait: this fault returns (and is counted) when the
        # migration wakes it (mm/migrate.py migration_entry_wake)
        wait.account = (vma.vm_mm, regs, address, flags, ret)
        return ret
    mm_account_fault(vma.vm_mm, regs, address, flags, ret)
    return ret


def sanitize_fault_flags(vma: Vma, flags: int) -> int:
    """sanitize_fault_flags(): impossible flag combinations become VM_FAULT_SIGSEGV."""
    if flags & FAULT_FLAG_UNSHARE and flags & FAULT_FLAG_WRITE:
        return VM_FAULT_SIGSEGV
    if flags & FAULT_FLAG_WRITE:
        if not vma.vm_flags & VM_MAYWRITE:
            return VM_FAULT_SIGSEGV
        if not vma.vm_flags & VM_WRITE and not is_cow_mapping(vma.vm_flags):
            return VM_FAULT_SIGSEGV
    if flags & FAULT_FLAG_VMA_LOCK and flags & FAULT_FLAG_RETRY_NOWAIT:
        return VM_FAULT_SIGSEGV
    return 0


@kfunc(MEMORY_C, symbol="__handle_mm_fault")
def _handle_mm_fault(vma: Vma, address: int, flags: int) -> int:
    """__handle_mm_fault - walk (and allocate) the upper levels, then the PMD/PTE cases.

    Kernel: mm/memory.c __handle_mm_fault(). PUD and PMD huge cases come first (THP);
    otherwise handle_pte_fault.
    """
    vmf = VmFault(vma, address, flags)
    pmd = pmd_table_of(vma.vm_mm, address, True)
    vmf.pmd_table = pmd
    vmf.pmd_index = (address >> 21) & 511
    entry = pmd[vmf.pmd_index]
    if entry is None:
        if thp_vma_allowable_pmd(vma, address):
            from faultlang.kernel.mm.huge_memory import create_huge_pmd
            ret = create_huge_pmd(vmf)
            if not ret & 0x800:          # VM_FAULT_FALLBACK
                return ret
    elif type(entry) is int:
        from faultlang.kernel.mm.huge_memory import handle_huge_pmd
        ret = handle_huge_pmd(vmf, entry)
        if not ret & 0x800:
            return ret
    return handle_pte_fault(vmf)


@kfunc(MEMORY_C)
def handle_pte_fault(vmf: VmFault) -> int:
    """handle_pte_fault - dispatch on the PTE.

    Kernel: mm/memory.c handle_pte_fault(). Cases, in kernel order: no PTE →
    do_pte_missing; not present → do_swap_page; protnone → do_numa_page; write to a
    read-only PTE → do_wp_page; otherwise update young/dirty (a spurious fault).
    """
    table = vmf.pmd_table[vmf.pmd_index]
    if table is None:
        vmf.pte_table = None
        vmf.orig_pte = 0
    else:
        vmf.pte_table = table
        vmf.orig_pte = table[vmf.pte_index]
        vmf.flags |= FAULT_FLAG_ORIG_PTE_VALID
    pte = vmf.orig_pte
    if not pte:
        why("no PTE" if table is None else "PTE none")
        return do_pte_missing(vmf)
    if not pte & (pt._PAGE_PRESENT | pt._PAGE_PROTNONE):
        why("PTE not present: a swap entry or marker")
        return do_swap_page(vmf)
    if pt.pte_protnone(pte) and vma_is_accessible(vmf.vma):
        why("PTE protnone in an accessible VMA: NUMA hinting")
        from faultlang.kernel.mm.numa import do_numa_page
        return do_numa_page(vmf)
    entry = pte
    if vmf.flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE):
        if not pte & pt._PAGE_RW:
            why("write to a present, read-only PTE")
            return do_wp_page(vmf)
        if vmf.flags & FAULT_FLAG_WRITE:
            entry |= pt._PAGE_DIRTY
    entry |= pt._PAGE_ACCESSED
    if entry != pte:
        why("present and permitted: set young/dirty (ptep_set_access_flags)")
        vmf.pte_table[vmf.pte_index] = entry
    else:
        why("nothing to change: a spurious fault (stale TLB entry)")
    return 0


@kfunc(MEMORY_C)
def do_pte_missing(vmf: VmFault) -> int:
    """do_pte_missing - anonymous VMAs (no vm_ops) allocate; the others ask their ->fault."""
    if vma_is_anonymous(vmf.vma):
        why("VMA anonymous (vm_ops NULL)")
        return do_anonymous_page(vmf)
    why(f"VMA has vm_ops ({vmf.vma.vm_ops.name})")
    return memory_file.do_fault(vmf)


# --- anonymous memory ----------------------------------------------------------------


@kfunc(MEMORY_C)
def do_anonymous_page(vmf: VmFault) -> int:
    """do_anonymous_page - first touch of private anonymous memory.

    Kernel: mm/memory.c do_anonymous_page(). A read maps the shared zero page
    read-only (nothing allocated); a write allocates a zeroed folio and maps it
    writable and dirty. A userfaultfd-missing VMA hands the fault to user space.
    """
    vma = vmf.vma
    if vma.vm_flags & VM_SHARED:
        why("VM_SHARED without vm_ops: SIGBUS")
        return VM_FAULT_SIGBUS
    if not pte_alloc(vmf):
        return VM_FAULT_OOM
    mm = vma.vm_mm
    system = mm.system
    if not vmf.flags & FAULT_FLAG_WRITE and system.settings.zero_page == "on":
        why("read fault: map the shared zero page")
        if vma.uffd is not None and vma.uffd.missing:
            from faultlang.kernel.fs.userfaultfd import handle_userfault
            return handle_userfault(vmf, "missing")
        entry = (system.zero_pfn << 12) | pt._PAGE_SPECIAL | (vma.vm_page_prot & ~pt._PAGE_RW)
        if vmf_orig_pte_uffd_wp(vmf):
            entry |= pt._PAGE_UFFD_WP
        vmf.pte_table[vmf.pte_index] = entry
        return 0
    why("write fault: allocate a new page" if vmf.flags & FAULT_FLAG_WRITE
        else "read fault with zero_page off: allocate a new page")
    ret = vmf_anon_prepare(vmf)
    if ret:
        return ret
    folio = alloc_anon_folio(vmf)
    if folio is None:
        return VM_FAULT_OOM
    if vma.uffd is not None and vma.uffd.missing:
        folio_put(system.phys, folio)
        from faultlang.kernel.fs.userfaultfd import handle_userfault
        return handle_userfault(vmf, "missing")
    nr = 1 << folio.order                 # folio_nr_pages()
    first = vmf.pte_index - ((vmf.address >> 12) - ((vmf.address >> 12) & ~(nr - 1))) if nr > 1 else vmf.pte_index
    entry = (folio.pfn << 12) | vma.vm_page_prot | pt._PAGE_ACCESSED
    if vma.vm_flags & VM_WRITE:
        entry |= pt._PAGE_RW | pt._PAGE_DIRTY
    if vmf_orig_pte_uffd_wp(vmf):
        # setpte: the wp marker's protection carries over (pte_mkuffd_wp also
        # write-protects), so the write faults again and reaches do_wp_page: WP
        why("the none PTE held a uffd-wp marker: the new PTE keeps uffd-wp")
        entry = (entry | pt._PAGE_UFFD_WP) & ~pt._PAGE_RW
    folio_add_new_anon_rmap(folio, vma, vmf.address - ((vmf.pte_index - first) << 12))
    folio.lru = True
    mm.rss_stat[MM_ANONPAGES] += nr
    table = vmf.pte_table
    if nr == 1:                           # set_ptes() of one PTE: the loop below, once
        table[first] = entry
        return 0
    for k in range(nr):
        table[first + k] = entry + (k << 12)
    return 0


def vmf_orig_pte_uffd_wp(vmf: VmFault) -> bool:
    """vmf_orig_pte_uffd_wp(): the PTE this fault found was a uffd-wp marker."""
    if not vmf.flags & FAULT_FLAG_ORIG_PTE_VALID or not vmf.orig_pte:
        return False
    return pt.is_pte_marker(vmf.orig_pte) and bool(pt.pte_marker_kind(vmf.orig_pte)
                                                  & pt.PTE_MARKER_UFFD_WP)


@kfunc(MEMORY_C)
def vmf_anon_prepare(vmf: VmFault) -> int:
    """vmf_anon_prepare - make sure the VMA has an anon_vma before adding anonymous pages.

    Under the per-VMA lock the kernel needs the mmap_lock for this; it tries
    mmap_read_trylock and returns VM_FAULT_RETRY only when that fails, which never
    happens in a single-threaded process.
    """
    vma = vmf.vma
    if vma.anon_vma is not None:
        return 0
    why("first anonymous page of this VMA: __anon_vma_prepare" +
        (" (mmap_read_trylock succeeded)" if vmf.flags & FAULT_FLAG_VMA_LOCK else ""))
    vma.anon_vma = AnonVma()
    return 0


@kfunc(MEMORY_C, fault_bits=False)
def alloc_anon_folio(vmf: VmFault) -> Optional[Folio]:
    """alloc_anon_folio - the highest enabled mTHP order whose aligned block is all none,
    falling back order by order to a single page; uffd-armed VMAs always get order 0."""
    mm = vmf.vma.vm_mm
    phys = mm.system.phys
    node = mm.owner.numa_node if mm.owner is not None else 0
    for order in anon_mthp_orders(vmf):
        folio = alloc_pages(phys, order, node)
        if folio is not None:
            why(f"order {order}: a {4 << order} KiB mTHP block")
            return folio
    return alloc_pages(phys, 0, node)


# --- write-protect faults ------------------------------------------------------------


@kfunc(MEMORY_C)
def do_wp_page(vmf: VmFault) -> int:
    """do_wp_page - a write (or unshare) hit a present, read-only PTE.

    Kernel: mm/memory.c do_wp_page(). uffd-wp → user space; shared mappings →
    wp_page_shared / wp_pfn_shared; a private anonymous page that is exclusive (or can
    be made so) is reused in place; everything else (zero page, page-cache page, a page
    still shared with a fork child) is copied by wp_page_copy.
    """
    vma = vmf.vma
    mm = vma.vm_mm
    pte = vmf.orig_pte
    if not vmf.flags & FAULT_FLAG_UNSHARE and pte & pt._PAGE_UFFD_WP:
        if vma.uffd is not None and vma.uffd.wp and not vma.uffd.wp_async:
            why("PTE is uffd-wp protected")
            from faultlang.kernel.fs.userfaultfd import handle_userfault
            return handle_userfault(vmf, "wp")
        pte &= ~pt._PAGE_UFFD_WP
        vmf.orig_pte = pte
    folio = vm_normal_folio(mm, pte)
    if vma.vm_flags & (VM_SHARED | VM_MAYSHARE):
        why("shared mapping")
        from faultlang.kernel.mm.memory_file import wp_page_shared, wp_pfn_shared
        if folio is None or folio.pfn >= mm.system.phys.zones[-1].end_pfn:
            return wp_pfn_shared(vmf)             # no page, or is_fsdax_page()
        return wp_page_shared(vmf, folio)
    if folio is not None and folio.anon:
        page = ((pte & pt.PFN_MASK) >> 12) - folio.pfn
        if PageAnonExclusive(folio, page) or wp_can_reuse_anon_folio(folio, vma):
            SetPageAnonExclusive(folio, page)
            if vmf.flags & FAULT_FLAG_UNSHARE:
                return 0
            why("anonymous page exclusive to this process: reuse it")
            wp_page_reuse(vmf, folio)
            return 0
        why(f"anonymous page shared ({folio.refcount} references): copy it")
    elif folio is None:
        why("the shared zero page: copy it" if is_zero_pfn(mm, (pte & pt.PFN_MASK) >> 12)
            else "a pfn mapping without struct page: copy it")
    else:
        why("a page-cache page of a private mapping: copy it")
    return wp_page_copy(vmf, folio)


def wp_can_reuse_anon_folio(folio: Folio, vma: Vma) -> bool:
    """wp_can_reuse_anon_folio(): the only reference is ours (+1 for the swap cache)."""
    if folio.order:
        return folio.mapcount == folio.refcount and folio.refcount == folio.nr_pages \
            and folio.mapping is not None and vma.anon_vma is not None \
            and folio.mapping.root is vma.anon_vma.root
    if folio.refcount > 1 + (1 if folio.swapcache else 0):
        return False
    if folio.swapcache:
        from faultlang.kernel.mm.swapfile import folio_free_swap
        folio_free_swap(vma.vm_mm.system, folio)
    if folio.refcount != 1:
        return False
    folio_move_anon_rmap(folio, vma)
    return True


@kfunc(MEMORY_C)
def wp_page_reuse(vmf: VmFault, folio: Optional[Folio]) -> int:
    """wp_page_reuse - make the same PTE young, dirty and writable (PGREUSE)."""
    vmf.pte_table[vmf.pte_index] = vmf.orig_pte | pt._PAGE_ACCESSED | pt._PAGE_DIRTY | (
        pt._PAGE_RW if vmf.vma.vm_flags & VM_WRITE else 0)
    vmf.vma.vm_mm.system.vmstat.pgreuse += 1
    return 0


@kfunc(MEMORY_C)
def wp_page_copy(vmf: VmFault, old_folio: Optional[Folio]) -> int:
    """wp_page_copy - break COW: a new private page, a copy of the old one (or zeroed
    when the old one is the zero page), mapped writable in place of the old PTE."""
    vma = vmf.vma
    mm = vma.vm_mm
    phys = mm.system.phys
    ret = vmf_anon_prepare(vmf)
    if ret:
        return ret
    old_pfn = (vmf.orig_pte & pt.PFN_MASK) >> 12
    node = mm.owner.numa_node if mm.owner is not None else 0
    if old_folio is not None:
        old_folio.refcount += 1           # the fault's reference: reclaim must not take it
    new = alloc_pages(phys, 0, node, is_zero_pfn(mm, old_pfn))
    if old_folio is not None:
        old_folio.refcount -= 1
    if new is None:
        return VM_FAULT_OOM
    if not is_zero_pfn(mm, old_pfn):
        phys.mem[new.pfn] = phys.mem[old_pfn]
    if old_folio is not None:
        if not old_folio.anon:
            mm.rss_stat[MM_SHMEMPAGES if getattr(old_folio.mapping, "shmem", False)
                        else MM_FILEPAGES] -= 1
            mm.rss_stat[MM_ANONPAGES] += 1
    else:
        mm.rss_stat[MM_ANONPAGES] += 1
    entry = (new.pfn << 12) | vma.vm_page_prot | pt._PAGE_ACCESSED | pt._PAGE_DIRTY
    if vma.vm_flags & VM_WRITE:
        entry |= pt._PAGE_RW
    entry |= vmf.orig_pte & pt._PAGE_SOFT_DIRTY
    folio_add_new_anon_rmap(new, vma, vmf.address)
    new.lru = True
    vmf.pte_table[vmf.pte_index] = entry
    if old_folio is not None:
        folio_remove_rmap_ptes(old_folio)
        folio_put(phys, old_folio)
    return 0


# --- non-present PTEs -------------------------------------------------------------------


@kfunc(MEMORY_C)
def do_swap_page(vmf: VmFault) -> int:
    """do_swap_page - a non-present PTE: a swap entry, a migration entry, or a marker
    (uffd-wp, guard, poison)."""
    pte = vmf.orig_pte
    if pt.is_migration_entry(pte):
        from faultlang.kernel.mm.migrate import migration_entry_wait
        migration_entry_wait(vmf)
        return 0
    if pt.is_pte_marker(pte):
        return handle_pte_marker(vmf)
    if pt.is_swap_pte(pte):
        from faultlang.kernel.mm.swap_state import do_swap_page_entry
        return do_swap_page_entry(vmf)
    why("an entry faultlang does not know: print_bad_pte")
    return VM_FAULT_SIGBUS


@kfunc(MEMORY_C)
def handle_pte_marker(vmf: VmFault) -> int:
    """handle_pte_marker - poisoned → HWPOISON; guard → SIGSEGV; uffd-wp → like a none PTE."""
    kind = pt.pte_marker_kind(vmf.orig_pte)
    if kind & pt.PTE_MARKER_POISONED:
        why("poisoned marker")
        return 0x10                       # VM_FAULT_HWPOISON
    if kind & pt.PTE_MARKER_GUARD:
        why("guard marker")
        return VM_FAULT_SIGSEGV
    vma = vmf.vma
    if vma.uffd is not None and vma.uffd.wp:
        why("uffd-wp marker on a registered VMA: handle as a missing page")
        return do_pte_missing(vmf)
    vmf.pte_table[vmf.pte_index] = 0
    why("stale uffd-wp marker: cleared")
    return 0


# --- tearing down and copying page tables -------------------------------------------


def zap_pte(mm: MmStruct, table: list, i: int) -> None:
    """Drop one PTE: unmap its page (or free its swap slot) and fix the RSS counters."""
    pte = table[i]
    table[i] = 0
    if not pte:
        return
    system = mm.system
    if pte & (pt._PAGE_PRESENT | pt._PAGE_PROTNONE):
        if pte & pt._PAGE_SPECIAL:
            return
        folio = system.phys.page_folio((pte & pt.PFN_MASK) >> 12)
        if folio is None:
            return
        if folio.anon:
            mm.rss_stat[MM_ANONPAGES] -= 1
        elif getattr(folio.mapping, "shmem", False):
            mm.rss_stat[MM_SHMEMPAGES] -= 1
        else:
            mm.rss_stat[MM_FILEPAGES] -= 1
        if pte & pt._PAGE_DIRTY and not folio.anon:
            folio.dirty = True
        folio_remove_rmap_ptes(folio)
        if folio.swapcache and not folio.mapcount:
            # free_swap_cache(): the last unmap lets go of an unneeded swap-cache copy
            from faultlang.kernel.mm.swapfile import folio_free_swap
            folio_free_swap(system, folio)
        folio_put(system.phys, folio)
    elif pt.is_swap_pte(pte):
        from faultlang.kernel.mm.swapfile import free_swap_and_cache
        mm.rss_stat[MM_SWAPENTS] -= 1
        free_swap_and_cache(system, pte)
    elif pt.is_migration_entry(pte):
        # zap_nonpresent_ptes: a migration entry counts as its page (rss, not the rmap:
        # try_to_migrate already dropped that); the migration puts no PTE back here
        folio = system.phys.page_folio(pt.swp_offset(pte))
        if folio is not None:
            mm.rss_stat[MM_ANONPAGES if folio.anon else MM_SHMEMPAGES
                        if getattr(folio.mapping, "shmem", False) else MM_FILEPAGES] -= 1


@kfunc(MEMORY_C, fault_bits=False)
def zap_page_range_single(vma: Vma, start: int, end: int, drop_markers: bool = False) -> int:
    """zap_page_range_single - unmap [start, end) of one VMA (MADV_DONTNEED, truncate;
    munmap and exit pass drop_markers, ZAP_FLAG_DROP_MARKER). Without it, a file or
    shmem VMA keeps its uffd-wp markers, and a uffd-wp protected PTE becomes one
    (zap_install_uffd_wp_if_needed), so write protection outlives the page; guard
    markers stay too. Returns the number of entries that were zapped."""
    if vma.vm_flags & 0x400000:              # VM_HUGETLB: unmap_single_vma's hugetlb case
        from faultlang.kernel.mm.hugetlb import unmap_hugepage_range
        return unmap_hugepage_range(vma, start, end)
    mm = vma.vm_mm
    from faultlang.kernel.mm.huge_memory import zap_huge_pmds
    count = zap_huge_pmds(vma, start, end)
    keep = not drop_markers
    for table, i, _ in walk_pte_slots(mm, start, end):
        pte = table[i]
        if pte:
            if keep and pt.is_pte_marker(pte):            # zap_nonpresent_ptes
                kind = pt.pte_marker_kind(pte)
                if kind & pt.PTE_MARKER_GUARD or \
                        kind & pt.PTE_MARKER_UFFD_WP and not vma_is_anonymous(vma):
                    continue
            zap_pte(mm, table, i)
            count += 1
            if keep:
                pte_install_uffd_wp_if_needed(vma, table, i, pte)
    return count


def pte_install_uffd_wp_if_needed(vma: Vma, table: list, i: int, pteval: int) -> bool:
    """pte_install_uffd_wp_if_needed(): a just-cleared PTE of a uffd-wp registered file
    or shmem VMA that was write-protected (present with uffd-wp, or a swap entry with
    it) becomes a PTE_MARKER_UFFD_WP. Anonymous memory drops the protection with the
    page."""
    if vma_is_anonymous(vma) or vma.uffd is None or not vma.uffd.wp:
        return False
    if pteval & pt._PAGE_PRESENT and pteval & pt._PAGE_UFFD_WP or \
            pt.is_swap_pte(pteval) and pteval & pt._PAGE_UFFD_WP:
        table[i] = pt.make_pte_marker(pt.PTE_MARKER_UFFD_WP)
        return True
    return False


def free_pgtables(mm: MmStruct, start: int, end: int) -> None:
    """free_pgtables(): free PTE tables under [start, end) that no VMA uses any more."""
    seen = set()
    for table, _, addr in walk_pte_slots(mm, start, end):
        base = addr & ~0x1FFFFF
        if base in seen:
            continue
        seen.add(base)
        if any(table):
            continue
        vma = mm.find_vma(base)
        if vma is None or vma.vm_start >= base + 0x200000:
            pmd_table_of(mm, base, False)[(base >> 21) & 511] = None


@kfunc(MEMORY_C, fault_bits=False)
def copy_page_range(dst_vma: Vma, src_vma: Vma) -> int:
    """copy_page_range - fork: copy a VMA's PTEs into the child, sharing the pages.

    Private writable (COW) mappings are write-protected in both parent and child, so
    the first write on either side faults; anonymous pages lose PageAnonExclusive
    (a page that may be DMA-pinned is copied for the child instead); swap entries are
    duplicated; every copied PTE is made old. Returns the number of entries copied.
    """
    if src_vma.vm_flags & 0x400000:          # VM_HUGETLB
        from faultlang.kernel.mm.hugetlb import copy_hugetlb_page_range
        return copy_hugetlb_page_range(dst_vma, src_vma)
    src_mm, dst_mm = src_vma.vm_mm, dst_vma.vm_mm
    system = src_mm.system
    cow = is_cow_mapping(src_vma.vm_flags)
    copied = 0
    addr = src_vma.vm_start
    while addr < src_vma.vm_end:
        stop = min(src_vma.vm_end, (addr | 0x1FFFFF) + 1)
        src_pmd = pmd_table_of(src_mm, addr, False)
        entry = None if src_pmd is None else src_pmd[(addr >> 21) & 511]
        if type(entry) is int:
            from faultlang.kernel.mm.huge_memory import copy_huge_pmd
            copied += copy_huge_pmd(dst_vma, src_vma, addr)
            addr = stop
            continue
        if entry is None or not any(entry[(addr >> 12) & 511:((stop - 1) >> 12 & 511) + 1]):
            addr = stop
            continue
        dst_pmd = pmd_table_of(dst_mm, addr, True)
        j = (addr >> 21) & 511
        if dst_pmd[j] is None:
            dst_pmd[j] = [0] * 512
        dst = dst_pmd[j]
        while addr < stop:
            i = (addr >> 12) & 511
            pte = entry[i]
            if pte:
                dst[i] = copy_one_pte(system, dst_vma, src_vma, entry, i, pte, cow)
                copied += 1
            addr += 4096
    return copied


def copy_one_pte(system, dst_vma: Vma, src_vma: Vma, src_table: list, i: int, pte: int,
                 cow: bool) -> int:
    """copy_present_pte / copy_nonpresent_pte for one entry; returns the child's PTE."""
    dst_mm = dst_vma.vm_mm
    if not pte & (pt._PAGE_PRESENT | pt._PAGE_PROTNONE):
        if pt.is_swap_pte(pte):
            from faultlang.kernel.mm.swapfile import swap_duplicate
            swap_duplicate(system, pte)
            dst_mm.rss_stat[MM_SWAPENTS] += 1
            src_table[i] = pte & ~pt._PAGE_SWP_EXCLUSIVE
            return pte & ~pt._PAGE_SWP_EXCLUSIVE
        return pte if dst_vma.uffd is not None and dst_vma.uffd.wp else 0
    folio = None if pte & pt._PAGE_SPECIAL else system.phys.page_folio((pte & pt.PFN_MASK) >> 12)
    if folio is not None:
        page = ((pte & pt.PFN_MASK) >> 12) - folio.pfn
        if folio.anon:
            from faultlang.kernel.mm.rmap import folio_try_dup_anon_rmap_pte
            if not folio_try_dup_anon_rmap_pte(folio, page):
                return copy_present_page(system, dst_vma, pte)
            dst_mm.rss_stat[MM_ANONPAGES] += 1
        else:
            folio.mapcount += 1
            dst_mm.rss_stat[MM_SHMEMPAGES if getattr(folio.mapping, "shmem", False)
                            else MM_FILEPAGES] += 1
        folio.refcount += 1
    if cow and pte & pt._PAGE_RW:
        pte &= ~pt._PAGE_RW
        src_table[i] = pte
    if src_vma.vm_flags & VM_SHARED:
        pte &= ~pt._PAGE_DIRTY
    if not (dst_vma.uffd is not None and dst_vma.uffd.wp):
        pte &= ~pt._PAGE_UFFD_WP
    return pte & ~pt._PAGE_ACCESSED


def copy_present_page(system, dst_vma: Vma, pte: int) -> int:
    """copy_present_page(): the parent's page may be pinned, so the child gets a copy now."""
    new = alloc_pages(system.phys, 0)
    if new is None:
        return 0
    system.phys.mem[new.pfn] = system.phys.mem[(pte & pt.PFN_MASK) >> 12]
    folio_add_new_anon_rmap(new, dst_vma, dst_vma.vm_start)
    dst_vma.vm_mm.rss_stat[MM_ANONPAGES] += 1
    return (new.pfn << 12) | (pte & ~pt.PFN_MASK)


def fault_result_is_error(ret: int) -> bool:
    return bool(ret & VM_FAULT_ERROR)


__all__ = [
    "handle_mm_fault", "handle_pte_fault", "do_pte_missing", "do_anonymous_page",
    "do_wp_page", "wp_page_reuse", "wp_page_copy", "do_swap_page", "mm_account_fault",
    "vm_get_page_prot", "pmd_table_of", "lookup_pte", "FAULT_FLAG_INSTRUCTION",
    "VM_FAULT_NOPAGE",
]


# do_fault and the file-fault handlers live in memory_file.py, which imports this module:
# bound last, so that either module may be imported first (an import inside
# do_pte_missing would cost more than the rest of the function, on every file fault).
from faultlang.kernel.mm import memory_file  # noqa: E402
