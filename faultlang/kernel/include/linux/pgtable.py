"""Mirrors include/linux/pgtable.h and arch/x86/include/asm/pgtable_types.h: entries and bits.

A page table is a Python list of 512 entries. Upper levels (PGD, P4D, PUD, PMD) hold None
(the entry is none) or the next table (a list); a PMD entry may instead hold an int with
_PAGE_PSE set (a 2 MiB huge page). A PTE table holds ints; 0 is pte_none.

x86-64 PTE, as the MMU reads it:

    63  62..52  51 ........................ 12 11  10  9   8   7   6   5   4   3   2   1   0
    NX  (sw)    page frame number (PFN)       SD  UW  SP  G   PS  D   A   PCD PWT U   RW  P

    P present, RW writable, U user, A accessed, D dirty, PS huge (in a PMD), G global
    (reused as PROTNONE when P is clear), SP "special" (no struct page: the zero page),
    UW uffd-wp, SD soft-dirty, NX no-execute.

A non-present, non-zero PTE is a swap entry or marker:

    63  57..52  51 ................ 12 11  10  9 .. 4   3   2   1   0
    0   type    swap offset           SD  UW  0       EX  MK  0   0      (P and G clear)

    EX the swap entry is exclusive to this mm, MK a PTE marker (uffd-wp, guard, poison)
    rather than a swap slot, type the swap device (or the marker kind).

A migration entry (include/linux/swapops.h) is such an entry whose type is one of the
SWP_MIGRATION_* numbers above every swap device, and whose offset is the PFN of the
folio being migrated; bits 5 and 6 keep the old PTE's young and dirty bits (x86 keeps
them in the offset's high bits: SWP_MIG_YOUNG_BIT, SWP_MIG_DIRTY_BIT).
"""

from __future__ import annotations

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1)
PTRS_PER_TABLE = 512
PMD_SHIFT = 21
PMD_SIZE = 1 << PMD_SHIFT
PMD_MASK = ~(PMD_SIZE - 1)
HPAGE_PMD_NR = PMD_SIZE // PAGE_SIZE
PUD_SHIFT = 30

_PAGE_PRESENT = 1 << 0
_PAGE_RW = 1 << 1
_PAGE_USER = 1 << 2
_PAGE_PWT = 1 << 3
_PAGE_PCD = 1 << 4
_PAGE_ACCESSED = 1 << 5
_PAGE_DIRTY = 1 << 6
_PAGE_PSE = 1 << 7
_PAGE_GLOBAL = 1 << 8
_PAGE_PROTNONE = _PAGE_GLOBAL
_PAGE_SPECIAL = 1 << 9
_PAGE_UFFD_WP = 1 << 10
_PAGE_SOFT_DIRTY = 1 << 11
_PAGE_DEVMAP = 1 << 58          # a ZONE_DEVICE pfn (6.12 DAX mappings; gone in 6.17)
_PAGE_NX = 1 << 63

_PAGE_SWP_MARKER = 1 << 2
_PAGE_SWP_EXCLUSIVE = 1 << 3
SWP_TYPE_SHIFT = 52
SWP_TYPE_MASK = 0x3F
PFN_MASK = ((1 << 52) - 1) & PAGE_MASK
# the swap types of migration entries: readable, readable and PageAnonExclusive, writable
SWP_MIGRATION_READ = 60
SWP_MIGRATION_READ_EXCLUSIVE = 61
SWP_MIGRATION_WRITE = 62
_PAGE_SWP_MIG_YOUNG = 1 << 5
_PAGE_SWP_MIG_DIRTY = 1 << 6

PTE_FLAG_NAMES = (
    (_PAGE_PRESENT, "present"), (_PAGE_RW, "rw"), (_PAGE_USER, "user"),
    (_PAGE_ACCESSED, "accessed"), (_PAGE_DIRTY, "dirty"), (_PAGE_PSE, "huge"),
    (_PAGE_SPECIAL, "special"), (_PAGE_UFFD_WP, "uffd-wp"),
    (_PAGE_SOFT_DIRTY, "soft-dirty"), (_PAGE_DEVMAP, "devmap"), (_PAGE_NX, "nx"),
)

# PTE markers (include/linux/swapops.h): kinds kept in the swap-type field.
PTE_MARKER_UFFD_WP = 1
PTE_MARKER_POISONED = 2
PTE_MARKER_GUARD = 4


def pfn_pte(pfn: int, prot: int) -> int:
    return (pfn << PAGE_SHIFT) | prot


def pte_pfn(pte: int) -> int:
    return (pte & PFN_MASK) >> PAGE_SHIFT


def pte_none(pte: int) -> bool:
    return pte == 0


def pte_present(pte: int) -> bool:
    return bool(pte & (_PAGE_PRESENT | _PAGE_PROTNONE))


def pte_protnone(pte: int) -> bool:
    return (pte & (_PAGE_PRESENT | _PAGE_PROTNONE)) == _PAGE_PROTNONE


def pte_write(pte: int) -> bool:
    return bool(pte & _PAGE_RW)


def pte_dirty(pte: int) -> bool:
    return bool(pte & _PAGE_DIRTY)


def pte_young(pte: int) -> bool:
    return bool(pte & _PAGE_ACCESSED)


def pte_special(pte: int) -> bool:
    return bool(pte & _PAGE_SPECIAL)


def pte_wrprotect(pte: int) -> int:
    return pte & ~_PAGE_RW


def pte_mkwrite(pte: int) -> int:
    return pte | _PAGE_RW


def pte_mkold(pte: int) -> int:
    return pte & ~_PAGE_ACCESSED


def pte_mkclean(pte: int) -> int:
    return pte & ~_PAGE_DIRTY


def swp_entry_pte(swp_type: int, offset: int, exclusive: bool = False) -> int:
    """A swap PTE for slot `offset` of swap device `swp_type`."""
    pte = (offset << PAGE_SHIFT) | (swp_type << SWP_TYPE_SHIFT)
    return pte | _PAGE_SWP_EXCLUSIVE if exclusive else pte


def is_swap_pte(pte: int) -> bool:
    """A swap slot (not a marker, not a migration entry: is_swap_pte && !non_swap_entry)."""
    return pte != 0 and not pte & _PAGE_PRESENT and not pte & _PAGE_PROTNONE \
        and not pte & _PAGE_SWP_MARKER and (pte >> SWP_TYPE_SHIFT) & SWP_TYPE_MASK < SWP_MIGRATION_READ


def make_migration_entry(kind: int, pfn: int) -> int:
    """make_{readable,readable_exclusive,writable}_migration_entry(pfn) as a PTE."""
    return (pfn << PAGE_SHIFT) | (kind << SWP_TYPE_SHIFT)


def is_migration_entry(pte: int) -> bool:
    return pte != 0 and not pte & (_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_SWP_MARKER) \
        and SWP_MIGRATION_READ <= (pte >> SWP_TYPE_SHIFT) & SWP_TYPE_MASK <= SWP_MIGRATION_WRITE


def swp_type(pte: int) -> int:
    return (pte >> SWP_TYPE_SHIFT) & SWP_TYPE_MASK


def swp_offset(pte: int) -> int:
    return (pte & PFN_MASK) >> PAGE_SHIFT


def make_pte_marker(kind: int) -> int:
    return _PAGE_SWP_MARKER | (kind << SWP_TYPE_SHIFT)


def is_pte_marker(pte: int) -> bool:
    return pte != 0 and not pte & (_PAGE_PRESENT | _PAGE_PROTNONE) and bool(pte & _PAGE_SWP_MARKER)


def pte_marker_kind(pte: int) -> int:
    return (pte >> SWP_TYPE_SHIFT) & SWP_TYPE_MASK


def pte_flag_names(pte: int) -> tuple[str, ...]:
    return tuple(name for bit, name in PTE_FLAG_NAMES if pte & bit)
