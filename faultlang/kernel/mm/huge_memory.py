"""Mirrors mm/huge_memory.c: when a transparent huge page may be used at fault time.

Only the rules are here so far: __thp_vma_allowable_orders and thp_vma_suitable_order.
The PMD-level THP fault paths (do_huge_pmd_anonymous_page, do_huge_pmd_wp_page) come
with the huge-pages work; until then `faultlang check` refuses the statements that
would enable THP (`set thp always`, `madvise hugepage`, `set mthp`).
"""

from __future__ import annotations

from faultlang.kernel.include.linux.mm_types import Vma, VmFault, vma_is_anonymous
from faultlang.kernel.include.linux.pgtable import PMD_SIZE

VM_HUGEPAGE = 0x20000000
VM_NOHUGEPAGE = 0x40000000
VM_PFNMAP_MIXED = 0x400 | 0x10000000
PMD_ORDER = 9


def thp_vma_suitable_order(vma: Vma, address: int, order: int) -> bool:
    """The naturally aligned 2^order block around `address` lies wholly inside the VMA."""
    size = 4096 << order
    start = address & ~(size - 1)
    if start < vma.vm_start or start + size > vma.vm_end:
        return False
    if not vma_is_anonymous(vma):
        return ((vma.vm_start >> 12) - vma.vm_pgoff) % (1 << order) == 0
    return True


def thp_mode_allows(vma: Vma, mode: str) -> bool:
    """The sysfs `enabled` policy: always → any VMA; madvise → VM_HUGEPAGE only."""
    if vma.vm_flags & VM_NOHUGEPAGE or vma.vm_flags & VM_PFNMAP_MIXED:
        return False
    return mode == "always" or (mode == "madvise" and bool(vma.vm_flags & VM_HUGEPAGE))


def thp_vma_allowable_pmd(vma: Vma, address: int) -> bool:
    """thp_vma_allowable_order(vma, vm_flags, TVA_PAGEFAULT, PMD_ORDER) for anonymous VMAs."""
    if not vma_is_anonymous(vma) or vma.uffd is not None and vma.uffd.any_mode:
        return False
    system = vma.vm_mm.system
    return thp_mode_allows(vma, system.settings.thp) and \
        thp_vma_suitable_order(vma, address, PMD_ORDER) and PMD_SIZE > 0


def anon_mthp_orders(vmf: VmFault) -> list[int]:
    """The enabled anonymous mTHP orders to try, highest first (empty when mTHP is off)."""
    return []


def split_huge_pmd_address(vma: Vma, address: int) -> None:
    """split_huge_pmd_address(): a VMA boundary moved to `address`; a huge PMD that
    straddles it must become 512 PTEs. No huge PMD can exist before THP faults land."""
    from faultlang.kernel.mm.memory import pmd_table_of
    pmd = pmd_table_of(vma.vm_mm, address, False)
    if pmd is not None and type(pmd[(address >> 21) & 511]) is int and address & 0x1FFFFF:
        from faultlang.errors import SimulatorBug
        raise SimulatorBug("a huge PMD exists but PMD splitting is not part of this engine yet")
