#!/usr/bin/env python3
"""Figures for `tlslab diagnose` (issue 9), measured and printed, never asserted.

  1. Time per endpoint: the median of N diagnoses of each endpoint (the battery's parallel
     handshakes plus the analysis, in-process), and the real command's wall time for one
     endpoint (Python start-up included). Goal: median <= 0.5 s per endpoint.
  2. Accuracy: per fault, what diagnose named first, over the hand-built `openssl s_server`
     faults (certificates made by the openssl CLI) and every catalog scenario on the twisted
     backend (fault, and each fix: "healthy" expected unless the fix is on the client alone).

Usage: python benchmarks/bench_diagnose.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # hand_servers: the independent, hand-built servers
from _common import TLSLAB, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from hand_servers import HAND_SERVERS, NAME, build_hand_pki, s_server

    from lab.diagnose import diagnose, make_client
    from lab.diagnose.rules import CLIENT_SIDE, NAMED
    from lab.harness import deployed
    from lab.pki import Pki
    from lab.scenario import Catalog, Direction
    from lab.backends import make_backend
    from lab.servers.base import DeployRequest

    catalog = Catalog.load()
    times: list[float] = []
    rows: list[tuple[str, str, str, str]] = []  # source, fault, expected, named

    def measure(target: str, name: str | None, ca: Path, cert: Path | None, key: Path | None,
                offset: float = 0.0) -> list[str | None]:
        client, anchors = make_client(target, name, ca, cert, key, clock_offset_days=offset)
        result = None
        for _ in range(args.repeat):
            result = diagnose(client, anchors, catalog)
            times.append(result.run.elapsed)
        assert result is not None
        return [c.scenario for c in result.causes]

    with tempfile.TemporaryDirectory() as hand_dir, tempfile.TemporaryDirectory() as certs, \
            tempfile.TemporaryDirectory() as state:
        hand = build_hand_pki(Path(hand_dir))
        cli_wall = None
        for server in HAND_SERVERS:
            with s_server(hand, server) as port:
                cert = hand.bundle(f"{server.client_cert}-full", server.client_cert) if server.client_cert else None
                key = hand.key(server.client_cert) if server.client_cert else None
                named = measure(f"127.0.0.1:{port}", NAME, hand.path(server.ca_file), cert, key,
                                server.clock_offset_days)
                if server.name == "healthy":
                    env = {**os.environ, "TLSLAB_CERTS": certs, "TLSLAB_STATE": state}
                    cli_wall = statistics.median(timed([*TLSLAB, "diagnose", f"127.0.0.1:{port}", "-n", NAME,
                                                        "--ca-file", str(hand.path("root"))], env)
                                                 for _ in range(args.repeat))
            expected = "healthy" if server.fault.startswith("healthy") else (
                "client-cert-not-sent" if server.fault == "client-cert-required" else server.fault)
            rows.append(("s_server", server.name, expected, ",".join(map(str, named)) or "healthy"))

        pki = Pki.ensure(Path(certs))
        backend = make_backend("twisted")
        for scenario in catalog:
            for resolution in (None, *scenario.resolutions):
                server_spec, client_spec = scenario.specs(resolution)
                request = DeployRequest(scenario, server_spec, client_spec, scenario.direction, pki)
                if not client_spec.trust:  # an empty client trust store: judge the server by the fix's anchor
                    _, client_spec = scenario.specs(next(r for r in scenario.resolutions if r.recommended))
                with deployed(backend, request) as deployment:
                    roles = {e.role for e in deployment.endpoints}
                    role = "proxy" if "proxy" in roles else "backend" if scenario.direction is Direction.SOUTHBOUND \
                        else "server"
                    ep = next(e for e in deployment.endpoints if e.role == role)
                    named = measure(f"127.0.0.1:{ep.port}", ep.servername or scenario.servername,
                                    pki.cert_path(client_spec.trust), ep.client_cert, ep.client_key,
                                    client_spec.clock_offset_days)
                if resolution is None and scenario.id in CLIENT_SIDE and scenario.id not in NAMED:
                    expected = "healthy"  # the client's fault, declared: the server is fine
                elif resolution is None:
                    expected = scenario.id
                elif resolution.server or resolution.client.keys() & {"trust", "certificate", "clock_offset_days"} \
                        or scenario.id in CLIENT_SIDE and scenario.id not in NAMED:
                    expected = "healthy"
                else:
                    expected = f"{scenario.id} (client-side fix)"
                rows.append(("twisted", scenario.id + (f" / {resolution.name}" if resolution else ""), expected,
                             ",".join(map(str, named)) or "healthy"))

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"diagnose, in-process, per endpoint: median {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, max {max(times):.3f}, n={len(times)})   goal <= 0.5 s")
    if cli_wall is not None:
        print(f"tlslab diagnose (the command, Python start-up included), median: {cli_wall:.2f} s")
    print()
    right = 0
    print(f"{'source':8} {'fault / fix':40} {'named (best first)':27} ok")
    for source, fault, expected, label in rows:
        got = label.split(",")
        wanted = expected.split()[0].split("|")
        if expected == "healthy":
            ok = label == "healthy"
        else:  # the fault named; first, or after a cause of the same family (the OCSP no-staple trio)
            ok = any(w in got for w in wanted) and (got[0] in wanted or got[0].startswith("ocsp-")
                                                    and wanted[0].startswith("ocsp-"))
        right += ok
        shown = label if len(label) <= 27 else label[:24] + "..."
        print(f"{source:8} {fault[:40]:40} {shown:27} {'✓' if ok else '✗ expected ' + expected}")
    print(f"\n{right}/{len(rows)} named right")


if __name__ == "__main__":
    main()
