"""Compile the generated program into the user's cache, keyed by what went into it.

The binary lives in `$XDG_CACHE_HOME/faultlang/verify` (or ~/.cache/faultlang/verify),
a directory of mode 0700, under a name made from the sha256 of the source, the
compiler's version and the flags: the same scenario on the same machine compiles once.
It is linked statically when the C library allows it (fewer mappings to pre-touch after
fork), dynamically otherwise.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from faultlang.errors import FaultlangError

__all__ = ["Built", "build", "cache_dir", "find_compiler"]

# -pthread: the userfaultfd handler threads (runtime.c)
FLAGS = ("-O1", "-w", "-pthread")
LINKS = (("-static",), ())


@dataclass(frozen=True)
class Built:
    binary: Path
    source: Path
    key: str
    compiler: str
    cached: bool


def cache_dir() -> Path:
    """The verify cache directory, created with mode 0700 (it holds executables)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "faultlang" / "verify"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)
    return path


def find_compiler() -> str:
    """$CC, else gcc, else cc. Raises FaultlangError (exit 2) when there is none."""
    for name in (os.environ.get("CC"), "gcc", "cc"):
        if name:
            found = shutil.which(name.split()[0])
            if found:
                return found
    raise FaultlangError("verify needs a C compiler and none was found",
                         "install gcc (Debian/Ubuntu: apt-get install gcc libc6-dev) "
                         "or set CC")


def _version(compiler: str) -> str:
    try:
        out = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except OSError as err:
        raise FaultlangError(f"the C compiler {compiler} does not run: {err.strerror}",
                             "check the installation, or set CC to another compiler") from None
    return out.splitlines()[0] if out else compiler


def build(source: str, compiler: Optional[str] = None, directory: Optional[Path] = None) -> Built:
    """Compile `source` (or find it already compiled) and return where the binary is."""
    compiler = compiler or find_compiler()
    version = _version(compiler)
    key = hashlib.sha256("\0".join((source, version, *FLAGS)).encode()).hexdigest()
    directory = directory or cache_dir()
    binary = directory / f"verify-{key[:20]}"
    source_path = binary.with_suffix(".c")
    if binary.is_file() and os.access(binary, os.X_OK):
        return Built(binary, source_path, key, version, cached=True)
    source_path.write_text(source, encoding="utf-8")
    errors = ""
    for link in LINKS:
        fd, tmp = tempfile.mkstemp(prefix=binary.name + ".", dir=directory)
        os.close(fd)
        result = subprocess.run([compiler, *FLAGS, *link, "-o", tmp, str(source_path)],
                                capture_output=True, text=True, timeout=300, check=False)
        if result.returncode == 0:
            os.chmod(tmp, 0o700)
            os.replace(tmp, binary)
            return Built(binary, source_path, key, version, cached=False)
        os.unlink(tmp)
        errors = result.stderr
    log = binary.with_suffix(".log")
    log.write_text(errors, encoding="utf-8")
    first = next((line for line in errors.splitlines() if "error" in line), "see the log")
    raise FaultlangError(f"the generated C program did not compile: {first}",
                         f"the compiler's messages are in {log}; the source is {source_path}")
