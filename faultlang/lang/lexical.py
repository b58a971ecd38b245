"""Lexical rules and word lists of language v0 (spec sections 1 to 10), shared by the
text transformer, the YAML loader, the checker and the printer.

The word lists mirror the `!word` rules of grammar/faultlang.lark; a test keeps the two
in step.
"""

from __future__ import annotations

import difflib
import re
from typing import Iterable, Optional

NAME_RE = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?")
VERSION_RE = re.compile(r"[0-9]+(?:\.[0-9]+)+")

SUFFIXES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

STATEMENT_KEYWORDS = ("title", "set", "file", "memfd", "process", "fork", "exit", "switch",
                      "as", "map", "munmap", "mprotect", "madvise", "mlock", "munlock",
                      "msync", "truncate", "read", "write", "exec", "kread", "kwrite",
                      "trace", "swapout", "reclaim", "drop_caches", "numa_scan", "migrate",
                      "uffd", "show", "expect")
MAP_KINDS = ("anon", "file", "shmem", "hugetlb", "device")
MAP_FLAGS = ("populate", "locked", "noreserve", "growsdown")
ADVICE = ("dontneed", "free", "willneed", "pageout", "cold", "hugepage", "nohugepage",
          "populate_read", "populate_write", "dontfork", "wipeonfork", "random",
          "sequential", "normal")
MAP_OPTIONS = MAP_FLAGS + ADVICE
FS_TYPES = ("ext4", "tmpfs", "hugetlbfs")
ACCESS_OPS = ("read", "write", "exec", "kread", "kwrite")
TRACE_FORMATS = ("lackey", "plain")
UFFD_MODES = ("missing", "wp", "minor")
UFFD_ACTIONS = ("copy", "zeropage", "unprotect", "continue")
UFFD_FLAGS = ("dontwake", "wp", "allow_src_holes")
UFFD_FEATURES = ("sigbus", "thread_id", "event_fork", "event_remap", "event_remove",
                 "event_unmap", "missing_hugetlbfs", "missing_shmem", "minor_hugetlbfs",
                 "minor_shmem", "wp_hugetlbfs_shmem", "wp_unpopulated", "wp_async",
                 "poison", "move", "pagefault_flag_wp", "exact_address")
SHOW_VIEWS = ("settings", "vmas", "pagetable", "path", "counters", "memory", "pagecache",
              "swap", "lru", "uffd", "log")
COUNTERS = ("minflt", "majflt", "pgfault", "pgmajfault", "page_faults", "rss", "free",
            "swap_used")
PROCESS_COUNTERS = ("minflt", "majflt", "page_faults", "rss")
CMP_OPS = ("==", "!=", "<=", ">=", "<", ">")
EQ_OPS = ("==", "!=")
OUTCOMES = ("none", "minor", "major", "SIGSEGV", "SIGBUS", "blocked", "oom", "EFAULT")
PAGE_STATES = ("none", "zero", "resident", "swapped", "swapcache", "huge", "cow", "uffd_wp",
               "migration")


class LexicalError(ValueError):
    """A malformed literal; `hint` says how to write it. Callers attach the span."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.message = message
        self.hint = hint


def parse_number(text: str) -> int:
    """`4096`, `0x7f00_0000`, `1_000`, `64K`, `2M` (K M G T are powers of 1024)."""
    raw = text.strip()
    digits = raw.replace("_", "")
    if digits[:2].lower() == "0x":
        if len(digits) > 2 and all(c in "0123456789abcdefABCDEF" for c in digits[2:]):
            return int(digits[2:], 16)
        raise LexicalError(f"'{raw}' is not a hexadecimal number",
                           "write hex digits after 0x, e.g. 0x7f0000001000")
    match = re.fullmatch(r"([0-9]+)([A-Za-z]*)", digits)
    if match is None:
        raise LexicalError(f"'{raw}' is not a number", "write a number such as 4096 or 64K")
    value, suffix = int(match.group(1)), match.group(2)
    if not suffix:
        return value
    if suffix in SUFFIXES:
        return value * SUFFIXES[suffix]
    if suffix.upper() in SUFFIXES or suffix.upper().rstrip("IB") in SUFFIXES:
        fix = f"{match.group(1)}{suffix[0].upper()}"
        raise LexicalError(f"bad size suffix '{suffix}' in '{raw}'",
                           f"write {fix}: the suffixes are K, M, G and T (powers of 1024)")
    raise LexicalError(f"bad size suffix '{suffix}' in '{raw}'",
                       "sizes take one of the suffixes K, M, G or T (powers of 1024), e.g. 64K")


def format_size(value: int) -> str:
    """The shortest exact spelling: 65536 -> 64K, 4097 -> 4097."""
    for suffix in ("T", "G", "M", "K"):
        unit = SUFFIXES[suffix]
        if value and value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(value)


def normalise_prot(text: str) -> str:
    """`rw` -> `rw-`, `r` -> `r--`, `r-x` stays; raises LexicalError when malformed."""
    if re.fullmatch(r"[r-][w-][x-]", text):
        return text
    if text and re.fullmatch(r"r?w?x?", text):
        return "".join(c if c in text else "-" for c in "rwx")
    raise LexicalError(f"'{text}' is not a protection",
                       "write the letters r, w and x in that order, e.g. rw, r-x or ---")


def unquote(text: str) -> str:
    """The value of a STRING token: strip the quotes, undo backslash escapes."""
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _UNESCAPES.get(m.group(1), m.group(1)), body)


def quote(text: str) -> str:
    """A STRING token whose value is `text` (the inverse of `unquote`)."""
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


_UNESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def is_name(text: str) -> bool:
    return NAME_RE.fullmatch(text) is not None


def did_you_mean(word: str, choices: Iterable[str]) -> Optional[str]:
    """The closest choice to a misspelt word, or None."""
    options = list(dict.fromkeys(choices))
    found = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not found:
        lowered = {c.lower(): c for c in options}
        found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        return lowered[found[0]] if found else None
    return found[0]


def suggestion(word: str, choices: Iterable[str], fallback: str) -> str:
    """A hint sentence: "did you mean 'x'?" when a choice is close, else `fallback`."""
    close = did_you_mean(word, choices)
    return f"did you mean '{close}'?" if close else fallback


def one_of(choices: Iterable[str]) -> str:
    """`a, b or c` for hints."""
    items = list(choices)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]
