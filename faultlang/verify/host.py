"""The machine's own settings beside the scenario's, and `--setup` (set, then restore).

Each HostSetting reads the machine's value of one scenario setting and, when it can
be changed, says which files to write for a given scenario value. `Setup` writes
them and restores the old contents afterwards, also when interrupted: a journal in the
cache directory keeps the old contents until they are back, so even a run that was
killed outright is repaired by the next `faultlang verify`.
"""

from __future__ import annotations

import json
import os
import platform
import signal
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Callable, Optional, Union

from faultlang.errors import FaultlangError
from faultlang.kernel.settings import Settings, format_value
from faultlang.verify.result import SettingRow

__all__ = ["HostSetting", "Setup", "compare_settings", "kernel_release",
           "repair_interrupted_setup"]

THP = Path("/sys/kernel/mm/transparent_hugepage")
PMD_KB = 2048


def _read(path: Union[str, Path]) -> Optional[str]:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return None


def _bracketed(text: Optional[str]) -> Optional[str]:
    """"always [madvise] never" → "madvise"."""
    if text is None:
        return None
    for word in text.split():
        if word.startswith("["):
            return word.strip("[]")
    return text


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
    text = _read("/proc/swaps")
    if text is None:
        return None
    kib = sum(int(line.split()[2]) for line in text.splitlines()[1:] if len(line.split()) > 2)
    return format_value("swap", kib * 1024)


def _read_ahead(scratch: Path) -> Optional[str]:
    try:
        dev = os.stat(scratch).st_dev
    except OSError:
        return None
    block = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    for queue in (block / "queue", block / ".." / "queue"):
        kb = _read(queue / "read_ahead_kb")
        if kb is not None:
            return format_value("read_ahead", int(kb) * 1024)
    return None


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
        HostSetting("hugepages", lambda: _read("/proc/sys/vm/nr_hugepages"),
                    lambda v: {Path("/proc/sys/vm/nr_hugepages"): v}),
        # madvise(MADV_PAGEOUT) swaps anonymous pages out only where there is swap
        HostSetting("swap", _swap_total, relevant=True),
        HostSetting("read_ahead", lambda: _read_ahead(scratch)),
    )


def compare_settings(settings: Settings, scratch: Path) -> list[SettingRow]:
    rows = []
    for host in host_settings(scratch):
        scenario = format_value(host.key, getattr(settings, host.key))
        machine = host.machine()
        rows.append(SettingRow(host.key, scenario, "?" if machine is None else machine,
                               host.relevant, host.writes is not None))
    return rows


class _Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGHUP during a run with --setup: unwind so the settings get restored."""


class Setup:
    """Context manager: write the scenario's values for relevant, differing rows; restore."""

    def __init__(self, settings: Settings, rows: list[SettingRow], journal: Path,
                 scratch: Path):
        self.journal = journal
        self.writes: dict[Path, str] = {}
        hosts = {h.key: h for h in host_settings(scratch)}
        for row in rows:
            host = hosts[row.key]
            if row.relevant and row.differs and host.writes is not None:
                value = format_value(row.key, getattr(settings, row.key))
                self.writes.update(host.writes(value))
        self.changed = sorted({row.key for row in rows if row.relevant and row.differs
                               and hosts[row.key].writes is not None})
        self._saved: dict[Path, str] = {}
        self._handlers: dict[int, object] = {}

    def __enter__(self) -> "Setup":
        if os.geteuid() != 0:
            raise FaultlangError("--setup changes kernel settings and needs root",
                                 "run as root, or drop --setup and compare as the machine is")
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._handlers[sig] = signal.signal(sig, self._interrupt)
        for path in self.writes:
            old = _read(path)
            if old is not None:
                self._saved[path] = _bracketed(old) or old
        self.journal.write_text(json.dumps({str(p): v for p, v in self._saved.items()}))
        try:
            for path, value in self.writes.items():
                _write(path, value)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            for path, value in self._saved.items():
                _write(path, value)
            self.journal.unlink(missing_ok=True)
        finally:
            for sig, handler in self._handlers.items():
                signal.signal(sig, handler)           # type: ignore[arg-type]

    @staticmethod
    def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
        raise _Interrupted(f"signal {signum}")


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value + "\n", encoding="ascii")
    except OSError as err:
        raise FaultlangError(f"cannot write {path}: {err.strerror}",
                             "the kernel refused the setting; run without --setup") from None


def repair_interrupted_setup(journal: Path) -> list[str]:
    """Restore what an interrupted --setup left changed; the paths restored."""
    if not journal.exists() or os.geteuid() != 0:
        return []
    try:
        saved = json.loads(journal.read_text())
    except ValueError:
        saved = {}
    for path, value in saved.items():
        try:
            Path(path).write_text(value + "\n", encoding="ascii")
        except OSError:
            pass
    journal.unlink(missing_ok=True)
    return sorted(saved)
