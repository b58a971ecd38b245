"""Helpers for the course-tooling tests: a tiny course repository in a temp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCENARIOS = {
    "hw1/first-touch.fault": "title \"first touch\"\nmap a anon size 16K\nwrite a[*]\n"
                             "expect delta minflt == 4\n",
    "hw1/zero-page.fault": "title \"zero page\"\nmap b anon size 8K\nread b[*]\n"
                           "expect state b[0] == zero\nexpect rss == 0\n",
    "hw2/fork.fault": "title \"fork\"\nmap a anon size 8K\nwrite a[*] = 1\nfork child\n"
                      "as child: write a[0] = 2\nexpect value a[0] == 1\n",
}


def faultlang(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "faultlang", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def run_pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # The plugin comes from its pytest11 entry point, as in a student's checkout. The
    # hypothesis and benchmark plugins of this project's own test environment are left
    # out: a course does not use them, and loading them doubles every run's start-up.
    quiet = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark"]
    return subprocess.run([sys.executable, "-m", "pytest", *quiet, *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(name="run_pytest")
def run_pytest_fixture():
    """Run pytest in a subprocess: run_pytest(*args, cwd=DIR)."""
    return run_pytest


@pytest.fixture(name="faultlang")
def faultlang_fixture():
    """Run the faultlang CLI in a subprocess: faultlang(*args, cwd=DIR)."""
    return faultlang


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course repository: pytest.ini, three scenarios and their goldens."""
    root = tmp_path / "course"
    (root / "scenarios").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    for name, text in SCENARIOS.items():
        path = root / "scenarios" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    done = faultlang("test", "scenarios", "--update", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    return root
