#!/usr/bin/env python3
"""Figures for the core lab (issue 2), measured with the real command, printed, never asserted.

  1. `tlslab run --all` (four default probes, Twisted backend): first run with an empty PKI
     cache, then warm runs with the cache (target: warm < 5 s).
  2. `tlslab up SCENARIO --json` until its readiness line, minus a bare `python -c pass`
     (target: < 0.5 s after Python start-up).

Usage: python benchmarks/bench_core.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from _common import TLSLAB, timed  # noqa: E402  (benchmarks/ is on sys.path when run as a script)


def up_ready(env: dict[str, str], scenario: str) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen([*TLSLAB, "up", scenario, "--json"], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.send_signal(signal.SIGINT)
    proc.wait(10)
    if not line:
        sys.exit(f"tlslab up {scenario} printed no readiness line")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as certs, tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "TLSLAB_CERTS": certs, "TLSLAB_STATE": state}
        cold = timed([*TLSLAB, "run", "--all"], env)
        warm = [timed([*TLSLAB, "run", "--all"], env) for _ in range(args.repeat)]
        bare = statistics.median(timed([sys.executable, "-c", "pass"], env) for _ in range(args.repeat))
        ready = [up_ready(env, s) for s in ("sni-required", "expired-client-cert") for _ in range(args.repeat)]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"tlslab run --all, 4 probes, twisted, cold PKI cache : {cold:.2f} s")
    print(f"tlslab run --all, 4 probes, twisted, warm (median)  : {statistics.median(warm):.2f} s "
          f"(min {min(warm):.2f}, max {max(warm):.2f}, n={len(warm)})   target < 5 s")
    print(f"python -c pass (start-up baseline, median)          : {bare:.3f} s")
    print(f"tlslab up --json to readiness line (median)         : {statistics.median(ready):.3f} s wall, "
          f"{statistics.median(ready) - bare:.3f} s after Python start-up (max {max(ready) - bare:.3f})   target < 0.5 s")


if __name__ == "__main__":
    main()
