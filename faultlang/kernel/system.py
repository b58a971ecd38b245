"""The kernel's global state, gathered in one object so several machines can coexist.

Not a kernel file. Linux keeps these in global variables spread over many files
(mem_map, zero_pfn, vm_event_states, the task list, the sysctls, `current`); faultlang
gives each simulated machine its own System so tests and the REPL's undo can hold many.
"""

from __future__ import annotations

from typing import Any, Optional

from faultlang.kernel.include.linux.mm_types import MmStruct
from faultlang.kernel.include.linux.sched import Task
from faultlang.kernel.mm.page_alloc import ZERO_PFN, PhysMem
from faultlang.kernel.mm.vmstat import VmEvents
from faultlang.kernel.settings import Settings

STACK_GUARD_GAP = 256 << 12        # stack_guard_gap: 256 pages
RLIMIT_STACK = 8 << 20             # the default `ulimit -s`: 8 MiB
TASK_SIZE_4LEVEL = (1 << 47) - 4096
TASK_SIZE_5LEVEL = (1 << 56) - 4096


class System:
    def __init__(self, settings: Optional[Settings] = None):
        self.settings = settings or Settings()
        s = self.settings
        self.phys = PhysMem(s.ram >> 12, s.numa_nodes)
        self.zero_pfn = ZERO_PFN
        self.vmstat = VmEvents()
        self.tasks: dict[int, Task] = {}
        self.next_pid = 1
        self.current: Optional[Task] = None
        self.task_size = TASK_SIZE_5LEVEL if s.levels == 5 else TASK_SIZE_4LEVEL
        self.files: dict[str, Any] = {}      # address spaces of simulated files
        self.swap: Any = None                # swap devices (mm/swapfile.c), when configured
        self.lru: Any = None                 # the LRU lists (mm/vmscan.c), once reclaim runs
        self.phys.system = self              # direct reclaim starts from the allocator
        self.policy: Any = None              # `set policy fifo|lru|clock|opt` (mm/textbook.py)
        if s.policy != "linux":
            from faultlang.kernel.mm.textbook import Policy
            self.policy = self.phys.policy = Policy(s.policy)
        if s.swap:
            from faultlang.kernel.mm.swapfile import create_swap_device
            self.swap = create_swap_device(self)
        self.gup_faults: list = []           # faults made by GUP since the runtime last looked
        self.pmem: Any = None                # the DAX device, once a DAX file exists (fs/dax.py)
        from faultlang.kernel.mm.hugetlb import hugetlb_init
        self.hstate: Any = hugetlb_init(self)   # the hugetlb pool (`set hugepages N`)

    def new_mm(self) -> MmStruct:
        return MmStruct(self, self.settings.levels)

    def new_task(self, comm: str, mm: MmStruct, parent: Optional[Task] = None) -> Task:
        task = Task(self.next_pid, comm, mm, parent)
        self.next_pid += 1
        mm.owner = task
        self.tasks[task.pid] = task
        return task
