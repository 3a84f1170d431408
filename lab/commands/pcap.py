"""``tlslab pcap FILE`` and ``tlslab ladder SCENARIO``, and the ``--capture`` glue for ``run``/``up``.

``pcap`` reads any capture (a customer's tcpdump, Wireshark's pcapng, the lab's own) and
shows each failed TLS handshake as a ladder with the symptom its client saw, and names the
candidate scenarios as ``tlslab explain`` does (``tlslab explain --pcap FILE`` is the same). ``ladder`` runs a
scenario through the recorder (fault, then each fix) and draws each handshake the way the
documents number Wireshark's messages.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from lab.explain import explain_symptoms
from lab.capture.handshake import Handshake, read_capture, symptoms
from lab.capture.ladder import handshake_json, ladder_lines
from lab.capture.relay import CaptureSession, group_path, relayed
from lab.commands import err, lab_errors, out
from lab.errors import UserInputError
from lab.servers.base import Deployment, DeployRequest

CaptureOpt = Annotated[Optional[Path], typer.Option(
    "--capture", help="Record every handshake as pcapng in this directory (a TLS key log beside, and inside, "
    "each file); open them in Wireshark or read them with 'tlslab pcap'.", show_default=False)]


# ------------------------------------------------------------------------- run / up glue
@contextlib.contextmanager
def capture_session(directory: Path | None, temporary: bool = False) -> Iterator[CaptureSession | None]:
    """``--capture DIR``: a session while the command runs, or None without the flag.

    `temporary` (``run -v``): record into a directory removed when the process exits, so a
    failed check can still show its ladder after the run.
    """
    if directory is None and temporary:
        directory = Path(tempfile.mkdtemp(prefix="tlslab-capture-"))
        atexit.register(shutil.rmtree, directory, True)
    if directory is None:
        yield None
        return
    if directory.exists() and not directory.is_dir():
        raise UserInputError(f"--capture: {directory} exists and is not a directory; name a directory")
    with CaptureSession(directory) as session:
        yield session


def capture_request(request: DeployRequest, session: CaptureSession | None, label: str = "fault") -> DeployRequest:
    """The deploy request with the server-side key log attached (Twisted servers log their keys)
    and, southbound, the gateway's upstream connection through a recording relay."""
    from dataclasses import replace

    from lab.scenario import GATEWAY, Direction

    if session is None:
        return request
    request = replace(request, keylog=session.keylog.server_callback)
    if request.direction is Direction.SOUTHBOUND:
        request = replace(request, gateway_upstream=lambda t: session.relay_for_session(
            t, request.scenario.id, label, GATEWAY, "up"))
    return request


@contextlib.contextmanager
def capture_up(session: CaptureSession | None, deployment: Deployment, *names: str) -> Iterator[Deployment]:
    if session is None:
        yield deployment
        return
    with relayed(session, deployment, *names, "up") as relayed_deployment:
        yield relayed_deployment


def capture_up_note(session: CaptureSession) -> str:
    return (f"\ncapturing every connection to {session.directory}/ (pcapng, written as each connection ends);"
            f"\nyour own clients' keys: export SSLKEYLOGFILE={session.keylog.client_file}")


def captured_summary(session: CaptureSession) -> str:
    files = [f for f in session.files if f.exists()]
    return f"captures: {len(files)} pcapng file(s) in {session.directory}/ (open in Wireshark, or: tlslab pcap FILE)"


def print_failure_ladders(console: Console, report: Any, session: CaptureSession | None) -> None:
    """``run -v``: the ladder of every client whose check failed, from its capture."""
    if session is None:
        return
    for result in report.results:
        for phase in result.phases:
            label = f"fix-{phase.resolution}" if phase.resolution else "fault"
            for check in phase.checks:
                if check.status != "fail" or check.outcome is None:
                    continue
                path = group_path(session.directory, result.scenario, label, check.client)
                if not path.exists():
                    continue
                console.print(f"\nladder: {result.scenario} / {phase.resolution or 'fault'} / {check.client}"
                              f"  ({path})")
                for h in read_capture(path):
                    for line in ladder_lines(h):
                        console.print("  " + line)


# ------------------------------------------------------------------------- tlslab pcap
def _wrapped(text: str, first: str, rest: str) -> None:
    """Prose at 80 columns (commands are printed unwrapped, to paste)."""
    for line in textwrap.wrap(text, 80, initial_indent=first, subsequent_indent=rest):
        out.print(line, soft_wrap=True)


def explain_handshake(h: Handshake, catalog: Any | None) -> tuple[list[str], Any]:
    """Candidate scenario ids for one failed handshake (best first), and the explanation: the
    handshake's symptom goes through the same ranking as ``tlslab explain TEXT``."""
    seen = symptoms(h)
    if catalog is None or not seen:
        return [], None
    explanation = explain_symptoms([seen[0]], catalog)
    return [c.scenario for c in explanation.candidates[:5]], explanation


def pcap(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A pcap or pcapng file (tcpdump -w, tshark -w, Wireshark).")],
    keylog: Annotated[Optional[Path], typer.Option("--keylog", help="An SSLKEYLOGFILE-format key log to decrypt TLS 1.3 handshakes (default: the file's own secrets block, or FILE.keys beside it).", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Show every TLS handshake, not only the failed ones.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    scenarios: Annotated[Optional[Path], typer.Option("--scenarios", help="Scenario directory for naming candidates (default: the repo's scenarios/).", show_default=False)] = None,
) -> None:
    """Read a capture: find each failed TLS handshake, show it as a ladder, say what its client saw.

    Exits 1 when a failed handshake was found, 0 when every handshake worked, 2 for a file
    that is not a capture.

    Examples:

      tlslab pcap customer.pcapng

      tlslab pcap out/sni-required-fault-openssl.pcapng --json

      sudo tcpdump -i lo -w lo.pcap port 8443   # then: tlslab pcap lo.pcap --all
    """
    with lab_errors():
        if not file.is_file():
            raise UserInputError(f"{file}: " + ("is a directory" if file.is_dir() else "no such file") + "; give a pcap or pcapng capture file")
        handshakes = read_capture(file, keylog)
        from lab.scenario import Catalog
        catalog = Catalog.load(scenarios)
    failed = [h for h in handshakes if h.failed]
    shown = handshakes if all_ else tuple(failed)
    if as_json:
        items = []
        for h in shown:
            item = handshake_json(h)
            if h.failed:
                names, explanation = explain_handshake(h, catalog)
                item["candidates"] = names
                item["explain"] = explanation.as_json() if explanation is not None else None  # tlslab.explain/1
            items.append(item)
        # Plain json, not rich's print_json: a large capture's JSON runs to megabytes.
        sys.stdout.write(json.dumps({"file": str(file), "handshakes": len(handshakes), "failed": len(failed),
                                     "shown": items}, indent=2) + "\n")
        raise typer.Exit(1 if failed else 0)
    summary = f"{len(handshakes)} TLS handshake(s), {len(failed)} failed"
    out.print(f"{file}: {summary}" if len(f"{file}: {summary}") <= 80 else f"{file}:\n  {summary}")
    for h in shown:
        out.print("")
        for line in ladder_lines(h):
            out.print(line)
        if h.failed:
            _, explanation = explain_handshake(h, catalog)
            for c in explanation.candidates[:3] if explanation is not None else ():
                fix = next((f for f in c.fix if f.recommended), c.fix[0] if c.fix else None)
                _wrapped(f"candidate {c.scenario} (score {c.score:.2f})"
                         + (f": fix {fix.resolution}: {fix.summary}" if fix else ""), "   ", "     ")
                out.print(f"     reproduce: {c.reproduce}", soft_wrap=True)  # a command: one line to paste
            for o in (explanation.tell_apart[:2] if explanation is not None else ()):
                _wrapped(f"tell apart: {o.question}", "   ", "     ")
                for command in o.commands[:2]:
                    out.print(f"   $ {command}", soft_wrap=True)
    if not handshakes:
        err.print("no TLS handshake found (is the capture filtered to another port, or not TLS?)")
    raise typer.Exit(1 if failed else 0)


# ------------------------------------------------------------------------- tlslab ladder
def ladder(
    scenario_id: Annotated[str, typer.Argument(metavar="SCENARIO", help="A scenario id (see 'tlslab list').")],
    client: Annotated[Optional[str], typer.Option("--client", "-c", help="The client whose handshakes are drawn: a probe, or 'gateway' (southbound: the gateway's own upstream handshake, as the document captured it). Default: gateway southbound, openssl northbound.", show_default=False)] = None,
    backend: Annotated[str, typer.Option("--backend", "-b", help="Where the servers run: twisted or nginx.")] = "twisted",
    direction: Annotated[Optional[str], typer.Option("--direction", "-d", help="northbound or southbound (default: the documented one).", show_default=False)] = None,
    resolution: Annotated[Optional[list[str]], typer.Option("--resolution", "-r", help="Only these resolutions (default: all).", show_default=False)] = None,
    capture: CaptureOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    scenarios: Annotated[Optional[Path], typer.Option("--scenarios", help="Scenario directory (default: the repo's scenarios/).", show_default=False)] = None,
    certs: Annotated[Optional[Path], typer.Option("--certs", help="Where the lab PKI lives (default: the repo's certs/).", show_default=False)] = None,
) -> None:
    """The handshake as the documents draw it: the fault, then each fix, message by message.

    Runs the scenario with one client through the recorder and numbers what passed:
    '#1 C->S ClientHello TLSv1.2, no server_name, 31 cipher suites', '#2 S->C Alert fatal
    handshake_failure'. Certificate faults show the served chain (subject / issuer), OCSP
    faults the CertificateStatus. Exits 1 when a check of the run failed.

    Examples:

      tlslab ladder sni-required

      tlslab ladder incomplete-chain --client curl --capture out/

      tlslab ladder protocol-mismatch --backend nginx --json
    """
    from lab.harness import Harness
    from lab.paths import default_certs_dir
    from lab.pki import Pki
    from lab.probes import make_probes, parse_clients
    from lab.scenario import GATEWAY, Catalog, Direction
    from lab.backends import make_backend

    with lab_errors(), contextlib.ExitStack() as stack:
        scenario = Catalog.load(scenarios).get(scenario_id)
        try:
            chosen = Direction.parse(direction) if direction else None
        except ValueError as exc:
            raise UserInputError(f"--direction: {exc}") from None
        southbound = (chosen or scenario.direction) is Direction.SOUTHBOUND
        client = client or (GATEWAY if southbound else "openssl")
        if client == GATEWAY and not southbound:
            raise UserInputError("--client gateway: there is a gateway only southbound (--direction southbound)")
        names = [GATEWAY] if client == GATEWAY else parse_clients(client)
        if len(names) != 1:
            raise UserInputError("--client: the ladder draws one client's handshakes; name exactly one")
        directory = capture or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tlslab-ladder-")))
        session = stack.enter_context(CaptureSession(directory))
        pki = Pki.ensure(certs or default_certs_dir(), on_generate=lambda why: err.print(f"generating the lab PKI ({why}) …"))
        probes = [] if names == [GATEWAY] else make_probes(names)  # the gateway is always there southbound
        harness = Harness(make_backend(backend), probes, pki, capture=session)
        if harness.unavailable:
            raise UserInputError(f"--client: {names[0]} cannot run here: {harness.unavailable[names[0]]}")
        report = harness.run([scenario], chosen, resolution)
        session.flush()
        phases = _ladder_phases(report, directory, names[0])
    result = report.results[0]
    if as_json:
        out.print_json(json.dumps({"scenario": scenario.id, "backend": report.backend, "client": names[0],
                                   "direction": result.direction.value, "passed": report.passed,
                                   "error": result.error, "phases": ladder_json_safe(phases)}))
        raise typer.Exit(0 if report.passed else 1)
    for line in textwrap.wrap(f"{scenario.id}: {scenario.title}", 80, subsequent_indent="  "):
        out.print(line)
    out.print(f"backend {report.backend}, client {names[0]}, {result.direction.value}"
              + (f"; captures in {directory}/" if capture else ""))
    if result.error:
        err.print(f"error: {result.error}")
    for p in phases:
        out.print("")
        head = "fault" if p["phase"] == "fault" else f"fix {p['phase'][4:]}"
        for line in textwrap.wrap(f"{head}: {p['summary']}", 80, subsequent_indent="  "):
            out.print(line)
        if not p["handshakes"]:
            out.print(f"  (no connection recorded: {p['check']})")
        for h in p["handshakes_obj"]:
            for line in ladder_lines(h, 78):
                out.print("  " + line)
        out.print(f"  {names[0]}: {p['check']}")
    raise typer.Exit(0 if report.passed else 1)


def _ladder_phases(report: Any, directory: Path, client: str) -> list[dict[str, Any]]:
    from lab.harness import APP
    from lab.scenario import GATEWAY

    phases = []
    result = report.results[0]
    for phase in result.phases:
        label = f"fix-{phase.resolution}" if phase.resolution else "fault"
        path = group_path(directory, result.scenario, label, client)
        handshakes = read_capture(path) if path.exists() else ()
        check = next((c for c in phase.checks if c.client == (APP if client == GATEWAY else client)), None)
        outcome = check.outcome if check else None
        seen = str(outcome.symptom) + (f", the gateway logged {outcome.upstream}" if outcome.upstream else "") \
            if outcome else ""
        verdict = "n/a" if check is None else (
            f"{check.status}: " + (check.not_applicable or seen or check.note)
            + (f" (expected {' or '.join(map(str, check.expected))})" if check.status == "fail" else ""))
        phases.append({"phase": label, "summary": phase.summary, "capture": str(path) if path.exists() else None,
                       "check": verdict, "handshakes": [handshake_json(h) for h in handshakes],
                       "handshakes_obj": handshakes})
    return phases


def ladder_json_safe(phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in p.items() if k != "handshakes_obj"} for p in phases]

