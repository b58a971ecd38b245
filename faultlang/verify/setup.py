"""What `--setup` changes on the machine, each change with its undo, in a journal.

A change first records how to undo it (a step such as `["write", PATH, OLD]` or
`["swapoff", PATH]`) and only then acts, and the journal is a JSON file in the cache
directory: a run killed outright (SIGKILL, a crash) leaves it behind, and the next
`faultlang verify` undoes what it lists (`repair`). `Journal.undo` runs the steps
last first, every one of them even when some fail, with SIGINT/SIGTERM/SIGHUP held
back so a second Ctrl-C cannot stop a restore half-way. One --setup at a time per
machine (`MachineLock`): a second waits, and a repair leaves a live run's journal alone.

Swap is the one change that is more than a file write: a zram device (the engine's
`zram`: SWP_SYNCHRONOUS_IO) or a swap file (`disk`/`ssd`: the swap file's device is
marked rotational or not, which decides at swapon between cluster and VMA-based swap
readahead), made with mkswap, or with a header of our own where mkswap is missing,
and turned on with swapon(2).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess
import uuid
from pathlib import Path
from typing import Optional, Union

from faultlang.errors import FaultlangError

__all__ = ["Journal", "MachineLock", "block_device_queue", "repair", "swap_devices",
           "swap_on_file", "swap_on_zram", "write_swap_header"]

PAGE = 4096
ZRAM = Path("/sys/block/zram0")
LOCK = Path("/run/faultlang-verify-setup.lock")
_HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
_HINT = "the kernel refused the setting; run without --setup"

Step = list[str]


def read_text(path: Union[str, Path]) -> Optional[str]:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return None


def bracketed(text: Optional[str]) -> Optional[str]:
    """"always [madvise] never" → "madvise" (the form the kernel takes back)."""
    if text is None:
        return None
    for word in text.split():
        if word.startswith("["):
            return word.strip("[]")
    return text


def write_text(path: Union[str, Path], value: str) -> None:
    try:
        Path(path).write_text(value + "\n", encoding="ascii")
    except OSError as err:
        raise FaultlangError(f"cannot write {value!r} to {path}: {err.strerror}", _HINT) from None


class Journal:
    """The undo steps of every change made so far, kept on disk until undone."""

    def __init__(self, path: Path):
        self.path = path
        self.steps: list[Step] = []

    def push(self, *step: str) -> None:
        """Record how to undo the change about to be made (before making it)."""
        self.steps.append(list(step))
        self.path.write_text(json.dumps(self.steps), encoding="utf-8")

    def write(self, path: Path, value: str) -> None:
        """Write a sysfs/procfs knob, remembering its old value; check the kernel kept it."""
        old = bracketed(read_text(path))
        if old is None:
            raise FaultlangError(f"cannot read {path}", _HINT)
        if old == value:
            return
        self.push("write", str(path), old)
        write_text(path, value)
        kept = bracketed(read_text(path))
        if kept != value:
            raise FaultlangError(f"{path} is {kept} after writing {value}",
                                 "the kernel could not honour it (for nr_hugepages: not "
                                 "enough free contiguous memory); run without --setup")

    def undo(self) -> list[str]:
        """Undo every step, last first; the problems met (each step is tried)."""
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        problems = []
        try:
            for step in reversed(self.steps):
                problem = _undo_step(step)
                if problem:
                    problems.append(problem)
            self.steps = []
            self.path.unlink(missing_ok=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        return problems


class MachineLock:
    """flock on a file in /run: the kernel settings are the whole machine's. Re-entrant
    within a process (locks on the same file share one descriptor), so a caller holding
    it can run a --setup of its own."""

    _held: dict[Path, list[int]] = {}           # path → [descriptor, depth]

    def __init__(self, path: Optional[Path] = None):
        self.path = path or LOCK
        self.mine = False

    def acquire(self, wait: bool = True) -> bool:
        held = self._held.get(self.path)
        if held is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            held = self._held[self.path] = [fd, 0]
        held[1] += 1
        self.mine = True
        return True

    def release(self) -> None:
        held = self._held.get(self.path)
        if not self.mine or held is None:
            return
        self.mine = False
        held[1] -= 1
        if held[1] == 0:
            del self._held[self.path]
            os.close(held[0])           # drops the lock


def repair(path: Path, lock: Optional[MachineLock] = None) -> list[str]:
    """Undo what an interrupted --setup left changed; one line per step undone. Nothing
    while another --setup runs (its journal is live), unless we hold the lock."""
    if not path.exists() or os.geteuid() != 0:
        return []
    own = lock is None
    lock = lock or MachineLock()
    if own and not lock.acquire(wait=False):
        return []
    try:
        return _repair(path)
    finally:
        if own:
            lock.release()


def _repair(path: Path) -> list[str]:
    try:
        steps = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        steps = []
    if isinstance(steps, dict):         # the older format: {path: old value}
        steps = [["write", p, v] for p, v in steps.items()]
    journal = Journal(path)
    journal.steps = [s for s in steps if isinstance(s, list) and s]
    done = [" ".join(str(w) for w in step) for step in reversed(journal.steps)]
    journal.undo()
    return done


def _undo_step(step: Step) -> str:
    op, args = step[0], step[1:]
    try:
        if op == "write":
            Path(args[0]).write_text(args[1] + "\n", encoding="ascii")
        elif op == "swapoff":
            _swapoff(args[0])
        elif op == "zram_reset":
            Path(args[0], "reset").write_text("1\n", encoding="ascii")
        elif op == "unlink":
            Path(args[0]).unlink(missing_ok=True)
        else:
            return f"unknown undo step {step}"
    except (OSError, IndexError) as err:
        return f"could not undo {' '.join(step)}: {getattr(err, 'strerror', None) or err}"
    return ""


# --- swap --------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _swapon(path: str) -> None:
    if _libc.swapon(os.fsencode(path), 0) != 0:
        err = ctypes.get_errno()
        raise FaultlangError(f"swapon {path} failed: {os.strerror(err)}",
                             "the kernel refused the swap device; run without --setup")


def _swapoff(path: str) -> None:
    if _libc.swapoff(os.fsencode(path)) != 0:
        err = ctypes.get_errno()
        if err not in (0, 22):      # EINVAL: it was not on (a run killed before swapon)
            raise OSError(err, os.strerror(err))


def swap_devices() -> list[tuple[str, int]]:
    """The swap areas in use: (path, usable KiB, as /proc/swaps shows it)."""
    text = read_text("/proc/swaps") or ""
    out = []
    for line in text.splitlines()[1:]:
        words = line.split()
        if len(words) >= 3 and words[2].isdigit():
            # /proc/swaps escapes blanks in names as \040
            out.append((words[0].replace("\\040", " "), int(words[2])))
    return out


def write_swap_header(path: str, size: int) -> None:
    """What mkswap writes: union swap_header (include/linux/swap.h), version 1, no bad
    pages, in the first page; the magic ends that page."""
    last_page = size // PAGE - 1
    header = bytearray(PAGE)
    header[1024:1036] = (1).to_bytes(4, "little") + last_page.to_bytes(4, "little") + bytes(4)
    header[1036:1052] = uuid.uuid4().bytes
    header[1052:1068] = b"faultlang".ljust(16, b"\0")
    header[PAGE - 10:] = b"SWAPSPACE2"
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, bytes(header), 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def _mkswap(path: str, size: int) -> None:
    mkswap = shutil.which("mkswap")
    if mkswap is None:
        write_swap_header(path, size)
        return
    done = subprocess.run([mkswap, "-q", path], capture_output=True, text=True)
    if done.returncode != 0:
        raise FaultlangError(f"mkswap {path} failed: {done.stderr.strip()}", _HINT)


def swap_on_zram(journal: Journal, size: int, zram: Path = ZRAM) -> str:
    """zram0 as a swap device of `size` bytes; the undo resets it."""
    if read_text(zram / "initstate") != "0":
        raise FaultlangError(f"{zram.name} is already in use",
                             f"reset it (echo 1 > {zram}/reset) or run without --setup")
    algorithm = bracketed(read_text(zram / "comp_algorithm"))
    if algorithm:                   # a reset may put the default compressor back
        journal.push("write", str(zram / "comp_algorithm"), algorithm)
    journal.push("zram_reset", str(zram))
    write_text(zram / "disksize", str(size))
    device = f"/dev/{zram.name}"
    _mkswap(device, size)
    journal.push("swapoff", device)
    _swapon(device)
    return device


def block_device_queue(path: Path) -> Optional[Path]:
    """The sysfs queue folder of the block device holding `path`, or of `path` itself
    when it is a block device (a partition's: its disk's)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    dev = st.st_rdev if stat.S_ISBLK(st.st_mode) else st.st_dev
    block = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    for queue in (block / "queue", block / ".." / "queue"):
        if queue.is_dir():
            return queue.resolve()
    return None


def swap_on_file(journal: Journal, path: Path, size: int, rotational: bool) -> str:
    """A swap file of `size` bytes at `path`, its device marked rotational or not for
    the run (SWP_SOLIDSTATE is decided by swapon from that flag)."""
    journal.push("unlink", str(path))
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)
    except OSError as err:
        raise FaultlangError(f"cannot make the swap file {path}: {err.strerror}", _HINT) \
            from None
    queue = block_device_queue(path)
    if queue is None:
        raise FaultlangError(f"cannot find the block device of {path}",
                             "a swap file needs a disk file system; run without --setup")
    journal.write(queue / "rotational", "1" if rotational else "0")
    _mkswap(str(path), size)
    journal.push("swapoff", str(path))
    _swapon(str(path))
    return str(path)
