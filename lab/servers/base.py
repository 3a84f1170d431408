"""What a backend hands back once a scenario's servers are up: endpoints and the gateway's log."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from lab.material import is_path
from lab.pki import Pki
from lab.probes.base import Target
from lab.scenario import Direction, Scenario
from lab.specs import ClientSpec, ServerSpec


IDLE_TIMEOUT = 10.0  # seconds a client may stall before a lab server drops it
# listen(2) backlog of every in-process server: Twisted's default of 50 drops connections that a
# burst of clients (a load test, a connect/close loop) opens faster than one reactor accepts them.
# The kernel caps it at net.core.somaxconn (4096 on current Linux).
LISTEN_BACKLOG = 1024


def loopback(host: str) -> str:
    """Where a local client reaches a server bound to `host` (a wildcard bind is reached on 127.0.0.1)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def local_host(bind: str) -> str:
    """The address a person on this machine uses for a server bound to `bind` (``::`` -> ``::1``)."""
    return "::1" if bind == "::" else loopback(bind)


def url_host(host: str) -> str:
    """`host` as it is written in a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def exposure(bind: str) -> str | None:
    """Where a server bound to `bind` can be reached from beyond this machine; None for loopback only."""
    if bind in ("", "0.0.0.0"):
        return "every IPv4 interface of this machine"
    if bind == "::":
        return "every interface of this machine (IPv6 and IPv4)"
    if bind == "localhost":
        return None
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        return f"whatever {bind} resolves to"
    return None if address.is_loopback else f"{bind}, which is not a loopback address"


@dataclass(frozen=True)
class Endpoint:
    """One listening server, as ``tlslab up --json`` reports it (a public interface: keep it stable)."""

    role: str  # "server" (northbound), "gateway" and "backend" (southbound)
    host: str
    port: int
    scheme: str  # "https" or "http"
    servername: str | None = None  # the name a client should send and verify
    ca_file: Path | None = None  # the trust anchor a correctly configured client uses
    client_cert: Path | None = None  # 2-way scenarios: the client certificate (with its chain)
    client_key: Path | None = None

    @property
    def url(self) -> str:
        """What a client on this machine opens (a wildcard listen address is no URL host)."""
        return f"{self.scheme}://{url_host(self.servername or local_host(self.host))}:{self.port}/"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "role": self.role, "host": self.host, "port": self.port, "scheme": self.scheme, "url": self.url,
            "servername": self.servername, "ca_file": str(self.ca_file) if self.ca_file else None,
        }
        if self.client_cert:
            out["client_cert"] = str(self.client_cert)
            out["client_key"] = str(self.client_key)
        return out


@dataclass(frozen=True)
class Deployment:
    """A scenario's servers, up and ready."""

    tls_target: Target  # where a TLS client (probe, or the gateway) meets the faulty server
    endpoints: tuple[Endpoint, ...]
    gateway: Endpoint | None = None  # southbound only
    gateway_log: Callable[[], list[str]] = field(default=lambda: [])  # the gateway's error log, oldest first
    server_log: Callable[[], list[str]] = field(default=lambda: [])  # the TLS server's log (e.g. OCSP stapling)
    config_text: str | None = None  # the server configuration as deployed (nginx.conf for nginx)
    # Requests the TLS server answered, one access-log line each, oldest first (nginx; Twisted reports
    # through DeployRequest.tap instead)
    access_log: Callable[[], list[str]] = field(default=lambda: [])
    # Why the gateway cannot realise the client spec (nginx's proxy has no OCSP check), so the app's
    # request through it cannot observe the phase: reported n/a with this reason, as a probe would be.
    gateway_not_applicable: str | None = None


@dataclass(frozen=True)
class DeployRequest:
    """Everything a backend needs to bring up one configuration of a scenario."""

    scenario: Scenario
    server: ServerSpec
    client: ClientSpec  # the gateway's TLS client settings (southbound)
    direction: Direction
    pki: Pki
    bind: str = "127.0.0.1"
    port: int = 0  # the front endpoint's port; 0 picks a free one
    # Captures: a lab server that holds the keys logs them here (pyOpenSSL's keylog callback signature).
    keylog: Callable[[Any, bytes], None] | None = None
    # Captures, southbound: where the gateway should connect to reach the backend (a recording relay in
    # front of it); the caller owns whatever it starts. None: the gateway connects to the backend directly.
    gateway_upstream: Callable[[Target], Target] | None = None
    # Southbound: the TLS backend's port (0 picks a free one); ``tlslab workshop`` plans every port.
    backend_port: int = 0
    # Observing every connection of a TLS server (``tlslab workshop``'s ladders and proofs): called with
    # (client address, server address) per accepted connection, it returns a ConnectionTap. Backends
    # that cannot observe their connections (nginx) ignore it.
    tap: "Callable[[tuple[str, int], tuple[str, int]], ConnectionTap] | None" = None

    @property
    def servername(self) -> str:
        return self.scenario.servername


class ConnectionTap(Protocol):
    """What a tapped server reports about one connection: raw bytes each way, the request, the end."""

    def data(self, from_client: bool, data: bytes) -> None: ...

    def request(self, head: bytes) -> None:
        """The HTTP request head, read after a completed handshake."""

    def closed(self) -> None: ...


class Backend(Protocol):
    name: str

    def unavailable_reason(self) -> str | None:
        """Why this backend cannot run here (e.g. no docker engine), or None."""

    def deploy(self, request: DeployRequest) -> AbstractContextManager[Deployment]:
        """Bring the servers up; leaving the context stops and removes everything."""


def endpoint_files(request: DeployRequest) -> dict[str, Path | None]:
    """The files a correctly configured client of this deployment uses."""
    pki = request.pki
    cert = request.client.certificate if request.scenario.two_way else None
    trust = request.client.trust
    return {
        # the lab's root, or the CA file a team brought for its own certificates
        "ca_file": pki.cert_path(trust if is_path(trust) else "root"),
        "client_cert": pki.fullchain_path(cert) if cert else None,
        "client_key": pki.key_path(cert, request.client.key) if cert else None,
    }


def responder_endpoints(url: str | None) -> tuple[Endpoint, ...]:
    """The CA's OCSP responder as an endpoint (role ``ocsp-responder``), when the deployment runs one."""
    if not url:
        return ()
    parts = urlsplit(url)
    return (Endpoint(role="ocsp-responder", host=parts.hostname or "127.0.0.1", port=parts.port or 80, scheme="http"),)


def proxy_endpoint(proxy: Target, request: DeployRequest) -> Endpoint:
    """The TLS-intercepting proxy in front of the server (role ``proxy``): where the clients connect."""
    return Endpoint(role="proxy", host=request.bind, port=proxy.port, scheme="https", servername=request.servername,
                    ca_file=request.pki.cert_path("proxy-root"))


def iter_roles(deployment: Deployment) -> Iterator[str]:
    return (e.role for e in deployment.endpoints)
