"""Wall-clock figures for the Java and browser probes (issue targets: Java < 5 s, browser < 20 s).

    python benchmarks/bench_clients.py [--certs DIR]

Java: every APIGEE scenario, fault and every resolution, JVM start (and compile, if the cache is
cold) included. Browser: every northbound scenario, browser launches included. Servers run on
the in-process backend; their start-up is included too (it is small), so the figures are upper
bounds for the probes themselves.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lab.harness import Harness
from lab.pki import Pki
from lab.probes.base import Probe
from lab.probes.browser import BrowserProbe
from lab.probes.java_probe import JavaProbe
from lab.scenario import Catalog, Direction
from lab.backends import make_backend

APIGEE = "apigee-tls-handshake-failures.txt"


def measure(probe: Probe, scenarios: list, pki: Pki) -> tuple[float, int, int, float]:
    """(wall seconds incl. start-up, probes run, not applicable, seconds inside probe.run)."""
    reason = probe.unavailable_reason()
    if reason:
        raise SystemExit(f"{probe.name}: {reason}")
    started = time.monotonic()
    report = Harness(make_backend("twisted"), [probe], pki).run(scenarios)
    wall = time.monotonic() - started
    checks = [c for r in report.results for p in r.phases for c in p.checks if c.client == probe.name]
    if report.results and any(r.error for r in report.results) or any(
            not c.passed and not c.not_applicable for c in checks):
        raise SystemExit(f"{probe.name}: some checks failed; run 'tlslab run --all --client {probe.name} -v'")
    ran = [c for c in checks if not c.not_applicable]
    return wall, len(ran), len(checks) - len(ran), sum(c.outcome.elapsed for c in ran if c.outcome)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certs", type=Path, default=None, help="lab PKI directory (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pki = Pki.ensure(args.certs or Path(tmp))
        catalog = Catalog.load()
        apigee = [s for s in catalog if s.document == APIGEE]
        northbound = [s for s in apigee if s.direction is Direction.NORTHBOUND]

        java = JavaProbe()
        wall, ran, na, inside = measure(java, apigee, pki)
        print(f"java     {len(apigee):2d} APIGEE scenarios, {ran} probes: {wall:5.2f} s wall "
              f"(JVM start included; {inside:.2f} s inside probes; JVMs started: {java.jvm_starts}) target < 5 s")

        browser = BrowserProbe()
        wall, ran, na, inside = measure(browser, northbound, pki)
        print(f"browser  {len(northbound):2d} northbound scenarios, {ran} probes + {na} n/a: {wall:5.2f} s wall "
              f"(browser launches: {browser.launches}; {inside:.2f} s inside probes) target < 20 s")

        browser = BrowserProbe()
        wall, ran, na, inside = measure(browser, apigee, pki)
        print(f"browser  {len(apigee):2d} APIGEE scenarios (both directions' defaults), {ran} probes + {na} n/a: "
              f"{wall:5.2f} s wall (browser launches: {browser.launches})")


if __name__ == "__main__":
    main()
