"""The Python API: bring a scenario's servers up from any test runner, point your client at them.

Small on purpose, like trustme's::

    import lab

    with lab.serve("expired-server-cert") as env:           # the fault in place
        r = our_client.get(env.url, verify_name=env.servername, ca=env.ca_file)
        assert r.failed                                     # our client must reject it

    with lab.serve("expired-server-cert", resolution="renew-server-certificate") as env:
        assert our_client.get(env.url, verify_name=env.servername, ca=env.ca_file).ok

    for case in lab.cases("all"):                           # every fault and every fix
        with lab.serve(case.scenario, case.resolution) as env:
            ...

Everything runs on 127.0.0.1 and is stopped when the ``with`` block ends, whatever happens in it.
The lab's host names (``api.lab.test``) do not resolve: connect to :attr:`Environment.url`
(``https://127.0.0.1:PORT/``) and send and verify :attr:`Environment.servername` (SNI and the
hostname check). A client that can map a name to an address (``curl --resolve``) can use
:attr:`Environment.name_url` instead. Errors are :class:`lab.errors.LabError` subclasses whose
message says what to do (a ``UserInputError`` for an unknown scenario or resolution).

The pytest plugin (:mod:`lab.pytest_plugin`) wraps this in fixtures.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import UserInputError
from lab.harness import deployed
from lab.material import OWN_PHASE, OwnMaterial
from lab.paths import default_certs_dir
from lab.pki import Pki
from lab.scenario import Catalog, Direction, Scenario, with_own_material
from lab.backends import make_backend
from lab.servers.base import DeployRequest
from lab.servers.base import Endpoint as _ServerEndpoint
from lab.specs import spec_as_dict


@dataclass(frozen=True)
class Endpoint:
    """One listening server of an environment.

    Attributes:
        role: ``"server"`` (northbound), ``"gateway"`` or ``"backend"`` (southbound), ``"ocsp-responder"``.
        host: the address to connect to (127.0.0.1).
        port: its port.
        url: ``scheme://127.0.0.1:PORT/``: connect here.
        servername: the name to send (SNI) and verify; None for plain-HTTP endpoints.
        name_url: ``scheme://SERVERNAME:PORT/`` for clients told to resolve SERVERNAME to 127.0.0.1.
    """

    role: str
    host: str
    port: int
    scheme: str
    url: str
    servername: str | None
    name_url: str

    @classmethod
    def _of(cls, e: _ServerEndpoint) -> "Endpoint":
        host = "127.0.0.1" if e.host in ("0.0.0.0", "::", "") else e.host
        return cls(e.role, host, e.port, e.scheme, f"{e.scheme}://{host}:{e.port}/", e.servername,
                   f"{e.scheme}://{e.servername or host}:{e.port}/")


@dataclass(frozen=True)
class Environment:
    """A scenario's servers, up, and what a client needs to talk to them.

    Attributes:
        scenario: the scenario id.
        resolution: the resolution in place, or None for the fault.
        direction: ``"northbound"`` or ``"southbound"``.
        backend: ``"twisted"`` or ``"nginx"``.
        host, port, url, servername, name_url: the TLS server to test against (the backend, southbound).
        ca_file: the trust anchor a correctly configured client uses (PEM).
        client_cert, client_key: 2-way scenarios: the client certificate (with chain) and key; else None.
        client: the client settings of this phase as plain data (the scenario's ``ClientSpec``: ``sni``,
            ``min_protocol``, ``max_protocol``, ``ciphers``, ``trust``, ...): configure your client
            this way to reproduce a fault that lives on the client side (e.g. ``sni`` false).
        expected: the symptoms the lab's clients show here (``("ok",)`` after a fix), e.g.
            ``("verify:expired",)``; a client of yours may word it differently.
        gateway_url: southbound: the gateway's plain-HTTP URL (the application's view: 503 with the fault).
        endpoints: every listening server.
    """

    scenario: str
    resolution: str | None
    direction: str
    backend: str
    host: str
    port: int
    url: str
    servername: str
    name_url: str
    ca_file: Path
    client_cert: Path | None
    client_key: Path | None
    client: dict[str, Any]
    expected: tuple[str, ...]
    gateway_url: str | None
    endpoints: tuple[Endpoint, ...]

    @property
    def fault(self) -> bool:
        """True with the fault in place: a correct client must fail here."""
        return self.resolution is None

    @property
    def fixed(self) -> bool:
        """True with a resolution in place: every correctly configured client must succeed here."""
        return self.resolution is not None


@dataclass(frozen=True)
class Case:
    """One phase to test: a scenario with its fault (``resolution`` None) or with one resolution."""

    scenario: str
    resolution: str | None = None
    backend: str = "twisted"
    direction: str | None = None

    @property
    def fault(self) -> bool:
        return self.resolution is None

    @property
    def id(self) -> str:
        """A readable test id: ``expired-server-cert-fault`` or ``expired-server-cert-renew-server-certificate``."""
        return f"{self.scenario}-{self.resolution or 'fault'}" + (f"-{self.direction}" if self.direction else "")


@functools.lru_cache(maxsize=8)
def _catalog(directory: Path | None) -> Catalog:
    return Catalog.load(directory)


@functools.lru_cache(maxsize=8)
def _pki(directory: Path) -> Pki:
    return Pki.ensure(directory)


def _direction(text: str | None) -> Direction | None:
    if text is None:
        return None
    try:
        return Direction.parse(text)
    except ValueError as exc:
        raise UserInputError(f"direction: {exc}") from None


def scenarios(scenarios_dir: str | Path | None = None) -> list[str]:
    """Every scenario id, in catalogue order (``scenarios_dir``: your own scenario files)."""
    return _catalog(Path(scenarios_dir) if scenarios_dir else None).ids


def cases(*selection: str, backend: str = "twisted", direction: str | None = None,
          scenarios_dir: str | Path | None = None) -> list[Case]:
    """Every (scenario, fault-or-resolution) pair to test: the fault first, then each resolution.

    Args:
        selection: scenario ids, or ``"all"`` (the default when none is given).
        backend: where the servers run for these cases.
        direction: ``"northbound"``/``"southbound"``; None: each scenario's documented one.
            Scenarios that do not run in that direction are left out.
        scenarios_dir: a directory of your own scenario files.
    """
    catalog = _catalog(Path(scenarios_dir) if scenarios_dir else None)
    chosen = catalog.select(None if not selection or list(selection) == ["all"] else list(selection))
    wanted = _direction(direction)
    out: list[Case] = []
    for s in chosen:
        if wanted is not None and wanted not in s.directions:
            continue
        out += [Case(s.id, None, backend, direction)] + [Case(s.id, r.name, backend, direction) for r in s.resolutions]
    return out


@contextlib.contextmanager
def serve(scenario: str, resolution: str | None = None, *, backend: str = "twisted", direction: str | None = None,
          scenarios_dir: str | Path | None = None, certs_dir: str | Path | None = None, bind: str = "127.0.0.1",
          server_cert: str | Path | None = None, server_key: str | Path | None = None,
          ca_file: str | Path | None = None, client_cert: str | Path | None = None,
          client_key: str | Path | None = None, client_ca: str | Path | None = None,
          nginx_conf: str | Path | None = None) -> Iterator[Environment]:
    """Bring `scenario`'s servers up with its fault (or `resolution`) until the block ends.

    Args:
        scenario: a scenario id (``tlslab list``).
        resolution: one of the scenario's resolutions; None for the fault.
        backend: ``"twisted"`` (in-process, default) or ``"nginx"`` (Docker).
        direction: ``"northbound"`` or ``"southbound"``; None: the documented one.
        scenarios_dir: a directory of your own scenario files (default: the lab's).
        certs_dir: where the lab's PKI is cached (default: ``$TLSLAB_CERTS`` or ``~/.cache/tlslab/certs``).
        bind: the address to listen on; keep 127.0.0.1 unless you mean to expose the servers.
        server_cert, server_key, ca_file, client_cert, client_key, client_ca, nginx_conf: your own material, as
            on the command line; with any of them and no `resolution`, the servers use your files.

    Yields:
        An :class:`Environment`.

    Raises:
        lab.errors.UserInputError: unknown scenario or resolution, unusable own material.
        lab.errors.EnvironmentError_: this machine cannot do it (no Docker for ``nginx``).
    """
    if bind not in ("127.0.0.1", "localhost", "::1"):
        warnings.warn(f"lab.serve(bind={bind!r}): the lab's servers are for this machine only; they are now "
                      "reachable from other hosts", stacklevel=3)
    own = OwnMaterial.from_options(
        server_cert=Path(server_cert) if server_cert else None, server_key=Path(server_key) if server_key else None,
        ca_file=Path(ca_file) if ca_file else None, client_cert=Path(client_cert) if client_cert else None,
        client_key=Path(client_key) if client_key else None, client_ca=Path(client_ca) if client_ca else None,
        nginx_conf=Path(nginx_conf) if nginx_conf else None)
    s: Scenario = with_own_material(_catalog(Path(scenarios_dir) if scenarios_dir else None).get(scenario), own)
    if own and resolution is None:
        resolution = OWN_PHASE
    res = s.resolution(resolution) if resolution else None
    chosen = _direction(direction) or s.direction
    if chosen not in s.directions:
        raise UserInputError(f"scenario {s.id!r} runs {', '.join(d.value for d in s.directions)} only")
    server, client = s.specs(res)
    pki = _pki(Path(certs_dir).expanduser().resolve() if certs_dir else default_certs_dir())
    request = DeployRequest(s, server, client, chosen, pki, bind=bind)
    with deployed(make_backend(backend), request) as deployment:
        endpoints = tuple(Endpoint._of(e) for e in deployment.endpoints)
        # the endpoint a TLS client meets (the faulty server, or the proxy in front of it; for a plain-HTTP
        # port that port), else the first that is not the gateway
        tls = next((e for e in deployment.endpoints if e.port == deployment.tls_target.port),
                   next(e for e in deployment.endpoints if e.role != "gateway"))
        front = Endpoint._of(tls)
        expected = ("ok",) if res else tuple(str(x) for x in s.expect.for_client("*", backend, chosen))
        yield Environment(
            scenario=s.id, resolution=res.name if res else None, direction=chosen.value, backend=backend,
            host=front.host, port=front.port, url=front.url, servername=s.servername, name_url=front.name_url,
            ca_file=tls.ca_file or pki.cert_path("root"), client_cert=tls.client_cert, client_key=tls.client_key,
            client=spec_as_dict(client), expected=expected,
            gateway_url=next((e.url for e in endpoints if e.role == "gateway"), None), endpoints=endpoints,
        )


__all__ = ["Case", "Endpoint", "Environment", "cases", "scenarios", "serve"]
