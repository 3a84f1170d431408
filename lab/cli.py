"""The ``tlslab`` command: the only module that prints.

Exit codes: 0 success; 1 a run's checks failed (a symptom did not reproduce, or a fix did
not fix); 2 bad input (flags, scenario ids, scenario files); 3 this machine cannot do it
(a port in use, a missing tool or docker engine); 128 + the signal's number when a signal
stops a command (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), ``up`` included.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from lab import __version__
from lab.commands.ocsp import ocsp_app
from lab.commands.own import (CaFileOpt, ClientCaOpt, ClientCertOpt, ClientKeyOpt, NginxConfOpt, ProbeCmdOpt, ServerCertOpt,
                              ServerKeyOpt, apply_own)
from lab.commands.pcap import (CaptureOpt, capture_request, capture_session, capture_up, capture_up_note,
                               captured_summary, print_failure_ladders)
from lab.console import Signalled, emit, err, interrupted_code, lab_errors, out, para, print_json, say
from lab.errors import EnvironmentError_, UserInputError
from lab.harness import Harness, Phase, RunReport, ScenarioResult, deployed, gateway_limits_of, server_limits_of
from lab.material import OWN_PHASE
from lab.plan import APP, changes_of, plan_phase
from lab.paths import certs_dir, check_writable_file
from lab.pki import CATALOGUE, Pki
from lab.probes import PROBES, make_probes, parse_clients
from lab.probes.base import ClientFiles, Target
from lab.report import client_settings_json, report_json, report_junit
from lab.runstate import NOT_CHECKED, recorded_up, sweep_all
from lab.scenario import GATEWAY, Catalog, Direction, Scenario
from lab.backends import BACKENDS, cli_extras, entry, make_backend, show_renderers, sweepers
from lab.servers.base import DeployRequest, exposure, local_host, url_host
from lab.specs import ClientSpec, ServerSpec, spec_as_dict, spec_diff


app = typer.Typer(
    name="tlslab",
    help="Reproduce documented TLS handshake failures locally, check the symptom, verify each fix.\n\n"
    "Examples:\n\n  tlslab list\n\n  tlslab run --all\n\n  tlslab run sni-required --client openssl,curl --json\n\n"
    "  tlslab up expired-server-cert",
    no_args_is_help=True,
    add_completion=True,  # tlslab --install-completion (bash, zsh, fish)
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.add_typer(ocsp_app, name="ocsp")

ScenariosOpt = Annotated[Optional[Path], typer.Option("--scenarios", help="Scenario directory (default: the repo's scenarios/; env TLSLAB_SCENARIOS).", show_default=False)]
CertsOpt = Annotated[Optional[Path], typer.Option("--certs", help="Where the lab PKI lives (default: the repo's certs/; env TLSLAB_CERTS).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
BackendOpt = Annotated[str, typer.Option("--backend", "-b", help=f"Where the servers run: {', '.join(BACKENDS)}.")]
ImageOpt = Annotated[Optional[str], typer.Option("--image", help="With --backend nginx: the nginx image to run (default: the lab's, built offline; e.g. nginx:1.25).", show_default=False)]
DirectionOpt = Annotated[Optional[str], typer.Option("--direction", "-d", help="northbound or southbound (default: the documented one).", show_default=False)]


_errors = lab_errors  # every command's one error funnel (lab.console)


_print_json = print_json


def _catalog(scenarios: Path | None) -> Catalog:
    return Catalog.load(scenarios)


def _pki(certs: Path | None, quiet: bool = False) -> Pki:
    def announce(reason: str) -> None:
        if not quiet:
            err.print(f"generating the lab PKI ({reason}) …")

    return Pki.ensure(certs_dir(certs), on_generate=announce)


def _direction(text: str | None) -> Direction | None:
    if text is None:
        return None
    try:
        return Direction.parse(text)
    except ValueError as exc:
        raise UserInputError(f"--direction: {exc}") from None


# --------------------------------------------------------------------------------------- list
@app.command("list")
def list_(scenarios: ScenariosOpt = None, as_json: JsonOpt = False) -> None:
    """Every scenario: id, direction, the fault in one line.

    Example: tlslab list --json | jq -r '.[].id'
    """
    with _errors():
        catalog = _catalog(scenarios)
    if as_json:
        _print_json(([
            {"id": s.id, "title": s.title, "direction": s.direction.value,
             "directions": [d.value for d in s.directions], "two_way": s.two_way, "fault": s.fault,
             "resolutions": [r.name for r in s.resolutions]} for s in catalog
        ]))
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("id", style="bold")
    table.add_column("direction")
    table.add_column("fault")
    for s in catalog:
        table.add_row(s.id, s.direction.value + (" 2-way" if s.two_way else ""), s.fault)
    emit(table)


# --------------------------------------------------------------------------------------- show
def _manual_steps(scenario: Scenario, direction: Direction, pki: Pki) -> list[str]:
    """How to try the fault by hand, with the lab's own command lines (PORT from `tlslab up`)."""
    from lab.probes import curl as curl_probe
    from lab.probes import openssl_cli
    _, client = scenario.specs()
    files = ClientFiles.for_spec(client, pki)
    target = Target("127.0.0.1", 0, scenario.servername)
    ossl = openssl_cli.shell_command(target, client, files).replace(":0 ", ":PORT ")
    curl = curl_probe.shell_command(target, client, files).replace(":0:", ":PORT:").replace(":0/", ":PORT/")
    role = "backend" if direction is Direction.SOUTHBOUND else "server"
    steps = [f"tlslab up {scenario.id}" + (f" --direction {direction.value}" if direction is not scenario.direction else "")
             + f"     # prints the {role} PORT" + (" and the gateway's" if direction is Direction.SOUTHBOUND else "")]
    if direction is Direction.SOUTHBOUND:
        steps.append("curl -i http://127.0.0.1:GATEWAY_PORT/     # the app's view: 503 Service Unavailable")
        steps.append("# the gateway's TLS settings, replayed against the backend:")
    steps += [ossl, curl]
    steps.append(f"tlslab ladder {scenario.id}"
                 + (f" --direction {direction.value}" if direction is not scenario.direction else "")
                 + "     # the handshake message by message, fault then each fix")
    return steps


def _spec_lines(spec: Any, default: Any) -> list[str]:
    return [f"{name} = {new}" for name, _, new in spec_diff(default, spec)] or ["(defaults)"]


@app.command()
def show(
    scenario_id: Annotated[str, typer.Argument(metavar="SCENARIO", help="A scenario id (see 'tlslab list').")],
    direction: DirectionOpt = None,
    backend: Annotated[str, typer.Option("--backend", "-b", help="With nginx: also the nginx.conf with the fault and each resolution as a directive diff.")] = "twisted",
    scenarios: ScenariosOpt = None,
    certs: CertsOpt = None,
    as_json: JsonOpt = False,
    nginx_conf: NginxConfOpt = None,
) -> None:
    """The fault, the documented symptom, each resolution, and how to try it by hand.

    With --backend nginx, also the nginx configuration with the fault and each resolution as a
    directive diff (e.g. tlslab show sni-required --backend nginx).

    Example: tlslab show cipher-mismatch
    """
    with _errors():
        scenario = apply_own(_catalog(scenarios).get(scenario_id), backend, nginx_conf=nginx_conf)
        chosen = _direction(direction) or scenario.direction
        pki = _pki(certs, quiet=as_json)
        entry(backend)  # an unknown name is a clear error
        config_text, config_json = show_renderers(backend)
    # The fault phase's plan, as the harness will run it: expectations and n/a decided in one place.
    fault = plan_phase(scenario, chosen, None, backend, make_probes(list(PROBES)),
                       gateway_limits_of(make_backend(backend), scenario.client))
    clients = [*PROBES, GATEWAY]
    expected = {c: [str(s) for s in scenario.expect.for_client(c, backend, chosen)] for c in clients}
    not_applicable = {name: cp.not_applicable for name, cp in fault.clients.items() if cp.not_applicable}
    if APP in not_applicable:
        not_applicable[GATEWAY] = not_applicable.pop(APP)
    beyond = server_limits_of(make_backend(backend), scenario.server, chosen)  # the backend cannot set the fault up
    if as_json:
        _print_json(({
            "id": scenario.id, "title": scenario.title, "document": scenario.document, "section": scenario.section,
            "direction": scenario.direction.value, "directions": [d.value for d in scenario.directions],
            "fault": scenario.fault, "servername": scenario.servername,
            "symptom": {"documented": scenario.expect.documented, "expected": expected,
                        "not_applicable": not_applicable},
            "server": spec_as_dict(scenario.server), "client": spec_as_dict(scenario.client),
            "resolutions": {
                r.name: {"summary": r.summary, "documented": r.documented, "recommended": r.recommended,
                         "server": spec_as_dict(r.apply(scenario.server, scenario.client)[0]) if r.server else {},
                         "client": spec_as_dict(r.apply(scenario.server, scenario.client)[1]) if r.client else {},
                         "changes": [dataclasses.asdict(c) for c in changes_of(scenario, *scenario.specs(r))]}
                for r in scenario.resolutions
            },
            "manual": _manual_steps(scenario, chosen, pki),
            "backend_not_applicable": beyond,
            **({backend: config_json(scenario, chosen)} if config_json else {}),
        }))
        return
    client_role = "gateway (Message Processor)" if chosen is Direction.SOUTHBOUND else "client"
    server_role = "backend" if chosen is Direction.SOUTHBOUND else "server (Edge Router)"
    say(Text(f"{scenario.id}: {scenario.title}", style="bold"))
    say(f"source:     {scenario.document}" + (f", section '{scenario.section}'" if scenario.section else ""))
    say(f"direction:  {chosen.value}" + ("" if chosen is scenario.direction else f" (documented: {scenario.direction.value})"))
    say(f"fault:      {scenario.fault}")
    say(f"documented: {scenario.expect.documented}")
    if beyond:
        say(Text(f"n/a on {backend}: {beyond}", style="yellow"))
    say(f"\n{server_role}: " + "; ".join(_spec_lines(scenario.server, ServerSpec())))
    say(f"{client_role}: " + "; ".join(_spec_lines(scenario.client, ClientSpec())))
    say("\nexpected symptom per client:")
    for c in clients:
        if c == GATEWAY and chosen is not Direction.SOUTHBOUND:
            continue
        label = "app (via gateway)" if c == GATEWAY else c
        shown = ("http:503, gateway logs " if c == GATEWAY else "") + " or ".join(expected[c])
        if c in not_applicable:
            shown = f"n/a: {not_applicable[c]}"
        say(f"  {label:18} {shown}")
    say("\nresolutions:")
    for r in scenario.resolutions:
        server, client = r.apply(scenario.server, scenario.client)
        say(Text(f"  {r.name}" + ("  (recommended)" if r.recommended else ""), style="bold"))
        say(f"    {r.summary}")
        if r.documented:
            say(f"    document: \"{r.documented}\"")
        for change in changes_of(scenario, server, client):
            say(f"    {change.side}.{change.field}: {change.before} -> {change.after}")
    say("\ntry it by hand:")
    for step in _manual_steps(scenario, chosen, pki):
        say(f"  {step}")
    if config_text:
        say(f"\n{backend} (example ports; `tlslab up --backend {backend}` renders the same with free ports):")
        say(config_text(scenario, chosen))


# ---------------------------------------------------------------------------------------- run
class _Progress:
    """Observer: one line per scenario on stderr, so stdout stays clean for --json."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def scenario_started(self, scenario: Scenario, direction: Direction, phases: int) -> None:
        if self.enabled:
            err.print(f"  {scenario.id} ({direction.value}) …", end="")

    def phase_done(self, scenario: Scenario, phase: Phase) -> None:
        if self.enabled:
            err.print(" ✓" if phase.passed else " ✗", end="")

    def scenario_done(self, result: ScenarioResult) -> None:
        if self.enabled:
            err.print(" n/a" if result.not_applicable else f"  {result.elapsed:.2f}s"
                      + (f"  {result.error}" if result.error else ""))


_MARK = {"pass": "✓", "fail": "✗", "n/a": "-"}


def _mark(check: Any) -> Text:
    """✓ / ✗ / - (n/a), with † when the lab judged (its own check or its reading of the output)."""
    if check.outcome is None and not check.not_applicable:
        return Text("✗", style="bold red")  # could not run here
    mark = _MARK[check.status] + ("†" if check.judged_by == "lab" else "")
    return Text(mark, style={"pass": "green", "fail": "bold red", "n/a": "yellow"}[check.status])


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _client_label(client: str) -> str:
    return "app→gateway" if client == APP else client


def _print_report(report: RunReport, verbose: bool) -> None:
    """One line per phase, one narrow column per client: readable at 80 columns; details below."""
    clients = list(report.clients)
    if any(c.client == APP for r in report.results for p in r.phases for c in p.checks):
        clients.append(APP)
    para(f"tlslab run, backend {report.backend}")
    para("clients: " + "  ".join(f"{i} {_client_label(c)}" for i, c in enumerate(clients, 1)))
    para("✓ as expected  ✗ not as expected  - n/a  † judged by the lab, not the client")
    rows: list[tuple[str, str, list[Text]]] = []  # (phase label, expected, marks); label "" = scenario line
    for result in report.results:
        rows.append((f"{result.scenario} ({result.direction.value})", "", []))
        for phase in result.phases:
            by_client = {c.client: c for c in phase.checks}
            label = "  fault" if phase.resolution is None else f"  fix {phase.resolution}"
            rows.append((label, " or ".join(map(str, phase.expected)),
                         [_mark(by_client[c]) if c in by_client else Text("") for c in clients]))
    width = out.width
    marks_width = 3 * len(clients)
    label_width = min(max((len(r[0]) for r in rows if r[2]), default=8), 34)
    expected_width = max(8, min(max((len(r[1]) for r in rows), default=8), width - label_width - marks_width - 2))
    header = Text(f"{'scenario / phase':<{label_width}} {'expected':<{expected_width}} "
                  + "".join(f"{i:<3}" for i in range(1, len(clients) + 1)), style="bold")
    lines = [header]
    for label, expected, marks in rows:
        if not marks:
            lines.append(Text(label, style="bold"))
            continue
        line = Text(f"{_fit(label, label_width):<{label_width}} {_fit(expected, expected_width):<{expected_width}} ")
        for mark in marks:
            line.append_text(mark)
            line.append(" " * (3 - len(mark.plain)))
        lines.append(line)
    for line in lines:
        say(Text(line.plain.rstrip()) if not out.is_terminal else line)
    failures = [(r, p, c) for r in report.results for p in r.phases for c in p.checks if c.status == "fail"]
    for r in report.results:
        if r.error:
            para(Text(f"✗ {r.scenario}: the lab could not run it: {r.error}", style="bold red"))
        if r.not_applicable:
            para(Text(f"n/a {r.scenario} on {report.backend}: {r.not_applicable}", style="yellow"))
    # n/a is never silent, but each reason is said once, with the scenarios it applies to.
    reasons: dict[tuple[str, str], list[str]] = {}
    for r in report.results:
        for p in r.phases:
            for c in p.checks:
                if c.not_applicable and r.scenario not in reasons.setdefault((c.client, c.not_applicable), []):
                    reasons[(c.client, c.not_applicable)].append(r.scenario)
    for (client, why), ids in sorted(reasons.items()):
        para(Text(f"n/a {_client_label(client)}: {why} ({', '.join(ids)})", style="yellow"))
    for r, p, check in failures:
        say(Text(f"✗ {r.scenario} / {p.resolution or 'fault'} / {_client_label(check.client)}: {check.note}",
                 style="red"))
        if check.outcome:
            by = " (judged by the lab)" if check.judged_by == "lab" else ""
            say(f"    raw{by}: {check.outcome.raw}")
    if verbose:
        for r in report.results:
            for p in r.phases:
                for check in p.checks:
                    if check.outcome and check.passed:
                        say(f"  {r.scenario} / {p.resolution or 'fault'} / {_client_label(check.client)}: "
                            f"{check.outcome.symptom}: {check.outcome.raw}"
                            + (f"  [gateway: {check.outcome.upstream_raw}]" if check.outcome.upstream_raw else ""))
    judged = {c.client: c.outcome.judged_how for r in report.results for p in r.phases for c in p.checks
              if c.outcome and c.outcome.judged_how}
    for client, how in judged.items():
        para(f"{client}: judged by {how}")
    for client, reason in report.unavailable.items():
        say(Text(f"! {client} could not run: {reason}", style="yellow"))
    # A phase no selected client could observe (every check n/a) fails the run without a failed
    # check: say so, or "0 failed" with exit 1 reads as a lab bug.
    checks = [c for r in report.results for p in r.phases for c in p.checks]
    n_a = sum(1 for c in checks if c.status == "n/a")
    unobserved = [(r.scenario, p.resolution or "fault") for r in report.results for p in r.phases
                  if p.checks and all(c.not_applicable for c in p.checks)]
    if unobserved:
        para(Text(f"! {len(unobserved)} phases had no client that could observe them (every check n/a), "
                  "so they cannot pass: add a client that can (e.g. --client all)", style="yellow"))
    verdict = Text("PASS" if report.passed else "FAIL", style="bold green" if report.passed else "bold red")
    say(Text.assemble(verdict, f"  {len(report.results)} scenarios, {len(checks)} checks, {len(failures)} failed, "
                               + (f"{len(unobserved)} phases not observed, " if unobserved else "")
                               + f"{n_a} n/a, {report.elapsed:.2f}s"))


@app.command()
def run(
    scenario_ids: Annotated[Optional[list[str]], typer.Argument(metavar="[SCENARIO]...", help="Scenario ids; see 'tlslab list'.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Run every scenario.")] = False,
    client: Annotated[Optional[str], typer.Option("--client", "-c", help=f"Comma-separated clients, or 'all'. Default: python-ssl,pyopenssl,openssl,curl. Known: {', '.join(PROBES)}.", show_default=False)] = None,
    backend: BackendOpt = "twisted",
    image: ImageOpt = None,
    direction: DirectionOpt = None,
    resolution: Annotated[Optional[list[str]], typer.Option("--resolution", "-r", help="Only these resolutions (default: all).", show_default=False)] = None,
    as_json: JsonOpt = False,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Also write JUnit XML to this file.", show_default=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every client's raw message.")] = False,
    capture: CaptureOpt = None,
    scenarios: ScenariosOpt = None,
    certs: CertsOpt = None,
    server_cert: ServerCertOpt = None,
    server_key: ServerKeyOpt = None,
    ca_file: CaFileOpt = None,
    client_cert: ClientCertOpt = None,
    client_key: ClientKeyOpt = None,
    client_ca: ClientCaOpt = None,
    nginx_conf: NginxConfOpt = None,
    probe_cmd: ProbeCmdOpt = None,
) -> None:
    """Reproduce each fault, check every client's symptom, apply each resolution, check it fixes.

    Exits 0 only when every fault showed its documented symptom for every client and every
    resolution made every client succeed.

    Examples:

      tlslab run --all

      tlslab run sni-required --client openssl,curl --json

      tlslab run expired-server-cert --direction southbound --junit report.xml

      tlslab run incomplete-chain --server-cert ours/fullchain.pem --server-key ours/key.pem --ca-file ours/root.pem

      tlslab run --all --probe-cmd 'ours=python our_client.py {url} --servername {servername} --ca {ca_file}'

      tlslab run sni-required --capture out/
    """
    # -v: record anyway (a temporary directory) so a failure can show its ladder
    with _errors(), capture_session(capture, temporary=verbose and not as_json) as session:
        if all_ and scenario_ids:
            raise UserInputError("give scenario ids or --all, not both")
        if not all_ and not scenario_ids:
            raise UserInputError("name one or more scenarios (see 'tlslab list') or use --all")
        catalog = _catalog(scenarios)
        own = {"server_cert": server_cert, "server_key": server_key, "ca_file": ca_file, "client_cert": client_cert,
               "client_key": client_key, "client_ca": client_ca, "nginx_conf": nginx_conf}
        selected = [apply_own(s, backend, **own) for s in catalog.select(None if all_ else scenario_ids)]
        if resolution and len(selected) != 1:
            raise UserInputError("--resolution needs exactly one scenario")
        if junit:  # before the run, not after minutes of checks
            check_writable_file(junit, "--junit")
        from lab.probes.command import parse_probe_cmds
        names = parse_clients(client)
        probes = make_probes(names) + parse_probe_cmds(probe_cmd, names)
        harness = Harness(make_backend(backend, image), probes, _pki(certs, quiet=as_json), _Progress(not as_json),
                          capture=session)
        if os.environ.get("CI") == "true" and harness.unavailable:
            raise EnvironmentError_("under CI=true every selected client must run: " + "; ".join(
                f"{k}: {v}" for k, v in harness.unavailable.items()))
        report = harness.run(selected, _direction(direction), resolution)
    if capture is not None and session is not None and not as_json:
        err.print(captured_summary(session))
    if junit:
        try:
            junit.write_text(report_junit(report))
        except OSError as exc:
            with _errors():
                raise EnvironmentError_(f"--junit {junit}: cannot write the report ({exc.strerror})") from None
    if as_json:
        _print_json((report_json(report)))
    else:
        _print_report(report, verbose)
        if verbose:
            print_failure_ladders(out, report, session)
    raise typer.Exit(0 if report.passed else 1)


# ----------------------------------------------------------------------------------------- up
def _raise_on_sigterm() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise Signalled(signum)

    signal.signal(signal.SIGTERM, handler)
    # A background job of a non-interactive shell starts with SIGINT ignored; Ctrl-C must still work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, handler)


@app.command()
def up(
    scenario_id: Annotated[str, typer.Argument(metavar="SCENARIO", help="A scenario id (see 'tlslab list').")],
    resolution: Annotated[Optional[str], typer.Option("--resolution", "-r", help="Apply this resolution.", show_default=False)] = None,
    backend: BackendOpt = "twisted",
    image: ImageOpt = None,
    direction: DirectionOpt = None,
    port: Annotated[int, typer.Option("--port", "-p", help="Port of the front endpoint (0: a free one).")] = 0,
    bind: Annotated[str, typer.Option("--bind", help="Address to listen on. The lab's servers are for this machine only; change it only if you mean to expose them.")] = "127.0.0.1",
    as_json: JsonOpt = False,
    capture: CaptureOpt = None,
    scenarios: ScenariosOpt = None,
    certs: CertsOpt = None,
    server_cert: ServerCertOpt = None,
    server_key: ServerKeyOpt = None,
    ca_file: CaFileOpt = None,
    client_cert: ClientCertOpt = None,
    client_key: ClientKeyOpt = None,
    client_ca: ClientCaOpt = None,
    nginx_conf: NginxConfOpt = None,
) -> None:
    """Keep a scenario's servers running for manual exploration; Ctrl-C stops and cleans up.

    With --json, prints exactly one JSON line once every server is ready:
    {"scenario", "resolution", "direction", "backend", "endpoints": [{"role", "host", "port",
    "servername", "ca_file", "client_cert"?, "client_key"?, ...}]}.

    Examples:

      tlslab up expired-server-cert

      tlslab up protocol-mismatch --resolution upgrade-backend-tls12 --json

      tlslab up incomplete-chain --server-cert ours/fullchain.pem --server-key ours/key.pem --ca-file ours/root.pem

      tlslab up cipher-mismatch --backend nginx --nginx-conf ours/server.conf

      tlslab up expired-server-cert --capture out/
    """
    with _errors():
        scenario = apply_own(_catalog(scenarios).get(scenario_id), backend, server_cert=server_cert,
                             server_key=server_key, ca_file=ca_file, client_cert=client_cert, client_key=client_key,
                             client_ca=client_ca, nginx_conf=nginx_conf)
        if resolution is None and scenario.resolutions and scenario.resolutions[-1].name == OWN_PHASE:
            resolution = OWN_PHASE  # your material is what `up` serves
        res = scenario.resolution(resolution) if resolution else None
        chosen = _direction(direction) or scenario.direction
        if chosen not in scenario.directions:
            raise UserInputError(f"--direction: {scenario.id} runs {', '.join(d.value for d in scenario.directions)} only")
        if not 0 <= port <= 65535:
            raise UserInputError("--port must be between 0 and 65535")
        server, client = scenario.specs(res)
        if reach := exposure(bind):
            err.print(f"warning: --bind {bind} listens on {reach}:\n  other machines can connect to the lab's "
                      "deliberately broken servers (default: 127.0.0.1).")
        request = DeployRequest(scenario, server, client, chosen, _pki(certs, quiet=as_json), bind=bind, port=port)
        try:
            with capture_session(capture) as session, \
                    deployed(make_backend(backend, image),
                             capture_request(request, session, res.name if res else "fault")) as deployment, \
                    capture_up(session, deployment, scenario.id, res.name if res else "fault") as deployment, \
                    recorded_up({"scenario": scenario.id}):
                settings = client_settings_json(client, ClientFiles.for_spec(client, request.pki))
                line = {"scenario": scenario.id, "resolution": res.name if res else None, "direction": chosen.value,
                        "backend": backend, "pid": os.getpid(),
                        "endpoints": [{**e.as_json(), **({"scenario_client": settings} if e.scheme == "https" else {})}
                                      for e in deployment.endpoints]}
                if server.nginx_conf:
                    line["nginx_conf"] = deployment.config_text
                if as_json:
                    sys.stdout.write(json.dumps(line) + "\n")
                    sys.stdout.flush()
                else:
                    _print_up(scenario, res.name if res else None, chosen, deployment, request)
                    if session is not None:
                        say(capture_up_note(session))
                threading.Event().wait()
        except KeyboardInterrupt as exc:
            if not as_json:
                err.print("stopped; nothing left running.")
            raise typer.Exit(interrupted_code(exc)) from None


def _client_summary(spec: ClientSpec, files: ClientFiles) -> str:
    parts = [f"trusts {files.ca_file}", "sends SNI" if spec.sni else "sends no SNI"]
    if spec.min_protocol or spec.max_protocol:
        parts.append(f"protocols {spec.min_protocol.value if spec.min_protocol else '…'}-"
                     f"{spec.max_protocol.value if spec.max_protocol else '…'}")
    if spec.ciphers:
        parts.append(f"ciphers {spec.ciphers}")
    if files.cert_file:
        parts.append(f"client certificate {files.cert_file} (key {files.key_file})")
    if spec.revocation.value != "none":
        parts.append(f"OCSP {spec.revocation.value}")
    if spec.clock_offset_days:
        parts.append(f"clock {spec.clock_offset_days:+g} days")
    return "; ".join(parts)


def _print_up(scenario: Scenario, resolution: str | None, direction: Direction, deployment: Any,
              request: DeployRequest) -> None:
    from lab.probes import openssl_cli
    say(Text(f"{scenario.id}" + (f" with {resolution}" if resolution else " (fault in place)")
                   + f", {direction.value}", style="bold"))
    for e in deployment.endpoints:
        say(f"  {e.role:8} {e.scheme}://{url_host(local_host(e.host))}:{e.port}"
            + (f"  servername {e.servername}" if e.servername else "")
            + (f"  (listening on {url_host(e.host)}:{e.port})" if exposure(e.host) else ""))
    files = ClientFiles.for_spec(request.client, request.pki)
    # where a TLS client meets the faulty server: the proxy when one intercepts, the plain port for tls-to-plain-port
    target = Target(deployment.tls_target.host, deployment.tls_target.port, scenario.servername)
    say("\ntry:")
    if deployment.gateway is not None:
        say(f"  curl -i http://{deployment.gateway.host}:{deployment.gateway.port}/")
    say(f"  {openssl_cli.shell_command(target, request.client, files)}")
    curl = ["curl", "-v", "--cacert", str(files.ca_file), "--resolve", f"{scenario.servername}:{target.port}:{target.host}",
            f"{request.client.scheme}://{scenario.servername}:{target.port}/"]
    if files.cert_file and files.key_file:
        curl += ["--cert", str(files.cert_file), "--key", str(files.key_file)]
    say(f"  {shlex.join(curl)}")
    say("\nthe scenario's client" + (" (the gateway)" if deployment.gateway is not None else "")
        + (" with the fault" if resolution is None else "") + ": " + _client_summary(request.client, files))
    if request.server.nginx_conf and deployment.config_text:
        say(f"\nnginx.conf as deployed (your block from {request.server.nginx_conf}):")
        say(deployment.config_text.rstrip("\n"))
    say("\nCtrl-C to stop.")


# --------------------------------------------------------------------------------------- down
@app.command()
def down(as_json: JsonOpt = False) -> None:
    """Stop and remove anything a crashed or abandoned run left behind.

    Stops recorded tlslab up processes and the lab's nginx containers, then removes the lab's
    temporary directories whose owner process is gone (nginx configs with server keys, browser
    profiles, abandoned certs/.staging-* directories, certificate generations nobody uses).

    Example: tlslab down --json
    """
    with _errors():
        results = sweep_all(sweepers())
    unchecked = [r for r in results if r.action == NOT_CHECKED]
    if as_json:
        _print_json([{"what": r.what, "action": r.action, **({"path": str(r.path)} if r.path else {})}
                     for r in results])
    else:
        for r in results:
            if r.action != NOT_CHECKED:
                say(f"{r.action}: {r.what}")
        if not results:
            say("nothing to clean up.")
    for r in unchecked:
        say(Text.assemble(("error:", "bold red"), f" not checked: {r.what}"), err)
    if unchecked:
        raise typer.Exit(3)


# -------------------------------------------------------------------------------------- certs
@app.command("certs")
def certs_(
    regenerate: Annotated[bool, typer.Option("--regenerate", help="Rebuild everything even if the cache is fresh.")] = False,
    certs: CertsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build (or rebuild) the lab PKI: CAs, server leaves, client certificates.

    Cached under certs/ and regenerated automatically when stale. Keys are mode 0600. Every CA
    is name-constrained: server CAs to lab.test, localhost and loopback addresses, client CAs
    to names under lab.test. Each regeneration is a new generation (certs/gen-*/) switched in
    atomically as certs/current; a running up or run keeps the generation it started with.

    Example: tlslab certs --regenerate
    """
    generated: list[str] = []
    with _errors():
        directory = certs_dir(certs)
        pki = Pki.ensure(directory, regenerate=regenerate, on_generate=generated.append)
    rows = [{"name": e.name, "role": e.role, "validity": e.validity, "subject": e.common_name,
             "issuer": e.issuer, "cert": str(pki.cert_path(e.name)), "key": str(pki.key_path(e.name)),
             "description": e.description} for e in CATALOGUE]
    if as_json:
        _print_json({"directory": str(directory), "generation": str(pki.directory), "generated": bool(generated),
                     "reason": generated[0] if generated else None, "certificates": rows})
        return
    say(("generated" if generated else "up to date") + f": {directory}" + (f" ({generated[0]})" if generated else ""))
    say(f"generation: {pki.directory.name} (as {directory / 'current'})")
    table = Table(box=None, pad_edge=False)
    for col in ("name", "role", "validity", "subject", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["role"], r["validity"], r["subject"], r["description"])
    emit(table)


# ------------------------------------------------------ what the backends bring (lab.backends)
for _name, _sub_app in cli_extras():
    app.add_typer(_sub_app, name=_name)

# ------------------------------------------------------------------- the symptom matrix
from lab.commands.matrix import matrix as _matrix  # noqa: E402 - docs/symptoms.md and docs/symptoms.json

app.command("matrix")(_matrix)
from lab.commands.explain import explain as _explain  # noqa: E402 - from a client's message to the causes

app.command("explain")(_explain)

from lab.commands.diagnose import diagnose_command  # noqa: E402 - tlslab diagnose HOST:PORT

app.command("diagnose")(diagnose_command)

# ------------------------------------------------------------------- captures: a capture read back, the ladder
from lab.commands.pcap import ladder as _ladder, pcap as _pcap  # noqa: E402

app.command("pcap")(_pcap)
app.command("ladder")(_ladder)

from lab.commands.workshop import answer as _answer, workshop as _workshop  # noqa: E402 - a room's exercises

app.command("workshop")(_workshop)
app.command("answer")(_answer)


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    if version:
        say(f"tlslab {__version__}")
        raise typer.Exit(0)


def main() -> None:
    _raise_on_sigterm()
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt as exc:
        err.print("interrupted; nothing left running.")
        sys.exit(interrupted_code(exc))
