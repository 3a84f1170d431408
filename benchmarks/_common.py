"""What the benchmark scripts share: run the real command and time it."""

from __future__ import annotations

import subprocess
import sys
import time

TLSLAB = [sys.executable, "-m", "lab"]


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of `argv`; a failing command ends the benchmark with its stderr."""
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed
