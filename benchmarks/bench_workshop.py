#!/usr/bin/env python3
"""Figures for `tlslab workshop` (issue 13): can one machine hold the room? Printed, never asserted.

Starts the workshop as an instructor does (`tlslab workshop --fixed --json`, every scenario,
Twisted backend), then runs `--clients` concurrent clients (threads spread over a few
processes) for `--duration` seconds: each does a real TLS handshake (Python's ssl, verifying
the room's CA and the exercise's name, no session resumption) + GET against the fixed variant
of a different exercise, in a loop. A poller asks the dashboard (instructor view, ladders
included) once a second meanwhile. Prints sustained handshakes/s, p50/p99 handshake latency
(connect + handshake), failures, the dashboard's latency, and the load average.

Goal (issue 13): >= 500 handshakes/s with p99 <= 100 ms, the dashboard still answering.

Usage: python benchmarks/bench_workshop.py [--clients 50] [--duration 30] [--processes 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _common import TLSLAB  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parent.parent


def _client_loop(targets: list[tuple[int, str]], ca_file: str, until: float, out: list[tuple[float, bool]]) -> None:
    ctx = ssl.create_default_context(cafile=ca_file)
    i = 0
    while time.time() < until:
        port, name = targets[i % len(targets)]
        i += 1
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, \
                    ctx.wrap_socket(sock, server_hostname=name) as tls:
                handshake = time.perf_counter() - started
                tls.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\n\r\n".encode())
                ok = tls.recv(64).startswith(b"HTTP/1.1 200")
            out.append((handshake, ok))
        except (OSError, ssl.SSLError):
            out.append((time.perf_counter() - started, False))


def _worker(args: tuple[list[tuple[int, str]], str, float, int, int]) -> list[tuple[float, bool]]:
    targets, ca_file, until, threads, offset = args
    results: list[list[tuple[float, bool]]] = [[] for _ in range(threads)]
    pool = [threading.Thread(target=_client_loop, args=(targets[(offset + t) % len(targets):] +
                                                        targets[:(offset + t) % len(targets)], ca_file, until, results[t]))
            for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return [r for rs in results for r in rs]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=5, help="client processes (threads = clients / processes)")
    parser.add_argument("--base-port", type=int, default=28400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tlslab-bench-workshop-") as tmp:
        started = time.perf_counter()
        proc = subprocess.Popen([*TLSLAB, "workshop", "--fixed", "--json", "--state", f"{tmp}/p.sqlite",
                                 "--base-port", str(args.base_port)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "TLSLAB_STATE": tmp})
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                sys.exit(f"tlslab workshop did not start (exit {proc.wait()}); try another --base-port")
            ready = json.loads(line)
            ready_s = time.perf_counter() - started
            targets = [(e["port"], e["servername"]) for x in ready["exercises"] for v in x["variants"]
                       if v["variant"] == "fixed" for e in v["endpoints"] if e["url"].startswith("https")]
            # A plain client (no client certificate, default settings) succeeds on most fixed variants; the
            # 2-way ones and those whose fix is on the client side are left out (counted below).
            probe: list[tuple[float, bool]] = []
            good = []
            for target in targets:
                probe.clear()
                _client_loop([target], ready["ca_file"], time.time() + 0.01, probe)
                if probe and probe[0][1]:
                    good.append(target)
            skipped = len(targets) - len(good)
            targets = good
            instructor = ready["instructor"].replace("/instructor?", "/api/instructor?")
            print(f"workshop ready in {ready_s:.1f} s: {len(ready['exercises'])} exercises, "
                  f"{len(targets)} fixed TLS endpoints as targets ({skipped} need a client certificate or client settings)")
            dash: list[float] = []
            dash_failed = [0]
            until = time.time() + args.duration

            def poll() -> None:
                while time.time() < until:
                    t0 = time.perf_counter()
                    try:
                        with urllib.request.urlopen(instructor, timeout=10) as r:
                            r.read()
                        dash.append(time.perf_counter() - t0)
                    except OSError:
                        dash_failed[0] += 1
                    time.sleep(max(0.0, 1.0 - (time.perf_counter() - t0)))

            poller = threading.Thread(target=poll)
            poller.start()
            per = max(1, args.clients // args.processes)
            jobs = [(targets, ready["ca_file"], until, per + (1 if p < args.clients % args.processes else 0), p * per)
                    for p in range(args.processes)]
            t0 = time.perf_counter()
            with multiprocessing.get_context("fork").Pool(args.processes) as pool:
                results = [r for rs in pool.map(_worker, jobs) for r in rs]
            elapsed = time.perf_counter() - t0
            poller.join()
            load = os.getloadavg()
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
    ok = [h for h, good in results if good]
    failed = len(results) - len(ok)
    rate = len(ok) / elapsed
    print(f"{args.clients} clients ({args.processes} processes), {elapsed:.1f} s: {len(ok)} handshakes + GET ok, "
          f"{failed} failed")
    print(f"  sustained: {rate:.0f} handshakes/s")
    print(f"  handshake latency: p50 {_pct(ok, 0.5) * 1000:.1f} ms, p99 {_pct(ok, 0.99) * 1000:.1f} ms, "
          f"max {max(ok, default=0) * 1000:.1f} ms")
    if dash:
        print(f"  dashboard (instructor view, ladders): {len(dash)} polls, median {statistics.median(dash) * 1000:.0f} ms, "
              f"max {max(dash) * 1000:.0f} ms, {dash_failed[0]} failed")
    else:
        print(f"  dashboard: no answer ({dash_failed[0]} failed)")
    print(f"  load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"  goal >= 500/s, p99 <= 100 ms: {'met' if rate >= 500 and _pct(ok, 0.99) <= 0.1 else 'NOT met'}")
    print(f"  workshop exit code after SIGTERM: {code}")


if __name__ == "__main__":
    main()
