"""What a backend hands back once a scenario's servers are up: endpoints and the gateway's log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from lab.pki import Pki
from lab.probes.base import Target
from lab.scenario import Direction, Scenario
from lab.specs import ClientSpec, ServerSpec


IDLE_TIMEOUT = 10.0  # seconds a client may stall before a lab server drops it


def loopback(host: str) -> str:
    """Where a local client reaches a server bound to `host` (a wildcard bind is reached on 127.0.0.1)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


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
        return f"{self.scheme}://{self.servername or self.host}:{self.port}/"

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

    @property
    def servername(self) -> str:
        return self.scenario.servername


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
    return {
        "ca_file": pki.cert_path("root"),
        "client_cert": pki.fullchain_path(cert) if cert else None,
        "client_key": pki.key_path(cert) if cert else None,
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
