"""What this machine's userfaultfd(2) offers the generated program (cgen.UffdHost).

The program runs as the user running verify, so opening a userfaultfd here and asking
UFFDIO_API for its features (features 0: the kernel answers with every feature it
supports) says what the program will be able to register.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct

from faultlang.verify.cgen import UffdHost

__all__ = ["FEATURE_BITS", "probe"]

SYS_USERFAULTFD = 323                      # x86-64, the only machine verify runs on
UFFD_API = 0xAA
UFFDIO_API = (3 << 30) | (24 << 16) | (0xAA << 8) | 0x3F     # _IOWR(0xAA, 0x3F, 24 bytes)
# UFFD_FEATURE_* (include/uapi/linux/userfaultfd.h), by bit, in the language's names
FEATURE_BITS = ("pagefault_flag_wp", "event_fork", "event_remap", "event_remove",
                "missing_hugetlbfs", "missing_shmem", "event_unmap", "sigbus", "thread_id",
                "minor_hugetlbfs", "minor_shmem", "exact_address", "wp_hugetlbfs_shmem",
                "wp_unpopulated", "poison", "wp_async", "move")


def _why(err: int) -> str:
    if err == errno.EPERM:
        return ("userfaultfd(2) is not permitted here (EPERM): run verify as root, or set "
                "vm.unprivileged_userfaultfd=1")
    if err == errno.ENOSYS:
        return "this kernel has no userfaultfd(2) (ENOSYS)"
    return f"userfaultfd(2) fails here ({errno.errorcode.get(err, err)})"


def probe() -> UffdHost:
    """Open a userfaultfd, read its UFFDIO_API features, close it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return UffdHost(frozenset(), "the C library cannot be loaded to try userfaultfd(2)")
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(ctypes.c_long(SYS_USERFAULTFD), ctypes.c_long(os.O_CLOEXEC | os.O_NONBLOCK))
    if fd < 0:
        return UffdHost(frozenset(), _why(ctypes.get_errno()))
    api = bytearray(struct.pack("=QQQ", UFFD_API, 0, 0))
    try:
        fcntl.ioctl(fd, UFFDIO_API, api)
    except OSError as err:
        return UffdHost(frozenset(), f"UFFDIO_API fails here ({errno.errorcode.get(err.errno)})")
    finally:
        os.close(fd)
    features = struct.unpack("=QQQ", api)[1]
    return UffdHost(frozenset(name for bit, name in enumerate(FEATURE_BITS)
                              if features >> bit & 1))
