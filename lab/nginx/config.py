"""nginx configuration rendered from a scenario's specs: the directives a team would ship.

nginx plays APIGEE's roles:

* **router** (northbound): the Edge Router, a TLS server. ``ServerSpec`` becomes ``ssl_protocols``,
  ``ssl_ciphers``, ``ssl_certificate`` (leaf + the chain *as served*), a default server with
  ``ssl_reject_handshake`` or a default certificate for SNI, ``ssl_verify_client`` +
  ``ssl_client_certificate`` for 2-way TLS.
* **gateway** (southbound): the Message Processor, plain HTTP in and ``proxy_pass https://`` out.
  ``ClientSpec`` becomes ``proxy_ssl_protocols``, ``proxy_ssl_ciphers``, ``proxy_ssl_server_name``,
  ``proxy_ssl_name``, ``proxy_ssl_verify`` + ``proxy_ssl_trusted_certificate`` and
  ``proxy_ssl_certificate``; an upstream TLS failure answers 503, as Apigee does (nginx says 502).
* **backend** (southbound, compose export only): the faulty TLS server behind the gateway; the
  same rendering as the router. In the lab the backend is served by the Twisted backend.

Rendering is a pure function of the specs and ports, so the running backend, the compose export and
``show`` (a resolution as a directive diff) all see the same text. Semantics follow
:mod:`lab.contexts`: the cipher string goes through :func:`lab.tls.effective_ciphers` (TLSv1.0 needs
``@SECLEVEL=0`` on OpenSSL 3, in ``ssl_ciphers`` and in ``proxy_ssl_ciphers``), and the chain
served is exactly the spec's (nginx sets ``SSL_MODE_NO_AUTO_CHAIN`` itself).
"""

from __future__ import annotations

import difflib
import os
import tempfile
from typing import Any
from dataclasses import dataclass
from pathlib import Path

from lab.dhparams import DH_GROUPS
from lab.material import is_path, label
from lab.nginx.own import rewrite
from lab.nginx.stapling import StaplingFiles, nginx_stapling_directives
from lab.pki import CATALOGUE, Pki
from lab.scenario import Direction, Scenario
from lab.specs import ClientSpec, ServerSpec, SniPolicy
from lab.tls import Protocol, effective_ciphers

CONF_DIR = "/etc/tlslab"  # inside the container, mounted read-only: nginx.conf and certs/
LOG_DIR = "/var/log/tlslab"  # inside the container, mounted read-write: error.log, access.log
CONF_FILE = f"{CONF_DIR}/nginx.conf"
EXAMPLE_TLS_PORT = 8443  # the ports `show` renders with, so a diff shows only what a fix changes
EXAMPLE_GATEWAY_PORT = 8080
# What `show` and `export compose` name as the responder: the lab's responder lives only as long as a
# deployment (port 0), so a static rendering can only point where one would listen.
EXAMPLE_OCSP_RESPONDER = "http://127.0.0.1:8888/"
STAPLE_FILE = "ocsp-staple.der"  # under certs/: the DER response for ssl_stapling_file

_NGINX_PROTOCOL = {
    Protocol.TLSv1_0: "TLSv1", Protocol.TLSv1_1: "TLSv1.1", Protocol.TLSv1_2: "TLSv1.2", Protocol.TLSv1_3: "TLSv1.3",
}
_ERROR_LEVELS = ("[error]", "[crit]", "[alert]", "[emerg]")


@dataclass(frozen=True)
class PemFile:
    """A file under ``certs/`` in the config directory, named after the catalogue entries it holds."""

    name: str
    certs: tuple[str, ...] = ()  # catalogue certificates, concatenated in this order
    key_of: str | None = None  # or: the private key of this catalogue entry (or own certificate file)
    key_file: str | None = None  # with key_of an own certificate file: its key file (the spec's `key`)
    fullchain_of: str | None = None  # or: the entry's certificate with its chain (a client certificate)
    data: bytes | None = None  # or: literal content fetched at deploy (the DER OCSP response for ssl_stapling_file)
    source: str | None = None  # or: a copy of a file a team's own server block names (lab.nginx.own)
    secret: bool = False  # with source: a key (or password) file, written 0600

    @property
    def path(self) -> str:
        return f"{CONF_DIR}/certs/{self.name}"

    @property
    def private(self) -> bool:
        return self.key_of is not None or self.secret

    def content(self, pki: Pki) -> bytes:
        if self.data is not None:
            return self.data
        if self.source is not None:
            return Path(self.source).read_bytes()
        if self.key_of:
            return pki.key_pem(self.key_of, self.key_file)
        if self.fullchain_of:
            return pki.pem(self.fullchain_of) if is_path(self.fullchain_of) else (
                pki.fullchain_path(self.fullchain_of).read_bytes())
        return b"".join(pki.pem(n).rstrip(b"\n") + b"\n" for n in self.certs)


@dataclass(frozen=True)
class NginxConfig:
    """One rendered nginx.conf and the PEM files it refers to."""

    role: str  # "router", "gateway" or "backend"
    text: str
    files: tuple[PemFile, ...]

    def write(self, directory: Path, pki: Pki) -> None:
        """Write ``nginx.conf`` and ``certs/`` into `directory` (keys 0600; the config last, atomically)."""
        certs = directory / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        for pem in self.files:
            target = certs / pem.name
            data = pem.content(pki)
            if target.exists() and target.read_bytes() == data:
                continue
            _atomic_write(target, data, 0o600 if pem.private else 0o644)
        _atomic_write(directory / "nginx.conf", self.text.encode(), 0o644)


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _protocols(min_p: Protocol | None, max_p: Protocol | None) -> str:
    """The versions between min and max; an unset minimum means TLSv1.2, the lowest OpenSSL 3 allows by default."""
    high = max_p or Protocol.TLSv1_3
    low = min_p or min(Protocol.TLSv1_2, high)
    return " ".join(_NGINX_PROTOCOL[p] for p in Protocol if low <= p <= high)


def _names(names: tuple[str, ...]) -> str:
    return "+".join(label(n) for n in names)


def served_chain(certificate: str, chain: tuple[str, ...]) -> PemFile:
    return PemFile("served-" + _names((certificate, *chain)) + ".pem", certs=(certificate, *chain))


def _key(certificate: str, key: str | None = None) -> PemFile:
    return PemFile(f"{label(certificate)}.key", key_of=certificate, key_file=key)


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.files: list[PemFile] = []
        self.depth = 0

    def add(self, *lines: str) -> None:
        self.lines.extend(("    " * self.depth + ln) if ln else "" for ln in lines)

    def open(self, head: str) -> None:
        self.add(head + " {")
        self.depth += 1

    def close(self) -> None:
        self.depth -= 1
        self.add("}")

    def file(self, pem: PemFile) -> str:
        if pem not in self.files:
            self.files.append(pem)
        return pem.path


def _frame(out: _Lines, title: str, control_port: int | None, generation: str | None) -> None:
    out.add(f"# {title}", "# rendered by tlslab from the scenario's specs", "",
            "worker_processes 1;", "pid /tmp/tlslab-nginx.pid;", f"error_log {LOG_DIR}/error.log info;", "")
    out.open("events")
    out.add("worker_connections 256;")
    out.close()
    out.add("")
    out.open("http")
    out.add("default_type text/plain;", f"access_log {LOG_DIR}/access.log;", "server_tokens off;",
            "keepalive_timeout 0;",
            "# temp paths that exist in the lab's image and in the official nginx image alike",
            "client_body_temp_path /tmp/nginx-client-body;", "proxy_temp_path /tmp/nginx-proxy;",
            "fastcgi_temp_path /tmp/nginx-fastcgi;", "uwsgi_temp_path /tmp/nginx-uwsgi;",
            "scgi_temp_path /tmp/nginx-scgi;", "")
    if control_port is not None:
        # The lab's readiness check: a fresh port per generation, so an answer proves the new
        # configuration is live (workers of an older generation never had this socket).
        out.add("# tlslab control: readiness and configuration generation (not part of the scenario)")
        out.open("server")
        out.add(f"listen 127.0.0.1:{control_port};", "access_log off;")
        out.open("location = /tlslab/generation")
        out.add(f'return 200 "{generation or ""}\\n";')
        out.close()
        out.close()
        out.add("")


def listen_address(bind: str, port: int) -> str:
    """nginx's ``listen`` address: an IPv6 address in brackets (``[::]:8443``)."""
    return f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"


def _listen_options(listen: str) -> str:
    """``[::]`` is IPv6-only in nginx unless told otherwise; the lab's clients come over 127.0.0.1."""
    return " ipv6only=off" if listen.startswith("[::]:") else ""


def _tls_server_block(out: _Lines, listen: str, scenario_id: str, servername: str | None, certificate: str | None,
                      chain: tuple[str, ...], default_server: bool, comment: str, key: str | None = None) -> None:
    out.add(f"# {comment}")
    out.open("server")
    # listen options belong to one server block per address: the default server's
    options = f" default_server{_listen_options(listen)}" if default_server else ""
    out.add(f"listen {listen} ssl{options};")
    if servername:
        out.add(f"server_name {servername};")
    if certificate is None:
        out.add("ssl_reject_handshake on;")
    else:
        out.add(f"ssl_certificate {out.file(served_chain(certificate, chain))};",
                f"ssl_certificate_key {out.file(_key(certificate, key))};")
        out.open("location /")
        out.add(f'return 200 "tlslab {scenario_id}: TLS handshake OK\\n";')
        out.close()
    out.close()


def server_limits(server: ServerSpec, direction: Direction) -> str | None:
    """Why nginx as the TLS server (northbound) cannot set up `server`'s fault, or None. Southbound the
    faulty server is the Twisted backend, which can."""
    if direction is not Direction.NORTHBOUND:
        return None
    if server.alpn:
        return ("nginx cannot refuse a client that offers no h2: with http2 on the listen it offers h2 and "
                "http/1.1 and serves HTTP/1.1 to the rest (it has no HTTP/2-only switch)")
    if not server.close_notify:
        return "nginx always sends close_notify before closing a TLS connection (no directive turns it off)"
    return None


def render_server(scenario_id: str, servername: str, spec: ServerSpec, *, port: int, bind: str = "127.0.0.1",
                  role: str = "router", control_port: int | None = None, generation: str | None = None,
                  ocsp_responder: str | None = EXAMPLE_OCSP_RESPONDER, ocsp_staple: bytes | None = None) -> NginxConfig:
    """nginx as a TLS server: the Edge Router (northbound) or the faulty backend (southbound, compose).

    `ocsp_responder` is the URL nginx fetches staples from (the deployment's live responder; None when
    the certificate names none), `ocsp_staple` the DER response for ``ssl_stapling_file`` (fetched at
    deploy; without it the directive is rendered for display but no file is written).
    """
    out = _Lines()
    what = "the Edge Router (TLS server), northbound" if role == "router" else "the backend (TLS server), southbound"
    _frame(out, f"tlslab {scenario_id}: nginx as {what}", control_port, generation)
    listen = listen_address(bind, port)
    if spec.nginx_conf:
        return _own_server(out, role, spec.nginx_conf, listen)
    if spec.scheme == "http":
        out.add("# a plain-HTTP port: no TLS at all (what a client's https:// URL points at by mistake)")
        out.open("server")
        out.add(f"listen {listen} default_server{_listen_options(listen)};", f"server_name {servername};")
        out.open("location /")
        out.add(f'return 200 "tlslab {scenario_id}: plain HTTP OK\\n";')
        out.close()
        out.close()
        out.close()
        return NginxConfig(role, "\n".join(out.lines) + "\n", tuple(out.files))
    out.add("# TLS policy for every server on this port")
    out.add(f"ssl_protocols {_protocols(spec.min_protocol, spec.max_protocol)};")
    ciphers = effective_ciphers(spec.ciphers, spec.min_protocol)
    if ciphers:
        out.add(f'ssl_ciphers "{ciphers}";')
    out.add("ssl_session_tickets off;")
    if spec.dh_params:
        out.add(f"# DHE key exchange with the {spec.dh_params} group (lab/dhparams.py)",
                f"ssl_dhparam {out.file(PemFile(f'dh-{spec.dh_params}.pem', data=DH_GROUPS[spec.dh_params]))};")
    if spec.ocsp_stapling:
        trusted = PemFile("ocsp-trusted-" + _names(spec.ocsp_trusted) + ".pem", certs=spec.ocsp_trusted)
        staple = PemFile(STAPLE_FILE, data=ocsp_staple)
        files = StaplingFiles(trusted=out.file(trusted) if spec.ocsp_trusted else None,
                              staple=(out.file(staple) if ocsp_staple else staple.path) if spec.ocsp_stapling_file
                              else None)
        out.add("# OCSP stapling; fetched lazily: the first handshake after a (re)load that asks carries no staple")
        if ocsp_responder and not spec.ocsp_stapling_file:
            out.add("# (the responder's live URL is explicit: the AIA names one that never resolves)")
        out.add(*nginx_stapling_directives(spec, ocsp_responder, files))
    if spec.client_auth:
        # 2-way TLS. nginx completes the handshake even for a bad client certificate and answers
        # HTTP 400 ("The SSL certificate error"); it never sends the certificate alert itself.
        out.add("ssl_verify_client on;", "ssl_verify_depth 2;",
                f"ssl_client_certificate {out.file(PemFile('client-cas-' + _names(spec.client_cas) + '.pem', certs=spec.client_cas))};")
    out.add("")
    if spec.sni is SniPolicy.IGNORE:
        _tls_server_block(out, listen, scenario_id, servername, spec.certificate, spec.chain, True,
                          "one certificate for every Client Hello, with or without server_name", spec.key)
    elif spec.sni is SniPolicy.REQUIRE:
        _tls_server_block(out, listen, scenario_id, None, None, (), True,
                          "SNI required: a Client Hello without (or with another) server_name is rejected")
        out.add("")
        _tls_server_block(out, listen, scenario_id, servername, spec.certificate, spec.chain, False,
                          f"the named server: only a Client Hello with server_name {servername}", spec.key)
    else:
        _tls_server_block(out, listen, scenario_id, None, spec.default_certificate or spec.certificate,
                          spec.default_chain, True,
                          "default server: a Client Hello without (or with another) server_name gets this certificate")
        out.add("")
        _tls_server_block(out, listen, scenario_id, servername, spec.certificate, spec.chain, False,
                          f"the named server: a Client Hello with server_name {servername}", spec.key)
    out.close()
    return NginxConfig(role, "\n".join(out.lines) + "\n", tuple(out.files))


def _own_server(out: _Lines, role: str, conf: str, listen: str) -> NginxConfig:
    """The team's own server block(s) inside the lab's frame: only listen, logs and file paths change."""
    block = rewrite(Path(conf), listen=listen, certs_dir=f"{CONF_DIR}/certs")
    out.add(f"# your server block(s) from {conf}, as written except where marked 'tlslab:'")
    for copied in block.files:
        out.file(PemFile(copied.name, source=str(copied.source), secret=copied.private))
    out.lines.extend(("    " + ln) if ln.strip() else "" for ln in block.text.splitlines())
    out.close()
    return NginxConfig(role, "\n".join(out.lines) + "\n", tuple(out.files))


def render_gateway(scenario_id: str, servername: str, spec: ClientSpec, *, port: int, upstream_port: int,
                   upstream_host: str = "127.0.0.1", bind: str = "127.0.0.1", control_port: int | None = None,
                   generation: str | None = None) -> NginxConfig:
    """nginx as the Message Processor: plain HTTP in, TLS to the backend with the gateway's client spec."""
    out = _Lines()
    _frame(out, f"tlslab {scenario_id}: nginx as the gateway (Message Processor), southbound", control_port, generation)
    out.open("server")
    listen = listen_address(bind, port)
    out.add(f"listen {listen}{_listen_options(listen)};")
    out.open("location /")
    out.add(f"proxy_pass https://{upstream_host}:{upstream_port};",
            f"proxy_set_header Host {servername};",
            f"proxy_ssl_protocols {_protocols(spec.min_protocol, spec.max_protocol)};")
    ciphers = effective_ciphers(spec.ciphers, spec.min_protocol)
    if ciphers:
        out.add(f'proxy_ssl_ciphers "{ciphers}";')
    out.add(f"proxy_ssl_server_name {'on' if spec.sni else 'off'};",
            f"proxy_ssl_name {servername};",
            "proxy_ssl_verify on;", "proxy_ssl_verify_depth 4;",
            f"proxy_ssl_trusted_certificate {out.file(PemFile(f'trust-{label(spec.trust)}.pem', certs=(spec.trust,)))};")
    if spec.certificate:
        out.add(f"proxy_ssl_certificate {out.file(PemFile(f'client-{label(spec.certificate)}-fullchain.pem', fullchain_of=spec.certificate))};",
                f"proxy_ssl_certificate_key {out.file(_key(spec.certificate, spec.key))};")
    out.add("proxy_ssl_session_reuse off;", "proxy_next_upstream off;",
            f"proxy_connect_timeout {spec.timeout:g}s;", f"proxy_read_timeout {spec.timeout:g}s;")
    out.close()
    out.add("# Apigee answers a failed TLS handshake with the target with 503; nginx's own answer is 502.",
            "error_page 502 =503 @upstream_tls_failed;")
    out.open("location @upstream_tls_failed")
    out.add('return 503 "503 Service Unavailable: the gateway could not reach the backend over TLS (see its error log)\\n";')
    out.close()
    out.close()
    out.close()
    return NginxConfig("gateway", "\n".join(out.lines) + "\n", tuple(out.files))


def render_roles(scenario: Scenario, server: ServerSpec, client: ClientSpec, direction: Direction, *,
                 tls_port: int = EXAMPLE_TLS_PORT, gateway_port: int = EXAMPLE_GATEWAY_PORT) -> dict[str, NginxConfig]:
    """Every nginx a direction involves: {"router"} northbound, {"gateway", "backend"} southbound."""
    responder = EXAMPLE_OCSP_RESPONDER if any(e.name == server.certificate and e.ocsp for e in CATALOGUE) else None
    if direction is Direction.NORTHBOUND:
        return {"router": render_server(scenario.id, scenario.servername, server, port=tls_port,
                                        ocsp_responder=responder)}
    return {
        "gateway": render_gateway(scenario.id, scenario.servername, client, port=gateway_port, upstream_port=tls_port),
        "backend": render_server(scenario.id, scenario.servername, server, port=tls_port, role="backend",
                                 ocsp_responder=responder),
    }


def directive_diff(before: str, after: str, before_label: str, after_label: str) -> tuple[str, ...]:
    """A unified diff of two rendered configurations: what a resolution changes, directive by directive."""
    return tuple(difflib.unified_diff(before.splitlines(), after.splitlines(), before_label, after_label,
                                      lineterm="", n=2))


@dataclass(frozen=True)
class ResolutionDiff:
    resolution: str
    summary: str
    recommended: bool
    diffs: tuple[tuple[str, tuple[str, ...]], ...]  # (role, unified diff lines) for each role a fix changes
    client_side: bool  # the fix changes a client the lab probes with, not an nginx (e.g. "send SNI")


@dataclass(frozen=True)
class NginxShow:
    """For ``tlslab show --backend nginx``: the configurations with the fault, and each fix as a diff."""

    scenario: str
    direction: Direction
    lab_role: str  # the role nginx plays in the lab (the other southbound role is Twisted there)
    fault: dict[str, str]  # role -> nginx.conf
    resolutions: tuple[ResolutionDiff, ...]


def explain(scenario: Scenario, direction: Direction | None = None) -> NginxShow:
    """Render the fault and every resolution; the diffs are over the same ports, so they show only the fix."""
    direction = direction or scenario.direction
    fault = render_roles(scenario, scenario.server, scenario.client, direction)
    out: list[ResolutionDiff] = []
    for r in scenario.resolutions:
        server, client = r.apply(scenario.server, scenario.client)
        fixed = render_roles(scenario, server, client, direction)
        diffs = tuple((role, d) for role in fault
                      if (d := directive_diff(fault[role].text, fixed[role].text,
                                              f"{role}/nginx.conf (fault)", f"{role}/nginx.conf ({r.name})")))
        client_side = bool(r.client) and direction is Direction.NORTHBOUND
        out.append(ResolutionDiff(r.name, r.summary, r.recommended, diffs, client_side))
    return NginxShow(scenario.id, direction, "router" if direction is Direction.NORTHBOUND else "gateway",
                     {role: c.text for role, c in fault.items()}, tuple(out))


def show_json(scenario: Scenario, direction: Direction | None = None) -> dict[str, Any]:
    """``show --backend nginx --json``: the role nginx plays, its config with the fault, each fix's diff."""
    info = explain(scenario, direction)
    return {"lab_role": info.lab_role, "fault": info.fault,
            "resolutions": {r.resolution: {role: "\n".join(d) for role, d in r.diffs} for r in info.resolutions}}


def show_text(scenario: Scenario, direction: Direction | None = None) -> str:
    """Plain text for a terminal: each configuration with the fault, then each resolution's diff."""
    info = explain(scenario, direction)
    parts: list[str] = []
    for role, text in info.fault.items():
        where = "" if role == info.lab_role else "  (the lab serves this role with Twisted; `export compose` uses nginx)"
        parts += [f"=== {role}/nginx.conf with the fault{where}", text.rstrip("\n"), ""]
    for r in info.resolutions:
        parts.append(f"=== resolution {r.resolution}{' (recommended)' if r.recommended else ''}: {r.summary}")
        for _, diff in r.diffs:
            parts += list(diff)
        if not r.diffs:
            parts.append("(no nginx directive changes: the fix is on the client"
                         + (", which the lab's probes play)" if r.client_side else ")"))
        parts.append("")
    return "\n".join(parts)


def error_lines(text: str) -> list[str]:
    """The lines of an nginx error log at level error or worse (TLS failures, bind failures, bad config)."""
    return [ln for ln in text.splitlines() if any(level in ln for level in _ERROR_LEVELS)]


_STAPLING_WORDS = ("ocsp", "stapling", "certificate status")


def stapling_lines(text: str) -> list[str]:
    """The lines of an nginx error log about OCSP stapling, any level ("issuer certificate not found" is a warn)."""
    return [ln for ln in text.splitlines() if any(w in ln.lower() for w in _STAPLING_WORDS)]
