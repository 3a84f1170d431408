"""``tlslab export compose``: a self-contained docker compose project that reproduces one scenario.

The project holds the rendered nginx.conf of every role (northbound: the router; southbound: the
gateway *and* the faulty backend, both nginx, since Twisted does not travel), the lab PEMs those
configurations name, the client's trust anchor (and client certificate for 2-way TLS), each
resolution as a ready configuration plus its directive diff, and a README.txt saying how to run it
and which failure to expect. The templates live in ``compose/templates``.

Services use host networking, as the lab's containers do (see :mod:`lab.nginx.backend`),
and the image is the lab's offline one by default, overridable with ``TLSLAB_NGINX_IMAGE``.
"""

from __future__ import annotations

import shlex
import os
import shutil
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.material import label
from lab.nginx.image import compose_dir
from lab.errors import UserInputError
from lab.nginx.config import directive_diff, render_roles, server_limits
from lab.pki import EMPTY_BUNDLE, Pki
from lab.probes import curl, openssl_cli
from lab.probes.base import ClientFiles, Target
from lab.scenario import GATEWAY, Direction, Scenario
from lab.specs import ClientSpec

DEFAULT_TLS_PORT = 8443
DEFAULT_GATEWAY_PORT = 8080
SERVICE = {"router": "router", "gateway": "gateway", "backend": "backend"}


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    services: tuple[str, ...]
    direction: Direction
    tls_port: int
    gateway_port: int | None
    image: str


def _template(name: str) -> string.Template:
    return string.Template((compose_dir() / "templates" / name).read_text(encoding="utf-8"))


def _client_files(spec: ClientSpec, pki: Pki, outdir: Path) -> ClientFiles:
    """Copy the client's trust anchor (and client certificate) into pki/; paths relative to the project."""
    pki_dir = outdir / "pki"
    pki_dir.mkdir(parents=True, exist_ok=True)
    if spec.trust:
        trust = label(spec.trust)  # a catalogue name, or a file-name-safe label for a team's own file
        (pki_dir / f"{trust}.pem").write_bytes(pki.pem(spec.trust))
    else:  # trust = "": the empty bundle travels as is
        trust = EMPTY_BUNDLE.removesuffix(".pem")
        shutil.copyfile(pki.trust_path(spec.trust), pki_dir / f"{trust}.pem")
    cert = key = None
    if spec.certificate:
        name = label(spec.certificate)
        shutil.copyfile(pki.fullchain_path(spec.certificate), pki_dir / f"{name}-fullchain.pem")
        target = pki_dir / f"{name}.key"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others, not even briefly
        with os.fdopen(fd, "wb") as fh:
            fh.write(pki.key_pem(spec.certificate, spec.key))
        target.chmod(0o600)
        cert, key = Path(f"pki/{name}-fullchain.pem"), Path(f"pki/{name}.key")
    return ClientFiles(Path(f"pki/{trust}.pem"), cert, key)


def prepare_outdir(outdir: Path, force: bool) -> None:
    """Create `outdir` (empty unless `force`) and prove it writable, before any slow work (an image build)."""
    if outdir.exists() and not outdir.is_dir():
        raise UserInputError(f"OUTDIR {outdir} is a file; choose a new directory")
    if outdir.exists() and any(outdir.iterdir()) and not force:
        raise UserInputError(f"{outdir} is not empty; choose a new directory or pass --force to overwrite")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        probe = outdir / ".tlslab-write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UserInputError(f"OUTDIR {outdir}: cannot create or write it ({exc.strerror}); "
                             "choose a directory you can write") from None


def export_compose(scenario: Scenario, outdir: Path, pki: Pki, *, image: str, direction: Direction | None = None,
                   tls_port: int = DEFAULT_TLS_PORT, gateway_port: int = DEFAULT_GATEWAY_PORT,
                   force: bool = False) -> ExportResult:
    """Write the project into `outdir` (which must be empty or absent unless `force`)."""
    direction = direction or scenario.direction
    if direction not in scenario.directions:
        raise UserInputError(f"--direction: {scenario.id} runs {', '.join(d.value for d in scenario.directions)} only")
    southbound = direction is Direction.SOUTHBOUND
    if southbound and tls_port == gateway_port:
        raise UserInputError("--tls-port and --gateway-port must differ")
    beyond = server_limits(scenario.server, direction)
    if beyond:
        raise UserInputError(f"{scenario.id}: nginx cannot set this fault up, so no project would show it: {beyond}")
    prepare_outdir(outdir, force)

    fault = render_roles(scenario, scenario.server, scenario.client, direction, tls_port=tls_port,
                         gateway_port=gateway_port)
    for role, config in fault.items():
        config.write(outdir / SERVICE[role], pki)
        (outdir / "logs" / SERVICE[role]).mkdir(parents=True, exist_ok=True)

    resolution_lines: list[str] = []
    for r in scenario.resolutions:
        server, client = r.apply(scenario.server, scenario.client)
        fixed = render_roles(scenario, server, client, direction, tls_port=tls_port, gateway_port=gateway_port)
        rdir = outdir / "resolutions" / r.name
        for role, config in fixed.items():
            config.write(rdir / SERVICE[role], pki)
        diffs = {role: d for role in fault if (d := directive_diff(
            fault[role].text, fixed[role].text, f"{SERVICE[role]}/nginx.conf", f"{SERVICE[role]}/nginx.conf"))}
        lines = [line for d in diffs.values() for line in d]
        (outdir / "resolutions" / f"{r.name}.diff").write_text("\n".join(lines) + "\n" if lines
                                                                 else "# no nginx change: the fix is on the client\n")
        resolution_lines.append(f"  {r.name}{' (recommended)' if r.recommended else ''}: {r.summary}")
        changed = list(diffs)
        for role in changed:
            svc = SERVICE[role]
            resolution_lines.append(f"    cp -r resolutions/{r.name}/{svc}/. {svc}/ && docker compose kill -s SIGHUP {svc}")
        if changed:
            resolution_lines.append(f"    (the directive diff: resolutions/{r.name}.diff)")
        if r.client:
            fixed_files = _client_files(client, pki, outdir)
            target = Target("127.0.0.1", tls_port, scenario.servername)
            if not southbound:
                resolution_lines.append("    then, as the fixed client:  " + shlex.join(
                    openssl_cli.command(target, client, fixed_files)))

    files = _client_files(scenario.client, pki, outdir)
    target = Target("127.0.0.1", tls_port, scenario.servername)
    if southbound:
        roles = (f"  backend: nginx as the faulty TLS backend on 127.0.0.1:{tls_port} (backend/nginx.conf)\n"
                 f"  gateway: nginx as the Message Processor on http://127.0.0.1:{gateway_port}/ (gateway/nginx.conf),\n"
                 f"           proxying over TLS to the backend with the gateway's faulty client settings")
        reproduce = (f"  curl -i http://127.0.0.1:{gateway_port}/\n"
                     f"  grep -E '\\[(error|crit)\\]' logs/gateway/error.log\n"
                     f"  # the gateway's TLS settings, replayed against the backend by hand:\n"
                     f"  {shlex.join(openssl_cli.command(target, scenario.client, files))}")
        expected = ("HTTP/1.1 503 at the app (nginx words it 'Service Temporarily Unavailable'); the gateway's "
                    f"error log holds the TLS error. Lab symptom: {_expected(scenario, GATEWAY, direction)} "
                    "(with nginx as the backend an SNI-required backend sends unrecognized_name instead)")
        ports = f"{tls_port} and {gateway_port}"
    else:
        roles = f"  router: nginx as the Edge Router, TLS on 127.0.0.1:{tls_port} (router/nginx.conf)"
        reproduce = (f"  {shlex.join(openssl_cli.command(target, scenario.client, files))}\n"
                     f"  {_curl_line(target, scenario.client, files)}")
        expected = f"{_expected(scenario, 'openssl', direction)} (as the lab names it)"
        ports = str(tls_port)

    services = "".join(
        _template("service.yml").substitute(
            service=SERVICE[role], image=image, scenario=scenario.id,
            extra="    depends_on:\n      - backend\n" if role == "gateway" else "")
        for role in fault)
    (outdir / "docker-compose.yml").write_text(_template("docker-compose.yml").substitute(
        scenario=scenario.id, direction=direction.value, title=scenario.title, services=services.rstrip("\n") + "\n"))
    (outdir / "README.txt").write_text(_template("README.txt").substitute(
        scenario=scenario.id, direction=direction.value, title=scenario.title, document=scenario.document,
        section=f", section '{scenario.section}'" if scenario.section else "", fault=scenario.fault,
        documented=scenario.expect.documented, roles=roles, image=image, ports=ports, reproduce=reproduce,
        expected=expected, resolutions="\n".join(resolution_lines)))
    return ExportResult(outdir, tuple(SERVICE[r] for r in fault), direction, tls_port,
                        gateway_port if southbound else None, image)


def _curl_line(target: Target, spec: ClientSpec, files: ClientFiles) -> str:
    """The probe's curl command for a person: verbose, without the lab's status marker."""
    return curl.shell_command(target, spec, files)


def _expected(scenario: Scenario, client: str, direction: Direction) -> str:
    return " or ".join(str(s) for s in scenario.expect.for_client(client, "nginx", direction))


def compose_command() -> list[str] | None:
    """``docker compose`` (v2 plugin) if it works, else Debian's ``docker-compose`` (v1), else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None
