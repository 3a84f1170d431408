"""The ``tlslab`` command: the only module that prints.

Exit codes: 0 success; 1 a run's checks failed (a symptom did not reproduce, or a fix did
not fix); 2 bad input (flags, scenario ids, scenario files); 3 this machine cannot do it
(a port in use, a missing tool or docker engine).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lab import __version__
from lab.commands.ocsp import ocsp_app
from lab.commands.pcap import (CaptureOpt, capture_request, capture_session, capture_up, capture_up_note,
                               captured_summary, print_failure_ladders)
from lab.errors import EnvironmentError_, LabError, UserInputError
from lab.harness import APP, Harness, Phase, RunReport, ScenarioResult, deployed
from lab.paths import default_certs_dir
from lab.pki import CATALOGUE, Pki
from lab.probes import PROBES, make_probes, parse_clients
from lab.probes.base import ClientFiles, Target
from lab.report import report_json, report_junit
from lab.runstate import recorded_up, sweep_all
from lab.scenario import GATEWAY, Catalog, Direction, Scenario
from lab.servers import BACKENDS, make_backend
from lab.servers.base import DeployRequest
from lab.specs import ClientSpec, ServerSpec, spec_as_dict, spec_diff

out = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)

app = typer.Typer(
    name="tlslab",
    help="Reproduce documented TLS handshake failures locally, check the symptom, verify each fix.\n\n"
    "Examples:\n\n  tlslab list\n\n  tlslab run --all\n\n  tlslab run sni-required --client openssl,curl --json\n\n"
    "  tlslab up expired-server-cert",
    no_args_is_help=True,
    add_completion=False,
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


def _fail(exc: LabError) -> None:
    err.print(f"[bold red]error:[/] {exc}", markup=True)
    raise typer.Exit(2 if isinstance(exc, UserInputError) else 3)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Every LabError becomes one line on stderr and an exit code, never a traceback."""
    try:
        yield
    except LabError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        # Context managers have already stopped every server, probe process and container.
        err.print("\ninterrupted; nothing left running.")
        raise typer.Exit(130) from None


def _catalog(scenarios: Path | None) -> Catalog:
    return Catalog.load(scenarios)


def _pki(certs: Path | None, quiet: bool = False) -> Pki:
    def announce(reason: str) -> None:
        if not quiet:
            err.print(f"generating the lab PKI ({reason}) …")

    return Pki.ensure(certs or default_certs_dir(), on_generate=announce)


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
        out.print_json(json.dumps([
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
    out.print(table)


# --------------------------------------------------------------------------------------- show
def _manual_steps(scenario: Scenario, direction: Direction, pki: Pki) -> list[str]:
    """How to try the fault by hand, with the lab's own command lines (PORT from `tlslab up`)."""
    from lab.probes import curl as curl_probe
    from lab.probes import openssl_cli
    _, client = scenario.specs()
    files = ClientFiles.for_spec(client, pki)
    target = Target("127.0.0.1", 0, scenario.servername)
    ossl = openssl_cli.shell_command(target, client, files).replace(":0 ", ":PORT ")
    curl = " ".join(curl_probe.command(target, client, files)).replace(":0:", ":PORT:").replace(":0/", ":PORT/")
    role = "backend" if direction is Direction.SOUTHBOUND else "server"
    steps = [f"tlslab up {scenario.id}" + (f" --direction {direction.value}" if direction is not scenario.direction else "")
             + f"     # prints the {role} PORT" + (" and the gateway's" if direction is Direction.SOUTHBOUND else "")]
    if direction is Direction.SOUTHBOUND:
        steps.append("curl -i http://127.0.0.1:GATEWAY_PORT/     # the app's view: 503 Service Unavailable")
        steps.append("# the gateway's TLS settings, replayed against the backend:")
    steps += [ossl, curl.replace(" --write-out \ntlslab-http-status:%{http_code}", "")]
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
) -> None:
    """The fault, the documented symptom, each resolution, and how to try it by hand.

    With --backend nginx, also the nginx configuration with the fault and each resolution as a
    directive diff (e.g. tlslab show sni-required --backend nginx).

    Example: tlslab show cipher-mismatch
    """
    with _errors():
        scenario = _catalog(scenarios).get(scenario_id)
        chosen = _direction(direction) or scenario.direction
        pki = _pki(certs, quiet=as_json)
    clients = [*PROBES, GATEWAY]
    if backend not in BACKENDS:
        _fail(UserInputError(f"--backend: unknown backend {backend!r}; choose from {', '.join(BACKENDS)}"))
    expected = {c: [str(s) for s in scenario.expect.for_client(c, backend, chosen)] for c in clients}
    fault_client = scenario.client
    not_applicable = {name: why for name, make in PROBES.items()
                      if (why := make().unsupported_reason(fault_client) or scenario.expect.not_applicable.get(name))}
    if as_json:
        out.print_json(json.dumps({
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
                         "changes": [{"side": side, "field": f, "before": b, "after": a}
                                     for side, before, after in (("server", scenario.server, r.apply(scenario.server, scenario.client)[0]),
                                                                 ("client", scenario.client, r.apply(scenario.server, scenario.client)[1]))
                                     for f, b, a in spec_diff(before, after)]}
                for r in scenario.resolutions
            },
            "manual": _manual_steps(scenario, chosen, pki),
            **({"nginx": _nginx_show_json(scenario, chosen)} if backend == "nginx" else {}),
        }))
        return
    client_role = "gateway (Message Processor)" if chosen is Direction.SOUTHBOUND else "client"
    server_role = "backend" if chosen is Direction.SOUTHBOUND else "server (Edge Router)"
    out.print(Text(f"{scenario.id}: {scenario.title}", style="bold"))
    out.print(f"source:     {scenario.document}" + (f", section '{scenario.section}'" if scenario.section else ""))
    out.print(f"direction:  {chosen.value}" + ("" if chosen is scenario.direction else f" (documented: {scenario.direction.value})"))
    out.print(f"fault:      {scenario.fault}")
    out.print(f"documented: {scenario.expect.documented}")
    out.print(f"\n{server_role}: " + "; ".join(_spec_lines(scenario.server, ServerSpec())))
    out.print(f"{client_role}: " + "; ".join(_spec_lines(scenario.client, ClientSpec())))
    out.print("\nexpected symptom per client:")
    for c in clients:
        if c == GATEWAY and chosen is not Direction.SOUTHBOUND:
            continue
        label = "app (via gateway)" if c == GATEWAY else c
        shown = ("http:503, gateway logs " if c == GATEWAY else "") + " or ".join(expected[c])
        if c in not_applicable:
            shown = f"n/a: {not_applicable[c]}"
        out.print(f"  {label:18} {shown}")
    out.print("\nresolutions:")
    for r in scenario.resolutions:
        server, client = r.apply(scenario.server, scenario.client)
        out.print(Text(f"  {r.name}" + ("  (recommended)" if r.recommended else ""), style="bold"))
        out.print(f"    {r.summary}")
        if r.documented:
            out.print(f"    document: \"{r.documented}\"")
        for side, before, after in (("server", scenario.server, server), ("client", scenario.client, client)):
            for f, b, a in spec_diff(before, after):
                out.print(f"    {side}.{f}: {b} -> {a}")
    out.print("\ntry it by hand:")
    for step in _manual_steps(scenario, chosen, pki):
        out.print(f"  {step}")
    if backend == "nginx":
        from lab.nginx_config import show_text
        out.print("\nnginx (example ports; `tlslab up --backend nginx` renders the same with free ports):")
        out.print(show_text(scenario, chosen))


def _nginx_show_json(scenario: Scenario, direction: Direction) -> dict[str, Any]:
    from lab.nginx_config import explain
    info = explain(scenario, direction)
    return {"lab_role": info.lab_role, "fault": info.fault,
            "resolutions": {r.resolution: {role: "\n".join(d) for role, d in r.diffs} for r in info.resolutions}}


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
            err.print(f"  {result.elapsed:.2f}s" + (f"  {result.error}" if result.error else ""))


def _cell(check: Any, shown_expected: str) -> Text:
    """'✓' when the client saw what the row says; otherwise what it saw instead."""
    if check.outcome is None:
        return Text("n/a" if check.not_applicable else "✗ not run", style="yellow" if check.not_applicable else "bold red")
    o = check.outcome
    label = str(o.symptom) if check.client != APP else (
        f"{o.http_status or o.symptom}" + (f" ({o.upstream})" if o.upstream else ""))
    if check.passed:
        if check.client == APP and not o.ok:
            return Text(f"✓ {o.http_status}" + ("" if str(o.upstream) == shown_expected else f" ({o.upstream})"),
                        style="green")
        same = str(o.symptom) == shown_expected
        return Text("✓" if same or (o.ok and shown_expected == "ok") else f"✓ {label}", style="green")
    return Text(f"✗ {label}", style="bold red")


def _print_report(report: RunReport, verbose: bool) -> None:
    clients = list(report.clients)
    if any(c.client == APP for r in report.results for p in r.phases for c in p.checks):
        clients.append(APP)
    table = Table(title=f"tlslab run, backend {report.backend}: ✓ = the client saw the expected symptom",
                  title_justify="left")
    table.add_column("scenario", style="bold", no_wrap=True)
    table.add_column("phase", no_wrap=True)
    table.add_column("expected", no_wrap=True)
    for c in clients:
        table.add_column("app→gateway" if c == APP else c)
    for result in report.results:
        if result.error:
            table.add_row(result.scenario, "error", Text(result.error, style="bold red"))
            continue
        for i, phase in enumerate(result.phases):
            by_client = {c.client: c for c in phase.checks}
            label = "fault" if phase.resolution is None else f"fix: {phase.resolution}"
            expected = " or ".join(map(str, phase.expected))
            name = f"{result.scenario} ({result.direction.value[:5]})" if i == 0 else ""
            table.add_row(name, label, expected,
                          *[_cell(by_client[c], expected) if c in by_client else Text("") for c in clients],
                          end_section=i == len(result.phases) - 1)
    out.print(table)
    failures = [(r, p, c) for r in report.results for p in r.phases for c in p.checks if c.status == "fail"]
    not_applicable = {(r.scenario, c.client, c.not_applicable) for r in report.results for p in r.phases
                      for c in p.checks if c.not_applicable}
    for scenario, client, why in sorted(not_applicable):  # never silent: say why a client could not observe
        out.print(Text(f"n/a {scenario} / {client}: {why}", style="yellow"))
    for r, p, check in failures:
        out.print(Text(f"✗ {r.scenario} / {p.resolution or 'fault'} / {check.client}: {check.note}", style="red"))
        if check.outcome and verbose:
            out.print(f"    raw: {check.outcome.raw}")
    if verbose:
        for r in report.results:
            for p in r.phases:
                for check in p.checks:
                    if check.outcome and check.passed:
                        out.print(f"  {r.scenario} / {p.resolution or 'fault'} / {check.client}: {check.outcome.raw}"
                                  + (f"  [gateway: {check.outcome.upstream_raw}]" if check.outcome.upstream_raw else ""))
    for client, reason in report.unavailable.items():
        out.print(Text(f"! {client} could not run: {reason}", style="yellow"))
    total = sum(len(p.checks) for r in report.results for p in r.phases)
    verdict = Text("PASS" if report.passed else "FAIL", style="bold green" if report.passed else "bold red")
    out.print(Text.assemble(verdict, f"  {len(report.results)} scenarios, {total} checks, {len(failures)} failed, "
                                     f"{report.elapsed:.2f}s"))


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
) -> None:
    """Reproduce each fault, check every client's symptom, apply each resolution, check it fixes.

    Exits 0 only when every fault showed its documented symptom for every client and every
    resolution made every client succeed.

    Examples:

      tlslab run --all

      tlslab run sni-required --client openssl,curl --json

      tlslab run expired-server-cert --direction southbound --junit report.xml

      tlslab run sni-required --capture out/
    """
    # -v: record anyway (a temporary directory) so a failure can show its ladder
    with _errors(), capture_session(capture, temporary=verbose and not as_json) as session:
        if all_ and scenario_ids:
            raise UserInputError("give scenario ids or --all, not both")
        if not all_ and not scenario_ids:
            raise UserInputError("name one or more scenarios (see 'tlslab list') or use --all")
        catalog = _catalog(scenarios)
        selected = catalog.select(None if all_ else scenario_ids)
        if resolution and len(selected) != 1:
            raise UserInputError("--resolution needs exactly one scenario")
        probes = make_probes(parse_clients(client))
        harness = Harness(make_backend(backend, image), probes, _pki(certs, quiet=as_json), _Progress(not as_json),
                          capture=session)
        if os.environ.get("CI") == "true" and harness.unavailable:
            raise EnvironmentError_("under CI=true every selected client must run: " + "; ".join(
                f"{k}: {v}" for k, v in harness.unavailable.items()))
        report = harness.run(selected, _direction(direction), resolution)
    if capture is not None and session is not None and not as_json:
        err.print(captured_summary(session))
    if junit:
        junit.write_text(report_junit(report))
    if as_json:
        out.print_json(json.dumps(report_json(report)))
    else:
        _print_report(report, verbose)
        if verbose:
            print_failure_ladders(out, report, session)
    raise typer.Exit(0 if report.passed else 1)


# ----------------------------------------------------------------------------------------- up
def _raise_on_sigterm() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

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
) -> None:
    """Keep a scenario's servers running for manual exploration; Ctrl-C stops and cleans up.

    With --json, prints exactly one JSON line once every server is ready:
    {"scenario", "resolution", "direction", "backend", "endpoints": [{"role", "host", "port",
    "servername", "ca_file", "client_cert"?, "client_key"?, ...}]}.

    Examples:

      tlslab up expired-server-cert

      tlslab up protocol-mismatch --resolution upgrade-backend-tls12 --json

      tlslab up expired-server-cert --capture out/
    """
    with _errors():
        scenario = _catalog(scenarios).get(scenario_id)
        res = scenario.resolution(resolution) if resolution else None
        chosen = _direction(direction) or scenario.direction
        if chosen not in scenario.directions:
            raise UserInputError(f"--direction: {scenario.id} runs {', '.join(d.value for d in scenario.directions)} only")
        if not 0 <= port <= 65535:
            raise UserInputError("--port must be between 0 and 65535")
        server, client = scenario.specs(res)
        request = DeployRequest(scenario, server, client, chosen, _pki(certs, quiet=as_json), bind=bind, port=port)
        try:
            with capture_session(capture) as session, \
                    deployed(make_backend(backend, image),
                             capture_request(request, session, res.name if res else "fault")) as deployment, \
                    capture_up(session, deployment, scenario.id, res.name if res else "fault") as deployment, \
                    recorded_up({"scenario": scenario.id}):
                line = {"scenario": scenario.id, "resolution": res.name if res else None, "direction": chosen.value,
                        "backend": backend, "pid": os.getpid(),
                        "endpoints": [e.as_json() for e in deployment.endpoints]}
                if as_json:
                    sys.stdout.write(json.dumps(line) + "\n")
                    sys.stdout.flush()
                else:
                    _print_up(scenario, res.name if res else None, chosen, deployment, request)
                    if session is not None:
                        out.print(capture_up_note(session))
                threading.Event().wait()
        except KeyboardInterrupt:
            if not as_json:
                err.print("stopped; nothing left running.")


def _print_up(scenario: Scenario, resolution: str | None, direction: Direction, deployment: Any,
              request: DeployRequest) -> None:
    from lab.probes import openssl_cli
    out.print(Text(f"{scenario.id}" + (f" with {resolution}" if resolution else " (fault in place)")
                   + f", {direction.value}", style="bold"))
    for e in deployment.endpoints:
        out.print(f"  {e.role:8} {e.scheme}://{e.host}:{e.port}" + (f"  servername {e.servername}" if e.servername else ""))
    tls = next(e for e in deployment.endpoints if e.scheme == "https")
    files = ClientFiles.for_spec(request.client, request.pki)
    target = Target(deployment.tls_target.host, tls.port, scenario.servername)
    out.print("\ntry:")
    if deployment.gateway is not None:
        out.print(f"  curl -i http://{deployment.gateway.host}:{deployment.gateway.port}/")
    out.print(f"  {openssl_cli.shell_command(target, request.client, files)}")
    out.print(f"  curl -v --cacert {files.ca_file} --resolve {scenario.servername}:{tls.port}:{target.host} "
              f"https://{scenario.servername}:{tls.port}/"
              + (f" --cert {files.cert_file} --key {files.key_file}" if files.cert_file else ""))
    out.print("\nCtrl-C to stop.")


# --------------------------------------------------------------------------------------- down
@app.command()
def down(as_json: JsonOpt = False) -> None:
    """Stop and remove anything a crashed or abandoned run left behind.

    Example: tlslab down
    """
    with _errors():
        results = sweep_all()
    if as_json:
        out.print_json(json.dumps([{"what": r.what, "action": r.action} for r in results]))
        return
    for r in results:
        out.print(f"{r.action}: {r.what}")
    if not results:
        out.print("nothing to clean up.")


# -------------------------------------------------------------------------------------- certs
@app.command("certs")
def certs_(
    regenerate: Annotated[bool, typer.Option("--regenerate", help="Rebuild everything even if the cache is fresh.")] = False,
    certs: CertsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build (or rebuild) the lab PKI: CAs, server leaves, client certificates.

    Cached under certs/ and regenerated automatically when stale. Keys are mode 0600. The lab
    root CA is name-constrained to lab.test, localhost and loopback addresses.

    Example: tlslab certs --regenerate
    """
    directory = certs or default_certs_dir()
    generated: list[str] = []
    with _errors():
        pki = Pki.ensure(directory, regenerate=regenerate, on_generate=generated.append)
    rows = [{"name": e.name, "role": e.role, "validity": e.validity, "subject": e.common_name,
             "issuer": e.issuer, "cert": str(pki.cert_path(e.name)), "key": str(pki.key_path(e.name)),
             "description": e.description} for e in CATALOGUE]
    if as_json:
        out.print_json(json.dumps({"directory": str(directory), "generated": bool(generated),
                                   "reason": generated[0] if generated else None, "certificates": rows}))
        return
    out.print(("generated" if generated else "up to date") + f": {directory}" + (f" ({generated[0]})" if generated else ""))
    table = Table(box=None, pad_edge=False)
    for col in ("name", "role", "validity", "subject", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["role"], r["validity"], r["subject"], r["description"])
    out.print(table)


# ------------------------------------------------------------------- nginx: image and export
from lab.commands.export import export_app  # noqa: E402 - sub-apps of the nginx backend
from lab.commands.image import image_app  # noqa: E402

app.add_typer(image_app, name="image")
app.add_typer(export_app, name="export")

# ------------------------------------------------------------------- the symptom matrix
from lab.commands.matrix import matrix as _matrix  # noqa: E402 - docs/symptoms.md and docs/symptoms.json

app.command("matrix")(_matrix)

# ------------------------------------------------------------------- captures: a capture read back, the ladder
from lab.commands.pcap import ladder as _ladder, pcap as _pcap  # noqa: E402

app.command("pcap")(_pcap)
app.command("ladder")(_ladder)


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    if version:
        out.print(f"tlslab {__version__}")
        raise typer.Exit(0)


def main() -> None:
    _raise_on_sigterm()
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        err.print("interrupted; nothing left running.")
        sys.exit(130)
