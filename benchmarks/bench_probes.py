"""Wall time of ``tlslab run --all --client all`` and each probe's total (goal: <= 40 s here).

    python benchmarks/bench_probes.py [--backend twisted|nginx] [--repeat N]

Runs the real command (every scenario, fault and every resolution, every probe: the JVM, the
browser, the Go and Node processes, gnutls-cli and tstclnt) with ``--json`` and prints the wall
time, then per probe: checks run, n/a, and the seconds spent inside that probe's runs (probes of
one phase run in parallel, so the per-probe totals add up to more than the wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _common import TLSLAB

GOAL = 40.0
REPO = Path(__file__).resolve().parent.parent  # `python -m lab` must find this checkout's lab


def run_once(backend: str, env: dict[str, str]) -> tuple[float, dict]:  # type: ignore[type-arg]
    started = time.perf_counter()
    result = subprocess.run([*TLSLAB, "run", "--all", "--client", "all", "--backend", backend, "--json"],
                            env=env, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"tlslab run failed ({result.returncode}): {result.stderr[-2000:] or result.stdout[-2000:]}")
    return wall, json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="twisted")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "TLSLAB_STATE": state}
        for n in range(args.repeat):
            wall, report = run_once(args.backend, env)
            totals: dict[str, float] = defaultdict(float)
            ran: dict[str, int] = defaultdict(int)
            na: dict[str, int] = defaultdict(int)
            for scenario in report["scenarios"]:
                for phase in scenario["phases"]:
                    for check in phase["checks"]:
                        if check["status"] == "n/a":
                            na[check["client"]] += 1
                        elif check.get("observed"):
                            ran[check["client"]] += 1
                            totals[check["client"]] += check["observed"].get("elapsed") or 0.0
            verdict = "within" if wall <= GOAL else "OVER"
            print(f"run {n + 1}: tlslab run --all --client all --backend {args.backend}: {wall:6.2f} s wall "
                  f"({len(report['scenarios'])} scenarios; goal <= {GOAL:g} s: {verdict})")
            for client in sorted(totals, key=lambda c: -totals[c]):
                print(f"  {client:12s} {ran[client]:3d} checks + {na[client]:2d} n/a  {totals[client]:6.2f} s inside probes")


if __name__ == "__main__":
    main()
