"""Mirrors mm/mprotect.c: changing a range's protections without faulting.

mprotect_fixup splits the VMAs at the range's edges and sets their new flags;
change_pte_range rewrites the present PTEs, and — where it is safe
(can_change_pte_writable) — makes them writable at once, so a write after an
R → RW round trip does not fault.
"""

from __future__ import annotations

from faultlang.kernel.include.linux import pgtable as pt
from faultlang.kernel.include.linux.mm_types import VM_SHARED, VM_WRITE, MmStruct, Vma, PageAnonExclusive
from faultlang.kernel.mm.memory import vm_normal_folio, walk_pte_slots
from faultlang.kernel.mm.mmap import check_range_mapped, mapped_prefix_end, isolate_range, merge_vmas, vma_set_prot
from faultlang.kernel.trace import kfunc

# The bits mprotect rewrites; the PFN, accessed, dirty, special and soft bits stay.
_PROT_BITS = pt._PAGE_PRESENT | pt._PAGE_PROTNONE | pt._PAGE_RW | pt._PAGE_USER | pt._PAGE_NX


@kfunc("mm/mprotect.c", fault_bits=False)
def do_mprotect_pkey(mm: MmStruct, start: int, length: int, prot: str) -> int:
    """do_mprotect_pkey - mprotect(2). ENOMEM when part of the range is unmapped.
    Returns the number of PTEs rewritten."""
    end = start + length
    stop = mapped_prefix_end(mm, start, end)
    changed = 0
    if stop > start:
        for vma in isolate_range(mm, start, stop):
            vma_set_prot(vma, prot)
            changed += change_pte_range(vma)
        merge_vmas(mm, start, stop)
    check_range_mapped(mm, start, end)
    return changed


def can_change_pte_writable(vma: Vma, pte: int) -> bool:
    """can_change_pte_writable(): private → an exclusive anonymous page; shared → a
    PTE that is already dirty (write-notify has been satisfied)."""
    if not vma.vm_flags & VM_SHARED:
        folio = vm_normal_folio(vma.vm_mm, pte)
        if folio is None or not folio.anon:
            return False
        return PageAnonExclusive(folio, ((pte & pt.PFN_MASK) >> 12) - folio.pfn)
    return bool(pte & pt._PAGE_DIRTY)


@kfunc("mm/mprotect.c", fault_bits=False)
def change_pte_range(vma: Vma) -> int:
    """change_pte_range - apply vm_page_prot to every present PTE of the VMA."""
    mm = vma.vm_mm
    newprot = vma.vm_page_prot
    try_writable = bool(vma.vm_flags & VM_WRITE)
    from faultlang.kernel.mm.huge_memory import change_huge_pmd
    changed = change_huge_pmd(vma, vma.vm_start, vma.vm_end)
    for table, i, _ in walk_pte_slots(mm, vma.vm_start, vma.vm_end):
        pte = table[i]
        if pte & (pt._PAGE_PRESENT | pt._PAGE_PROTNONE):
            new = (pte & ~_PROT_BITS) | (newprot & _PROT_BITS)
            if pte & pt._PAGE_SPECIAL:
                new &= ~pt._PAGE_RW
            elif try_writable and new & pt._PAGE_PRESENT and can_change_pte_writable(vma, new):
                new |= pt._PAGE_RW
            if new != pte:
                table[i] = new
                changed += 1
    return changed
