"""The fault engine. File map: kernel/P.py mirrors linux/P.c, include/linux/X.py mirrors X.h; trace, system, settings are ours.

Modelled on Linux 6.18 (x86-64, 4 KiB pages), with a `kernel 6.12` profile where the two
differ. Function names are the kernel's; handlers return VM_FAULT_* bit values; every
fault is counted in one place, mm/memory.py mm_account_fault(). This package never
imports rich, prompt_toolkit or faultlang.lang.
"""
