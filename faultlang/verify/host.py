"""The machine's own settings beside the scenario's, and `--setup` (set, then restore).

Each HostSetting (the table in `host_settings`) reads the machine's value of one
scenario setting and, when it can be changed, says how: `writes` lists the files to
write for a scenario value (the common case: add a row with a `writes`), `change`
does anything more (swap: a device to make and turn on) through the Journal it is
given. `Setup` makes the changes and undoes them afterwards, also when interrupted:
the journal (setup.py) keeps the undo steps in the cache directory until they are
done, so even a run that was killed outright is repaired by the next `faultlang verify`.
"""

from __future__ import annotations

import os
import platform
import signal
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Callable, Optional, Union

from faultlang.errors import FaultlangError
from faultlang.kernel.settings import Settings, format_value
from faultlang.verify import setup as changes
from faultlang.verify.result import SettingRow

__all__ = ["HostSetting", "Setup", "compare_settings", "kernel_release",
           "repair_interrupted_setup", "unavailable"]

THP = Path("/sys/kernel/mm/transparent_hugepage")
HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")
PMD_KB = 2048
PAGE_KB = 4


# the machine's files are read as the setup journal reads them
_read = changes.read_text
_bracketed = changes.bracketed


def _mthp_files() -> dict[int, Path]:
    """Anonymous mTHP sizes below PMD size, in KiB → their `enabled` file."""
    out = {}
    for folder in sorted(THP.glob("hugepages-*kB")):
        kb = int(folder.name[len("hugepages-"):-2])
        # sizes anonymous memory cannot use (8kB) have a folder but no `enabled`
        if kb < PMD_KB and (folder / "enabled").exists():
            out[kb] = folder / "enabled"
    return out


def _mthp_machine() -> Optional[str]:
    files = _mthp_files()
    if not files:
        return None
    top = _bracketed(_read(THP / "enabled"))
    on = []
    for kb, path in files.items():
        mode = _bracketed(_read(path))
        if mode == "inherit":
            mode = top
        if mode and mode != "never":
            on.append(f"{kb}K" if mode == "always" else f"{kb}K={mode}")
    return ",".join(on) if on else "off"


def _mthp_writes(value: str) -> dict[Path, str]:
    wanted = 0 if value == "off" else int(value.rstrip("K"))
    return {path: "always" if kb == wanted else "never" for kb, path in _mthp_files().items()}


def _swap_total() -> Optional[str]:
    if _read("/proc/swaps") is None:
        return None
    # /proc/swaps leaves out each area's header page; the scenario's size counts it
    kib = sum(size + PAGE_KB for _, size in changes.swap_devices())
    return format_value("swap", kib * 1024)


def _swap_device() -> Optional[str]:
    """zram, or a swap file's or partition's device: rotational (disk) or not (ssd).
    "?" without swap: then the scenario's swap_device cannot matter."""
    kinds = []
    for path, _ in changes.swap_devices():
        if Path(path).name.startswith("zram"):
            kinds.append("zram")
            continue
        queue = changes.block_device_queue(Path(path))
        flag = _read(queue / "rotational") if queue else None
        kinds.append("?" if flag is None else "disk" if flag == "1" else "ssd")
    return ",".join(sorted(set(kinds))) if kinds else None


def _change_swap(settings: Settings, journal: changes.Journal, scratch: Path) -> None:
    """The scenario's swap: one device of its size and kind, on a machine without swap."""
    if changes.swap_devices():
        raise FaultlangError("--setup does not turn off the machine's own swap",
                             "swapoff it first, or run without --setup")
    if settings.swap == 0:
        return
    if settings.swap_device == "zram":
        if not changes.ZRAM.exists():
            raise FaultlangError("there is no zram device (/sys/block/zram0) for the swap",
                                 "modprobe zram, or run without --setup")
        changes.swap_on_zram(journal, settings.swap)
    else:
        changes.swap_on_file(journal, scratch / "swapfile", settings.swap,
                             rotational=settings.swap_device == "disk")


def _read_ahead_file(scratch: Path) -> Optional[Path]:
    """read_ahead_kb of the block device holding `scratch` (a partition's is its disk's)."""
    try:
        dev = os.stat(scratch).st_dev
    except OSError:
        return None
    block = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    for queue in (block / "queue", block / ".." / "queue"):
        if (queue / "read_ahead_kb").exists():
            return queue / "read_ahead_kb"
    return None


def _read_ahead(scratch: Path) -> Optional[str]:
    path = _read_ahead_file(scratch)
    kb = _read(path) if path else None
    return format_value("read_ahead", int(kb) * 1024) if kb and kb.isdigit() else None


def _read_ahead_writes(scratch: Path) -> Optional[Callable[[str], dict[Path, str]]]:
    path = _read_ahead_file(scratch)
    if path is None:
        return None
    return lambda value: {path: _kib(value)}


def _kib(value: str) -> str:
    """A size as format_value writes it ("128K", "8M", "4096") in KiB, for read_ahead_kb."""
    units = {"K": 1, "M": 1024, "G": 1024 * 1024}
    if value[-1:] in units:
        return str(int(value[:-1]) * units[value[-1]])
    return str(int(value) // 1024)


def _fault_around() -> Optional[str]:
    text = _read("/sys/kernel/debug/fault_around_bytes")
    return format_value("fault_around", int(text)) if text and text.isdigit() else None


def kernel_release() -> str:
    return platform.release()


@dataclass(frozen=True)
class HostSetting:
    key: str
    machine: Callable[[], Optional[str]]
    writes: Optional[Callable[[str], dict[Path, str]]] = None
    # Changes what the statements verify translates (anonymous and shmem memory) count.
    relevant: bool = False
    # Anything beyond file writes: (scenario settings, journal, scratch directory).
    # Rows sharing one `change` (swap and swap_device) run it once.
    change: Optional[Callable[[Settings, changes.Journal, Path], None]] = None
    # Relevant when the scenario maps a disk file that may be cold (files.maps_cold_files).
    files: bool = False

    @property
    def settable(self) -> bool:
        return self.writes is not None or self.change is not None


def host_settings(scratch: Path) -> tuple[HostSetting, ...]:
    return (
        HostSetting("kernel", lambda: kernel_release(), relevant=True),
        HostSetting("thp", lambda: _bracketed(_read(THP / "enabled")),
                    lambda v: {THP / "enabled": v}, relevant=True),
        HostSetting("mthp", _mthp_machine, _mthp_writes, relevant=True),
        HostSetting("zero_page", lambda: "on", relevant=True),
        HostSetting("fault_around", _fault_around),
        HostSetting("page_cluster", lambda: _read("/proc/sys/vm/page-cluster"),
                    lambda v: {Path("/proc/sys/vm/page-cluster"): v}, relevant=True),
        HostSetting("hugepages", lambda: _read(HUGEPAGES),
                    lambda v: {HUGEPAGES: v}, relevant=True),
        # madvise(MADV_PAGEOUT) swaps anonymous pages out only where there is swap
        HostSetting("swap", _swap_total, relevant=True, change=_change_swap),
        HostSetting("swap_device", _swap_device, relevant=True, change=_change_swap),
        # how much a fault on a cold file reads: the scratch directory's device's
        HostSetting("read_ahead", lambda: _read_ahead(scratch), _read_ahead_writes(scratch),
                    files=True),
    )


def compare_settings(settings: Settings, scratch: Path,
                     disk_files: bool = False) -> list[SettingRow]:
    """disk_files: the scenario maps a disk file that may be cold (read_ahead matters)."""
    rows = []
    for host in host_settings(scratch):
        scenario = format_value(host.key, getattr(settings, host.key))
        machine = host.machine()
        rows.append(SettingRow(host.key, scenario, "?" if machine is None else machine,
                               host.relevant or (host.files and disk_files), host.settable))
    return rows


def unavailable(rows: list[SettingRow], setup: bool) -> dict[str, str]:
    """Setting key → why the machine cannot run what depends on it: relevant settings
    that differ and that this run does not set (no --setup, or no way to set them)."""
    out = {}
    for row in rows:
        if row.relevant and row.differs and not (setup and row.settable):
            how = "--setup (root) sets it for the run" if row.settable else \
                "verify cannot change it"
            out[row.key] = f"{row.key} is {row.machine} here but {row.scenario} in the " \
                           f"scenario; {how}"
    return out


class _Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGHUP during a run with --setup: unwind so the settings get restored."""


class Setup:
    """Context manager: make the scenario's values true for the relevant settings that
    differ and can be set (file writes first, then the other changes); undo them after.
    The machine is compared again once the lock is held: another run may have changed
    it meanwhile."""

    def __init__(self, settings: Settings, journal: Path, scratch: Path,
                 lock: Optional[changes.MachineLock] = None, disk_files: bool = False):
        self.settings, self.scratch = settings, scratch
        self.disk_files = disk_files
        self.journal = changes.Journal(journal)
        self.lock = lock or changes.MachineLock()
        self.changed: list[str] = []
        self.repaired: list[str] = []
        self._handlers: dict[int, object] = {}

    def _plan(self) -> tuple[dict[Path, str], list[Callable[..., None]]]:
        hosts = {h.key: h for h in host_settings(self.scratch)}
        chosen = [hosts[row.key] for row in compare_settings(self.settings, self.scratch,
                                                             self.disk_files)
                  if row.relevant and row.differs and hosts[row.key].settable]
        self.changed = sorted({host.key for host in chosen})
        writes: dict[Path, str] = {}
        others: list[Callable[..., None]] = []
        for host in chosen:
            if host.writes is not None:
                writes.update(host.writes(format_value(host.key,
                                                       getattr(self.settings, host.key))))
            if host.change is not None and host.change not in others:
                others.append(host.change)
        return writes, others

    def __enter__(self) -> "Setup":
        if os.geteuid() != 0:
            raise FaultlangError("--setup changes kernel settings and needs root",
                                 "run as root, or drop --setup and compare as the machine is")
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._handlers[sig] = signal.signal(sig, self._interrupt)
        try:
            self.lock.acquire(wait=True)
            self.repaired = changes.repair(self.journal.path, self.lock)
            writes, others = self._plan()
            for path, value in writes.items():
                self.journal.write(path, value)
            for change in others:
                change(self.settings, self.journal, self.scratch)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            problems = self.journal.undo()
        finally:
            self.lock.release()
            for sig, handler in self._handlers.items():
                signal.signal(sig, handler)           # type: ignore[arg-type]
        if problems and (not exc or exc[0] is None):
            raise FaultlangError("could not restore every setting: " + "; ".join(problems),
                                 "put these back by hand")

    @staticmethod
    def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
        raise _Interrupted(f"signal {signum}")


def repair_interrupted_setup(journal: Path,
                             lock: Optional[changes.MachineLock] = None) -> list[str]:
    """Undo what an interrupted --setup left changed; one line per undo step."""
    return changes.repair(journal, lock)
