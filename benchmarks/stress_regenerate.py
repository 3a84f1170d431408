"""Regenerate the PKI again and again while runs and ups use it: count crashes and mismatched material.

Issue 15 item 1: ``tlslab run --all & sleep 0.8; tlslab certs --regenerate`` crashed the run in
5 of 6 trials, and a running ``up`` served material that no longer matched its ``ca_file``.

    python benchmarks/stress_regenerate.py            # 10 runs, 3 ups (the issue's figure)
    python benchmarks/stress_regenerate.py --runs 2 --ups 1

Prints one line per figure; exits 1 when any run crashed or any up served mismatched material.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TLSLAB = [sys.executable, "-m", "lab"]
UP_SCENARIO = ("expired-server-cert", "--resolution", "renew-server-certificate")  # serves a valid chain


@dataclass
class Figures:
    runs: int = 0
    crashed: int = 0
    regenerations: int = 0
    up_checks: int = 0
    mismatched: int = 0


def serves_what_it_printed(info: dict) -> bool:  # type: ignore[type-arg]
    """The up's TLS endpoint verifies against the ca_file it printed, for the name it printed."""
    endpoint = next(e for e in info["endpoints"] if e["scheme"] == "https")
    context = ssl.create_default_context(cafile=endpoint["ca_file"])
    try:
        with socket.create_connection(("127.0.0.1", endpoint["port"]), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=endpoint["servername"]):
            return True
    except (ssl.SSLError, OSError) as exc:
        print(f"  mismatch: {exc}", file=sys.stderr)
        return False


def stress(runs: int, ups: int, env: dict[str, str], parallel: int = 2) -> Figures:
    figures = Figures()
    stop = threading.Event()
    up_procs: list[tuple[subprocess.Popen[str], dict]] = []  # type: ignore[type-arg]

    def regenerate() -> None:
        while not stop.is_set():
            subprocess.run([*TLSLAB, "certs", "--regenerate", "--json"], env=env, capture_output=True)
            figures.regenerations += 1
            for _, info in up_procs:
                figures.up_checks += 1
                figures.mismatched += not serves_what_it_printed(info)

    try:
        for _ in range(ups):
            proc = subprocess.Popen([*TLSLAB, "up", *UP_SCENARIO, "--json"], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            up_procs.append((proc, json.loads(proc.stdout.readline())))
        regenerator = threading.Thread(target=regenerate)
        regenerator.start()
        pending = list(range(runs))
        while pending:
            batch, pending = pending[:parallel], pending[parallel:]
            procs = [subprocess.Popen([*TLSLAB, "run", "--all", "--json"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in batch]
            for proc in procs:
                stdout, stderr = proc.communicate(timeout=300)
                figures.runs += 1
                errors = [r["error"] for r in json.loads(stdout or "{}").get("results", []) if r.get("error")] \
                    if proc.returncode in (0, 1) else []
                if proc.returncode not in (0, 1) or "Traceback" in stderr or errors:
                    figures.crashed += 1
                    print(f"  crashed ({proc.returncode}): {(errors or [stderr[-500:]])[0]}", file=sys.stderr)
        stop.set()
        regenerator.join()
    finally:
        stop.set()
        for proc, _ in up_procs:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--ups", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tlslab-bench-") as tmp:
        env = dict(os.environ, TLSLAB_CERTS=str(Path(tmp) / "certs"), TLSLAB_STATE=str(Path(tmp) / "state"))
        subprocess.run([*TLSLAB, "certs"], env=env, capture_output=True, check=True)
        started = time.perf_counter()
        figures = stress(args.runs, args.ups, env)
        elapsed = time.perf_counter() - started
    print(f"runs:                 {figures.runs}")
    print(f"regenerations:        {figures.regenerations}")
    print(f"crashed runs:         {figures.crashed}")
    print(f"up checks:            {figures.up_checks} ({args.ups} ups)")
    print(f"mismatched material:  {figures.mismatched}")
    print(f"elapsed:              {elapsed:.1f}s")
    sys.exit(1 if figures.crashed or figures.mismatched else 0)


if __name__ == "__main__":
    main()
