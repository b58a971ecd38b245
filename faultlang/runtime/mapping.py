"""`map NAME KIND ...`: from the statement to do_mmap and the options after it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faultlang.errors import ScenarioError
from faultlang.kernel.fs import hugetlbfs
from faultlang.kernel.include.linux.sched import Task
from faultlang.kernel.mm import filemap, gup, hugetlb, madvise, memory_file, mmap, shmem
from faultlang.lang import ast

if TYPE_CHECKING:
    from faultlang.runtime.machine import Machine

PMD_SIZE = 2 << 20
VM_GROWSDOWN = 0x100
VM_LOCKED = 0x2000
VM_NORESERVE = 0x200000
VM_PFNMAP, VM_IO, VM_DONTEXPAND, VM_DONTDUMP = 0x400, 0x4000, 0x40000, 0x4000000
_OPTION_FLAGS = {"growsdown": VM_GROWSDOWN, "locked": VM_LOCKED, "noreserve": VM_NORESERVE}


def create_mapping(machine: "Machine", stmt: ast.Map, task: Task) -> list[str]:
    if stmt.name in machine.mappings:
        raise ScenarioError(f"a mapping named '{stmt.name}' already exists",
                            "give each mapping its own name", stmt.span)
    prot = stmt.prot or "rw-"
    shared = stmt.shared if stmt.shared is not None else stmt.kind == "shmem"
    extra = 0
    for option in stmt.options:
        extra |= _OPTION_FLAGS.get(option, 0)
    # Anonymous mmap of a multiple of 2 MiB gets a 2 MiB-aligned address
    # (thp_get_unmapped_area_vmflags in __get_unmapped_area).
    align = PMD_SIZE if stmt.kind == "anon" and not shared and stmt.size % PMD_SIZE == 0 else 4096
    if stmt.kind not in ("anon", "file", "shmem", "device", "hugetlb"):
        raise ScenarioError(f"'{stmt.kind}' mappings are not simulated yet",
                            "use an anon, file, shmem or device mapping for now", stmt.span)
    machine.system.current = task
    vm_ops = vm_file = None
    kind = stmt.kind
    pgoff = 0
    if stmt.kind == "file":
        vm_file = machine.system.files.get(stmt.file)
        if vm_file is None:
            raise ScenarioError(f"there is no file '{stmt.file}'",
                                f"declare it first, e.g. file {stmt.file} size 64K", stmt.span)
        vm_ops = shmem.shmem_vm_ops if vm_file.shmem else filemap.generic_file_vm_ops
        if getattr(vm_file, "dax", None) is not None:
            from faultlang.kernel.fs.ext4 import ext4_dax_vm_ops
            vm_ops = ext4_dax_vm_ops
        pgoff = stmt.offset >> 12
        if hugetlbfs.is_file_hugepages(vm_file):
            # a hugetlbfs file: hugetlb_get_unmapped_area checks the length and address
            # below; its mmap_prepare checks the offset and reserves the pool pages.
            kind = "hugetlb"
            vm_ops = hugetlb.hugetlb_vm_ops
            extra |= hugetlb.VM_HUGETLB | VM_DONTEXPAND
            align = PMD_SIZE
        elif not vm_file.shmem and stmt.size >= PMD_SIZE and stmt.offset % PMD_SIZE == 0:
            # thp_get_unmapped_area: a disk file mapping of 2 MiB or more is 2 MiB
            # aligned when its file offset is; shmem_get_unmapped_area only with huge pages.
            align = PMD_SIZE
    elif stmt.kind == "shmem" or (stmt.kind == "anon" and shared):
        # MAP_SHARED|MAP_ANONYMOUS: shmem_zero_setup; a private `shmem` mapping is a
        # MAP_PRIVATE mapping of a fresh tmpfs object.
        kind = "shmem"
        vm_file = shmem.shmem_zero_setup(machine.system, stmt.name, stmt.size)
        vm_ops = shmem.shmem_anon_vm_ops if shared else shmem.shmem_vm_ops
    elif stmt.kind == "device":
        shared = True
        vm_ops = filemap.device_vm_ops
        extra |= VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP
    elif stmt.kind == "hugetlb":
        # MAP_HUGETLB: an anonymous hugetlbfs file, placed on a 2 MiB boundary
        # (hugetlb_get_unmapped_area); the pool reservation happens in do_mmap.
        vm_ops = hugetlb.hugetlb_vm_ops
        vm_file = hugetlb.HugetlbFile(machine.system, stmt.name, stmt.size, anonymous=True)
        extra |= hugetlb.VM_HUGETLB | VM_DONTEXPAND
        align = PMD_SIZE
    try:
        if kind == "hugetlb" and stmt.kind == "file":
            hugetlbfs.hugetlb_get_unmapped_area(vm_file, stmt.at, stmt.size)
        vma = mmap.do_mmap(task.mm, stmt.at, stmt.size, prot, shared, name=stmt.name,
                           kind=kind, extra_flags=extra, align=align, vm_ops=vm_ops,
                           vm_file=vm_file, pgoff=pgoff)
    except mmap.MmapError as err:
        return [f"mmap failed: {err.errno} ({err.reason})"]
    if stmt.kind == "device":
        mapped = stmt.size if stmt.mapped is None else min(stmt.mapped, stmt.size)
        memory_file.remap_pfn_range(vma, vma.vm_start, mapped)
    if extra & VM_LOCKED:
        task.mm.locked_vm += stmt.size >> 12
    from faultlang.runtime.machine import Mapping
    machine.mappings[stmt.name] = Mapping(stmt.name, vma.vm_start, stmt.size, stmt.kind, task.comm)
    notes = [f"{stmt.name}: {vma.vm_start:#x}-{vma.vm_end:#x} ({stmt.size >> 12} pages, "
             f"{stmt.kind}{' ' + stmt.file if stmt.file else ''} {'shared' if shared else 'private'} {prot})"]
    for option in stmt.options:
        if option in _OPTION_FLAGS and option != "locked":
            continue
        if option in ("populate", "locked"):
            machine.charge(stmt.size >> 12, stmt)
            got = gup.mm_populate(task.mm, vma.vm_start, stmt.size)
            notes.append(f"{'MAP_LOCKED' if option == 'locked' else 'MAP_POPULATE'}: "
                         f"{got} pages populated")
        else:
            try:
                note = madvise.do_madvise(task.mm, vma.vm_start, stmt.size, option)
            except mmap.MmapError as err:
                note = f"madvise {option} failed: {err.errno} ({err.reason})"
            if note:
                notes.append(f"madvise {option}: {note}")
    return notes
