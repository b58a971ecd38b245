"""Time `faultlang test -j 2` on 1,000 generated golden scenarios (target < 60 s).

    PYTHONPATH=. python benchmarks/bench_golden.py [N] [JOBS]

The scenarios come from the quiz generators (every topic, seeded), so they exercise
every part of the fault path; goldens are written first with --update, then the timed
run compares all of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from faultlang.course.quiz import TOPICS, generate  # noqa: E402

TARGET_SECONDS = 60.0


def main(count: int = 1000, jobs: int = 2) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    topics = sorted(TOPICS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pytest.ini").write_text("[pytest]\n")
        for i in range(count):
            topic = topics[i % len(topics)]
            folder = root / "scenarios" / topic
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i:04d}.fault").write_text(generate(topic, i).scenario)
        cmd = [sys.executable, "-m", "faultlang", "test", "scenarios", "-j", str(jobs)]
        subprocess.run(cmd + ["--update"], cwd=root, env=env, capture_output=True, check=False)
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr)
    verdict = "ok" if seconds < TARGET_SECONDS and done.returncode == 0 else "TOO SLOW/FAILED"
    print(f"faultlang test -j {jobs}: {count} golden scenarios in {seconds:.1f} s "
          f"({count / seconds:.0f}/s; target < {TARGET_SECONDS:.0f} s) {verdict}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main(*(int(a) for a in sys.argv[1:3])))
