"""``tlslab diagnose HOST:PORT``: name the catalog cause of a live endpoint's TLS failure.

Registered by :mod:`lab.cli` as ``app.command("diagnose")(diagnose_command)``. The work is in
:mod:`lab.diagnose`; this module parses options and prints (observations first, then causes).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from lab.commands import lab_errors, out
from lab.errors import EnvironmentError_
from lab.scenario import Catalog

if TYPE_CHECKING:
    from lab.diagnose import Diagnosis

WIDTH = 80


def _wrap(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False,
                         break_long_words=True) or [first.rstrip()]


def render(diagnosis: Diagnosis) -> list[str]:
    from lab.diagnose.observe import observation_lines
    o = diagnosis.observed
    lines = _wrap(f"tlslab diagnose {diagnosis.target}" + (f" (server_name {o.servername})" if o.servername else "")
                  + f": {len(diagnosis.run.results)} handshakes in {diagnosis.run.elapsed:.2f}s", "", "  ")
    lines += ["", "observed:"]
    for topic, text in observation_lines(o):
        lines += _wrap(text, f"  {topic:<11} ", " " * 14)
    lines.append("")
    if diagnosis.healthy:
        lines.append("healthy: no catalog cause found for this trust anchor and name.")
        if diagnosis.client_side:
            lines += ["", "not visible from here (if a client still fails, look at the client):"]
            for sid, why in diagnosis.client_side:
                lines += _wrap(f"{sid}: {why}", "  ", "    ")
        return lines
    lines.append("causes (best first):")
    for c in diagnosis.causes:
        name = c.scenario or "unrecognised"
        lines += _wrap(f"{name}: {c.title}" if c.title else name, "  ", "    ")
        for e in c.evidence:
            lines += _wrap(e, "    - ", "      ")
        if c.fix:
            lines += _wrap(f"Fix: {c.fix}", "    ", "    ")
        if c.scenario:
            lines += _wrap(f"reproduce: tlslab run {c.scenario}", "    ", "    ")
    return lines


def _print_json(result: Diagnosis) -> None:
    # not through rich: a console wraps long lines, and JSON strings must stay whole
    sys.stdout.write(json.dumps(result.as_json(), indent=2) + "\n")
    sys.stdout.flush()


def diagnose_command(
    target: Annotated[str, typer.Argument(metavar="HOST:PORT", help="The TLS endpoint, e.g. 127.0.0.1:8443 or [::1]:443.")],
    servername: Annotated[Optional[str], typer.Option("--servername", "-n", help="The name to send (SNI) and verify (default: HOST when it is a name; none for an IP address).", show_default=False)] = None,
    ca_file: Annotated[Optional[Path], typer.Option("--ca-file", help="PEM trust anchor(s) the client uses (default: the system trust store).", show_default=False)] = None,
    client_cert: Annotated[Optional[Path], typer.Option("--client-cert", help="2-way TLS: the client certificate (PEM, with its chain).", show_default=False)] = None,
    client_key: Annotated[Optional[Path], typer.Option("--client-key", help="2-way TLS: the client certificate's private key (PEM).", show_default=False)] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per handshake.")] = 2.0,
    clock_offset_days: Annotated[float, typer.Option("--clock-offset-days", help="Judge validity (certificates, OCSP staple) by a client clock this many days off (negative: behind), as a skewed client does.")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON (schema tlslab.diagnose/1) on stdout.")] = False,
    scenarios: Annotated[Optional[Path], typer.Option("--scenarios", help="Scenario directory (default: the repo's scenarios/; env TLSLAB_SCENARIOS).", show_default=False)] = None,
) -> None:
    """Probe a live TLS endpoint with a battery of client configurations and name the cause.

    Tries the endpoint with and without server_name, per TLS version (1.0-1.3), per cipher family
    (AES-256, AES-128, CHACHA20, legacy CBC), DHE alone, ALPN http/1.1 and h2, with and without
    a client certificate, a bare Client Hello (is it TLS at all?), and asks for an OCSP staple;
    then lists what it saw (the served chain, its keys, signatures, names and purposes, the issuer
    links, versions, suites, alerts, how the GET ended) and names the catalog cause(s) with
    evidence and the documented fix. Causes only a client can have (an empty CA bundle, http://
    to a TLS port, a clock behind) are declared when the server looks healthy.

    Exit codes: 0 healthy for the given trust anchor and name, 1 a cause was found, 2 bad input,
    3 cannot connect at all.

    Examples:

      tlslab diagnose 127.0.0.1:8443 -n api.lab.test --ca-file root.pem

      tlslab diagnose api.example.com:443

      tlslab diagnose 127.0.0.1:8443 --client-cert c.pem --client-key c.key

      tlslab diagnose 127.0.0.1:8443 --json | jq -r '.causes[].scenario'
    """
    from lab.diagnose import diagnose, make_client

    with lab_errors():
        client, anchors = make_client(target, servername, ca_file, client_cert, client_key, timeout,
                                      clock_offset_days)
        catalog = Catalog.load(scenarios)
        result = diagnose(client, anchors, catalog)
        if not result.reached:
            if as_json:
                _print_json(result)
            raise EnvironmentError_(f"cannot connect to {result.target} at all: {result.observed.connect_error}; "
                                    "is the server running and the port right?")
    if as_json:
        _print_json(result)
    else:
        for line in render(result):
            out.print(line)
    raise typer.Exit(0 if result.healthy else 1)
