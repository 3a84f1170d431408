#!/usr/bin/env python3
"""Figures for issue 12 (own material, API, plugin), measured with the real code, printed, never asserted.

  1. `lab.serve(...)`: seconds from entering the block until the server is ready, per phase, in-process
     (what a pytest parametrized over every case pays per test), and the whole catalogue's cases.
  2. `tlslab run incomplete-chain --server-cert ... --ca-file ...`: the own-material phase on top of a
     run (own files checked and served), against the same run without them.
  3. `--probe-cmd`: the cost of a command probe per check (a Python client, a new process each check).

Usage: python benchmarks/bench_own.py [--repeat N]   (needs the openssl CLI for the team's chain)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import TLSLAB, timed  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import lab  # noqa: E402

CLIENT = "import sys; sys.exit(0)"


def team_chain(d: Path) -> tuple[Path, Path, Path]:
    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem", "-days", "2",
         "-subj", "/CN=Bench Root", "-addext", "basicConstraints=critical,CA:TRUE")
    (d / "leaf.ext").write_text("subjectAltName=DNS:api.lab.test\nextendedKeyUsage=serverAuth\n")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=api.lab.test")
    ossl("x509", "-req", "-in", "leaf.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial",
         "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    return d / "leaf.pem", d / "key.pem", d / "root.pem"


def _wall(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TLSLAB_CERTS": str(Path(tmp) / "certs")}
        os.environ["TLSLAB_CERTS"] = env["TLSLAB_CERTS"]
        timed([*TLSLAB, "certs"], env)  # generate once, outside the figures

        ready = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            with lab.serve("expired-server-cert"):
                ready.append(time.perf_counter() - started)
        print(f"lab.serve ready (twisted), median of {args.repeat}: {statistics.median(ready) * 1000:.1f} ms")
        cases = lab.cases("all")
        started = time.perf_counter()
        for case in cases:
            with lab.serve(case.scenario, case.resolution):
                pass
        print(f"lab.serve over all {len(cases)} cases: {time.perf_counter() - started:.2f} s")

        cert, key, root = team_chain(Path(tmp))
        base = [*TLSLAB, "run", "incomplete-chain", "-c", "openssl,curl,python-ssl"]
        own = ["--server-cert", str(cert), "--server-key", str(key), "--ca-file", str(root)]
        timed(base, env)  # warm-up (page cache, pkcs12 stores)
        plain = statistics.median(timed(base, env) for _ in range(args.repeat))
        with_own = statistics.median(timed([*base, *own], env) for _ in range(args.repeat))
        print(f"tlslab run incomplete-chain: {plain:.2f} s; with --server-cert (one more phase): {with_own:.2f} s")

        probe = ["--probe-cmd", f"mine={sys.executable} -c {CLIENT!r}"]
        scenarios = ["incomplete-chain", "expired-server-cert", "hostname-mismatch", "unknown-server-cert",
                     "wrong-intermediate"]
        one = [*TLSLAB, "run", *scenarios, "-c", "openssl"]
        without = statistics.median(timed(one, env) for _ in range(args.repeat))
        # the command "succeeds" everywhere, so the faults fail: time it without requiring exit 0
        with_cmd = statistics.median(_wall([*one, *probe], env) for _ in range(args.repeat))
        checks = len(lab.cases(*scenarios))
        print(f"tlslab run ({len(scenarios)} scenarios) -c openssl: {without:.2f} s; with a --probe-cmd: {with_cmd:.2f} s "
              f"(~{(with_cmd - without) / checks * 1000:.0f} ms per command check, {checks} checks)")


if __name__ == "__main__":
    main()
