#!/usr/bin/env python3
"""Figures for the OCSP lab (issue 4), measured, printed, never asserted.

  1. All seven OCSP scenarios on the Twisted backend with the four default probes, through the
     real command (`tlslab run ocsp-...`), warm PKI cache (target: < 10 s wall together,
     blocked/down cases included).
  2. The same run in-process, per scenario, so a slow one is easy to spot.
  3. When Docker answers: the same in-process run on the nginx backend (real nginx stapling, one
     container reloaded per phase, the warm-up for nginx's lazy first staple included).

Usage: python benchmarks/bench_ocsp.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OCSP_IDS = ["ocsp-clock-skew", "ocsp-responder-blocked", "ocsp-signer-untrusted", "ocsp-stapling-off",
            "ocsp-missing-intermediate", "ocsp-responder-down", "ocsp-revoked"]
from _common import TLSLAB, timed  # noqa: E402  (benchmarks/ is on sys.path when run as a script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from lab.harness import Harness
    from lab.pki import Pki
    from lab.probes import DEFAULT_PROBES, make_probes
    from lab.scenario import Catalog
    from lab.backends import make_backend

    with tempfile.TemporaryDirectory() as certs, tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "TLSLAB_CERTS": certs, "TLSLAB_STATE": state}
        cold = timed([*TLSLAB, "run", *OCSP_IDS], env)
        warm = [timed([*TLSLAB, "run", *OCSP_IDS], env) for _ in range(args.repeat)]
        harness = Harness(make_backend("twisted"), make_probes(list(DEFAULT_PROBES)), Pki.ensure(Path(certs)))
        report = harness.run(Catalog.load().select(OCSP_IDS))
        nginx = make_backend("nginx")
        nginx_report = None
        if nginx.unavailable_reason() is None:
            nginx_report = Harness(nginx, make_probes(list(DEFAULT_PROBES)),
                                   Pki.ensure(Path(certs))).run(Catalog.load().select(OCSP_IDS))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"tlslab run <7 OCSP scenarios>, 4 probes, twisted, cold PKI cache : {cold:.2f} s")
    print(f"tlslab run <7 OCSP scenarios>, 4 probes, twisted, warm (median)  : {statistics.median(warm):.2f} s "
          f"(min {min(warm):.2f}, max {max(warm):.2f}, n={len(warm)})   target < 10 s")
    print(f"in-process harness, all 7 (incl. both fixes each)                : {report.elapsed:.2f} s "
          f"{'PASS' if report.passed else 'FAIL'}")
    for r in report.results:
        print(f"  {r.scenario:28} {len(r.phases)} phases  {r.elapsed:.2f} s  {'PASS' if r.passed else 'FAIL'}")
    if nginx_report is None:
        print(f"nginx backend: skipped ({nginx.unavailable_reason()})")
        return
    print(f"in-process harness, all 7, nginx backend (container start included): {nginx_report.elapsed:.2f} s "
          f"{'PASS' if nginx_report.passed else 'FAIL'}")
    for r in nginx_report.results:
        print(f"  {r.scenario:28} {len(r.phases)} phases  {r.elapsed:.2f} s  {'PASS' if r.passed else 'FAIL'}")


if __name__ == "__main__":
    main()
