"""The mechanisms the field scenarios add, each judged by a tool the lab did not write.

The certificates are judged by ``openssl verify``/``openssl x509`` (OpenSSL 3.0, Debian's CLI), the
servers by ``openssl s_client`` and ``curl`` against real Twisted listeners on 127.0.0.1: the
intercepting proxy (whose certificate is it, and does it really reach the server behind it),
ALPN (the alert number, and HTTP/2 spoken after h2), the plain-HTTP port, the DH group size and
the missing close_notify. Each has its negative control: the same check with the fault absent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.errors import ScenarioFileError
from lab.harness import Harness
from lab.pki import Pki
from lab.probes.base import Target
from lab.scenario import Catalog, Direction, load_scenario
from lab.servers.base import DeployRequest
from lab.specs import ServerSpec
from lab.tls import Protocol
from lab.twisted.backend import TwistedBackend

from conftest import require_tool


def _openssl(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    require_tool("openssl")
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True, timeout=20)


@contextlib.contextmanager
def _server(catalog: Catalog, pki: Pki, **server: object) -> Iterator[Target]:
    scenario = catalog.get("expired-server-cert")
    spec = dataclasses.replace(ServerSpec(), **server)  # type: ignore[arg-type]
    request = DeployRequest(scenario, spec, scenario.client, Direction.NORTHBOUND, pki)
    with TwistedBackend().deploy(request) as deployment:
        yield deployment.tls_target


def _s_client(target: Target, *args: str, stdin: str = "") -> str:
    result = _openssl("s_client", "-connect", f"{target.host}:{target.port}", "-servername", target.servername,
                      *args, stdin=stdin)
    return result.stdout + result.stderr


GET = "GET / HTTP/1.1\r\nHost: api.lab.test\r\nConnection: close\r\n\r\n"


# --- certificates ----------------------------------------------------------------------------

def _verify(pki: Pki, leaf: str, *args: str, untrusted: tuple[str, ...] = ("intermediate",),
            ca: str = "root") -> subprocess.CompletedProcess[str]:
    chain = [a for u in untrusted for a in ("-untrusted", str(pki.cert_path(u)))]
    result = _openssl("verify", "-CAfile", str(pki.cert_path(ca)), *chain, *args, str(pki.cert_path(leaf)))
    return subprocess.CompletedProcess(  # openssl verify prints its errors on stderr
        result.args, result.returncode, result.stdout + result.stderr, result.stderr)


def test_weak_leaves_fail_at_the_security_levels_openssl_uses(pki: Pki) -> None:
    text = _openssl("x509", "-noout", "-text", "-in", str(pki.cert_path("server-rsa1024"))).stdout
    assert "Public-Key: (1024 bit)" in text
    assert "EE certificate key too weak" in _verify(pki, "server-rsa1024", "-auth_level", "2").stdout
    assert _verify(pki, "server-rsa1024", "-auth_level", "0").returncode == 0  # only the level refuses it
    text = _openssl("x509", "-noout", "-text", "-in", str(pki.cert_path("server-sha1"))).stdout
    assert "Signature Algorithm: sha1WithRSAEncryption" in text
    assert "CA signature digest algorithm too weak" in _verify(pki, "server-sha1", "-auth_level", "1").stdout
    assert _verify(pki, "server-sha1", "-auth_level", "0").returncode == 0  # the re-signed TBS verifies
    assert _verify(pki, "server", "-auth_level", "2").returncode == 0  # negative control


def test_cn_only_and_wrong_purpose_leaves(pki: Pki) -> None:
    text = _openssl("x509", "-noout", "-text", "-in", str(pki.cert_path("server-cn-only"))).stdout
    assert "Subject Alternative Name" not in text and "CN = api.lab.test" in text
    wrong = _verify(pki, "server-client-eku", "-purpose", "sslserver")
    assert wrong.returncode != 0 and "unsuitable certificate purpose" in wrong.stdout
    assert _verify(pki, "server", "-purpose", "sslserver").returncode == 0


def test_expired_cross_signed_root_chain(pki: Pki) -> None:
    long_chain = ("xs-intermediate", "xs-new-root-cross")
    old = _verify(pki, "xs-server", ca="xs-old-root", untrusted=long_chain)
    assert old.returncode != 0 and "certificate has expired" in old.stdout
    assert _verify(pki, "xs-server", ca="xs-new-root", untrusted=long_chain).returncode == 0
    assert _verify(pki, "xs-server", ca="xs-new-root", untrusted=("xs-intermediate",)).returncode == 0
    assert pki.cert("xs-new-root-cross").public_key() == pki.cert("xs-new-root").public_key()
    assert pki.cert("xs-new-root-cross").subject == pki.cert("xs-new-root").subject


@pytest.mark.parametrize("ca", ["proxy-root", "xs-old-root", "xs-new-root", "xs-new-root-cross"])
def test_new_cas_are_name_constrained(pki: Pki, ca: str) -> None:
    text = _openssl("x509", "-noout", "-ext", "nameConstraints", "-in", str(pki.cert_path(ca))).stdout
    assert "critical" in text and "DNS:lab.test" in text


# --- servers ---------------------------------------------------------------------------------

def test_intercepting_proxy_resigns_and_relays(catalog: Catalog, pki: Pki) -> None:
    require_tool("curl")
    with _server(catalog, pki, intercepted=True) as proxy:
        shown = _s_client(proxy, "-showcerts", stdin="")
        assert "i:O = tlslab, CN = tlslab Intercepting Proxy CA" in shown
        assert "tlslab Intermediate CA" not in shown  # the real server's chain never reaches the client
        url = f"https://api.lab.test:{proxy.port}/"
        resolve = ["--resolve", f"api.lab.test:{proxy.port}:127.0.0.1"]
        trusted = subprocess.run(["curl", "-sS", "--cacert", str(pki.cert_path("proxy-root")), *resolve, url],
                                 capture_output=True, text=True, timeout=20)
        assert trusted.stdout == "tlslab expired-server-cert: TLS handshake OK\n"  # the real server answered
        refused = subprocess.run(["curl", "-sS", "--cacert", str(pki.cert_path("root")), *resolve, url],
                                 capture_output=True, text=True, timeout=20)
        assert "self-signed certificate in certificate chain" in refused.stderr
    with _server(catalog, pki) as direct:
        assert "tlslab Intercepting Proxy CA" not in _s_client(direct, "-showcerts")


def test_alpn_h2_only_server(catalog: Catalog, pki: Pki) -> None:
    require_tool("curl")
    with _server(catalog, pki, alpn=("h2",)) as target:
        refused = _s_client(target, "-alpn", "http/1.1")
        assert "tlsv1 alert no application protocol" in refused and "SSL alert number 120" in refused
        assert "ALPN protocol: h2" in _s_client(target, "-alpn", "h2")
        h2 = subprocess.run(["curl", "-sS", "--http2", "--cacert", str(pki.cert_path("root")), "--resolve",
                             f"api.lab.test:{target.port}:127.0.0.1", "-w", "|%{http_version} %{http_code}",
                             f"https://api.lab.test:{target.port}/"], capture_output=True, text=True, timeout=20)
        assert h2.stdout.endswith("|2 200"), h2.stderr  # real HTTP/2 after ALPN h2
    with _server(catalog, pki) as plain_alpn:  # negative control: no ALPN policy, no alert
        assert "no application protocol" not in _s_client(plain_alpn, "-alpn", "http/1.1", stdin=GET)


def test_plain_http_port_and_tls_port(catalog: Catalog, pki: Pki) -> None:
    require_tool("curl")
    with _server(catalog, pki, scheme="http") as target:
        assert "wrong version number" in _s_client(target)
        plain = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{target.port}/"], capture_output=True,
                               text=True, timeout=20)
        assert plain.stdout == "tlslab expired-server-cert: plain HTTP OK\n"
    with _server(catalog, pki) as tls:
        sent = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{tls.port}/"], capture_output=True,
                              text=True, timeout=20)
        assert "(52) Empty reply from server" in sent.stderr


def test_dh_group_sizes(catalog: Catalog, pki: Pki) -> None:
    dhe: dict[str, object] = {"max_protocol": Protocol.TLSv1_2, "ciphers": "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"}
    with _server(catalog, pki, dh_params="dh1024", **dhe) as weak:
        assert "Server Temp Key: DH, 1024 bits" in _s_client(weak, "-tls1_2", "-cipher", "DHE:@SECLEVEL=0")
        assert "dh key too small" in _s_client(weak, "-tls1_2", "-cipher", "DHE:@SECLEVEL=2")
    with _server(catalog, pki, dh_params="ffdhe2048", **dhe) as strong:
        assert "Server Temp Key: DH, 2048 bits" in _s_client(strong, "-tls1_2", "-cipher", "DHE:@SECLEVEL=2")


def test_close_without_close_notify(catalog: Catalog, pki: Pki) -> None:
    ca = ("-CAfile", str(pki.cert_path("root")), "-quiet")
    with _server(catalog, pki, close_notify=False) as target:
        out = _s_client(target, *ca, stdin=GET)
        # (s_client does not always print the body it read before reporting the EOF)
        assert "unexpected eof while reading" in out
        assert "Content-Length" not in out  # the body is delimited by the close
    with _server(catalog, pki) as clean:
        out = _s_client(clean, *ca, stdin=GET)
        assert "handshake OK" in out and "unexpected eof" not in out


# --- spec fields and the backend's n/a -------------------------------------------------------

def _scenario_file(tmp_path: Path, server: str, client: str = "") -> Path:
    path = tmp_path / "x.toml"
    path.write_text(f'id = "x"\ntitle = "t"\ndocument = "field: t"\ndirection = "northbound"\nfault = "f"\n'
                    f'servername = "api.lab.test"\n[symptom]\nexpect = "closed"\n[server]\n{server}\n'
                    f'[client]\n{client}\n[[resolution]]\nname = "r"\nsummary = "s"\n[resolution.server]\n'
                    'close_notify = true\n')
    return path


@pytest.mark.parametrize(("server", "client", "field"), [
    ('scheme = "ftp"', "", "server.scheme"), ('dh_params = "dh512"', "", "server.dh_params"),
    ("alpn = \"h2\"", "", "server.alpn"), ("", 'scheme = "gopher"', "client.scheme"),
    ("", 'trust = "nope"', "client.trust"),
])
def test_bad_field_values_name_the_field(tmp_path: Path, server: str, client: str, field: str) -> None:
    with pytest.raises(ScenarioFileError) as info:
        load_scenario(_scenario_file(tmp_path, server, client))
    assert field in str(info.value)


def test_empty_trust_is_an_empty_bundle(tmp_path: Path, pki: Pki) -> None:
    scenario = load_scenario(_scenario_file(tmp_path, "close_notify = false", 'trust = ""'))
    assert scenario.client.trust == "" and pki.trust_path("").read_bytes() == b""


def test_backend_that_cannot_set_up_a_fault_reports_it_and_runs_nothing(catalog: Catalog, pki: Pki) -> None:
    from lab.nginx.config import server_limits

    class NoEofBackend(TwistedBackend):
        name = "no-eof"

        @staticmethod
        def server_limits(server: ServerSpec, direction: Direction) -> str | None:
            return server_limits(server, direction)

        def deploy(self, request: DeployRequest):  # type: ignore[no-untyped-def]
            raise AssertionError("nothing may be deployed for a fault the backend cannot set up")

    result = Harness(NoEofBackend(), [], pki).run_scenario(catalog.get("unexpected-eof"))
    assert result.phases == () and result.not_applicable and "close_notify" in result.not_applicable
    report = Harness(NoEofBackend(), [], pki).run([catalog.get("unexpected-eof")])
    assert not report.passed  # a run where nothing ran proves nothing
    assert server_limits(catalog.get("unexpected-eof").server, Direction.SOUTHBOUND) is None  # Twisted serves it
    assert server_limits(catalog.get("alpn-required").server, Direction.NORTHBOUND)
    assert server_limits(catalog.get("weak-server-key-dh").server, Direction.NORTHBOUND) is None
