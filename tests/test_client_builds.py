"""A probe's verdict is decided by the scenario's client spec, not by how its client was built.

CPython can be built to start every SSLContext with its own restricted cipher list (python.org
and pyenv builds: no SHA-1 CBC suites) or with OpenSSL's (Debian's /usr/bin/python3). Against
protocol-mismatch's TLSv1.0-only backend the first used to see ``alert handshake failure``, the
second ``unsupported protocol``. Here both build defaults are applied to real contexts (the
handshakes are real); the probe must give the same verdict under each, and a bare context (one
that inherits the build default, as the probe once did) must not, or the test proves nothing.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest

from lab.harness import Harness
from lab.pki import Pki
from lab.probes.python_ssl import PythonSslProbe
from lab.scenario import Catalog
from lab.backends import make_backend
from lab.servers.base import DeployRequest
from lab.symptoms import normalise

# Modules/_ssl.c PY_SSL_DEFAULT_CIPHER_STRING, selected by ./configure --with-ssl-default-suites=python
CPYTHON_DEFAULT = "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
OPENSSL_DEFAULT = "DEFAULT"  # --with-ssl-default-suites=openssl (Debian)
BUILDS = {"python.org-style": CPYTHON_DEFAULT, "debian-style": OPENSSL_DEFAULT}


@pytest.fixture(params=list(BUILDS))
def build(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every new SSLContext starts with this build's default cipher list, as CPython's build option does."""
    default = BUILDS[request.param]
    original_new = ssl.SSLContext.__new__

    def new(cls, protocol=ssl.PROTOCOL_TLS, *args, **kwargs):  # type: ignore[no-untyped-def]
        ctx = original_new(cls, protocol, *args, **kwargs)
        ctx.set_ciphers(default)
        return ctx

    monkeypatch.setattr(ssl.SSLContext, "__new__", new)
    yield request.param


SCENARIOS = ["protocol-mismatch", "cipher-mismatch", "sni-required", "expired-server-cert"]


@pytest.mark.parametrize("scenario_id", SCENARIOS)
def test_python_ssl_verdict_is_the_same_for_both_builds(build: str, pki: Pki, catalog: Catalog,
                                                        scenario_id: str) -> None:
    harness = Harness(make_backend("twisted"), [PythonSslProbe()], pki)
    result = harness.run_scenario(catalog.get(scenario_id))
    fault = result.phases[0].checks[0]
    assert result.passed, f"{build}: {fault.note} | raw: {fault.outcome.raw if fault.outcome else '-'}"


def _bare_handshake(host: str, port: int) -> str:
    """What a context that inherits the build's cipher list sees (the probe before it set its own)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        with socket.create_connection((host, port), timeout=5) as sock, ctx.wrap_socket(sock):
            return "ok"
    except (OSError, ssl.SSLError) as exc:
        return str(normalise(f"{type(exc).__name__}: {exc}"))


def test_control_the_builds_really_differ(pki: Pki, catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without explicit settings the two build defaults disagree on protocol-mismatch: the case above is real."""
    scenario = catalog.get("protocol-mismatch")
    backend = make_backend("twisted")
    request = DeployRequest(scenario, scenario.server, scenario.client, scenario.direction, pki)
    seen = {}
    with backend.deploy(request) as deployment:
        target = deployment.tls_target
        for name, default in BUILDS.items():
            with monkeypatch.context() as m:
                original_new = ssl.SSLContext.__new__

                def new(cls, protocol=ssl.PROTOCOL_TLS, *a, _d=default, _o=original_new, **k):  # type: ignore[no-untyped-def]
                    ctx = _o(cls, protocol, *a, **k)
                    ctx.set_ciphers(_d)
                    return ctx

                m.setattr(ssl.SSLContext, "__new__", new)
                seen[name] = _bare_handshake(target.host, target.port)
    assert seen["python.org-style"] != seen["debian-style"], seen
