"""tlslab explain on messages real clients print *now*, against servers set up by hand (not by the lab).

The corpus (tests/explain_corpus.py) pins the words; this test checks they are still the words
the clients on this machine print: certificates made with the openssl CLI, `openssl s_server`
and a hand-written Python SNI-only server on 127.0.0.1, then curl, openssl s_client, Python ssl,
Node.js, Go and gnutls-cli against them, and explain must name the cause among its best
candidates. Nothing the lab builds (PKI, servers, probes) is used.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.explain import explain_text
from lab.scenario import Catalog

sys.path.insert(0, str(Path(__file__).parent))
from conftest import require_tool  # noqa: E402

TIER = 0.1


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@dataclass(frozen=True)
class HandPki:
    dir: Path

    def p(self, name: str) -> str:
        return str(self.dir / name)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> HandPki:
    """Root A -> intermediate A -> leaf (api.lab.test, localhost, 127.0.0.1); root B -> intermediate B -> leaf."""
    require_tool("openssl")
    d = tmp_path_factory.mktemp("handpki")
    constraints = ("nameConstraints=critical,permitted;DNS:lab.test,permitted;DNS:.lab.test,permitted;DNS:localhost,"
                   "permitted;IP:127.0.0.0/255.0.0.0")
    (d / "ca.ext").write_text(f"basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n{constraints}\n")
    (d / "leaf.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:api.lab.test,DNS:localhost,IP:127.0.0.1\n")
    for name in ("rootA", "intA", "leafA", "rootB", "intB", "leafB"):
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key", cwd=d)
        os.chmod(d / f"{name}.key", 0o600)
    for root in ("rootA", "rootB"):
        _openssl("req", "-x509", "-new", "-key", f"{root}.key", "-subj", f"/CN=Hand {root}", "-days", "2",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-addext", constraints, "-out", f"{root}.pem", cwd=d)
    for name, issuer, subj, ext in (("intA", "rootA", "/CN=Hand intA", "ca.ext"), ("intB", "rootB", "/CN=Hand intB", "ca.ext"),
                                    ("leafA", "intA", "/CN=api.lab.test", "leaf.ext"),
                                    ("leafB", "intB", "/CN=api.lab.test", "leaf.ext")):
        _openssl("req", "-new", "-key", f"{name}.key", "-subj", subj, "-out", f"{name}.csr", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
                 "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", f"{name}.pem", cwd=d)
    (d / "leafA-chain.pem").write_text((d / "leafA.pem").read_text() + (d / "intA.pem").read_text())
    return HandPki(d)


@contextlib.contextmanager
def s_server(*args: str, cwd: Path) -> Iterator[int]:
    """`openssl s_server` on 127.0.0.1, a free port, ready when it prints ACCEPT; always stopped."""
    proc = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:0", "-www", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        port = 0
        for line in proc.stdout:
            if line.startswith("ACCEPT"):
                port = int(line.strip().rsplit(":", 1)[1])
                break
        assert port, "s_server did not start"
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep its pipe drained
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=5)


@contextlib.contextmanager
def sni_only_server(pki: HandPki) -> Iterator[int]:
    """A hand-written server that answers a Client Hello without server_name with handshake_failure."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.p("leafA-chain.pem"), pki.p("leafA.key"))
    ctx.sni_callback = lambda sock, name, c: ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE if name is None else None
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)
                    tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def _run(argv: list[str], **kw: object) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw)  # type: ignore[call-overload]
    return (done.stdout + "\n" + done.stderr).strip()


def curl(port: int, pki: HandPki, *extra: str) -> str:
    require_tool("curl")
    return _run(["curl", "-sS", "--max-time", "10", "--cacert", pki.p("rootA.pem"), "--resolve",
                 f"api.lab.test:{port}:127.0.0.1", *extra, f"https://api.lab.test:{port}/", "-o", "/dev/null"])


def s_client(port: int, pki: HandPki, *extra: str) -> str:
    return _run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", pki.p("rootA.pem"),
                 "-verify_return_error", *extra], input="")


def python_ssl(port: int, pki: HandPki, *, ciphers: str | None = None, sni: bool = True) -> str:
    ctx = ssl.create_default_context(cafile=pki.p("rootA.pem"))
    if ciphers:
        ctx.set_ciphers(ciphers)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if not sni:
        ctx.check_hostname = False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            with ctx.wrap_socket(sock, server_hostname="api.lab.test" if sni else None):
                return "ok"
    except (ssl.SSLError, OSError) as exc:
        return f"{type(exc).__module__}.{type(exc).__name__}: {exc}"


_NODE = """
const https = require('https'); const fs = require('fs');
const [port, ca, ciphers] = process.argv.slice(1);
const o = {host: '127.0.0.1', port: +port, servername: 'localhost', ca: fs.readFileSync(ca), timeout: 10000};
if (ciphers) { o.ciphers = ciphers; o.maxVersion = 'TLSv1.2'; }
https.get(o, r => console.log(r.statusCode)).on('error', e => console.log(`${e.message} (code: ${e.code})`));
"""


def node(port: int, pki: HandPki, ciphers: str = "") -> str:
    require_tool("node")
    return _run(["node", "-e", _NODE, str(port), pki.p("rootA.pem"), ciphers])


_GO = """package main

import ("crypto/tls"; "crypto/x509"; "fmt"; "net/http"; "os"; "time")

func main() {
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(os.Args[2])
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool}
	if len(os.Args) > 3 {
		cfg.MaxVersion = tls.VersionTLS12
		cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	if _, err := c.Get(os.Args[1]); err != nil { fmt.Println(err) }
}
"""


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("go")
    d = tmp_path_factory.mktemp("goclient")
    (d / "main.go").write_text(_GO)
    (d / "go.mod").write_text("module handclient\n\ngo 1.19\n")
    subprocess.run(["go", "build", "-o", "client", "."], cwd=d, check=True, capture_output=True, timeout=300)
    return d / "client"


def gnutls(port: int, pki: HandPki, *extra: str) -> str:
    require_tool("gnutls-cli")
    return _run(["gnutls-cli", f"--x509cafile={pki.p('rootA.pem')}", "-p", str(port), *extra, "localhost"],
                input="")


def _assert_named(text: str, expected: set[str], catalog: Catalog) -> None:
    e = explain_text(text, catalog)
    assert e.candidates, f"not explained: {text!r}"
    best = e.candidates[0].score
    top = {c.scenario for c in e.candidates if c.score > best - TIER}
    assert expected <= top, (text, [(c.scenario, c.score) for c in e.candidates[:6]])


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_leaf_only_server(pki: HandPki, catalog: Catalog, go_client: Path) -> None:
    with s_server("-cert", pki.p("leafA.pem"), "-key", pki.p("leafA.key"), cwd=pki.dir) as port:
        said = {
            "curl": curl(port, pki),
            "s_client": s_client(port, pki, "-servername", "api.lab.test"),
            "python": python_ssl(port, pki),
            "node": node(port, pki),
            "go": _run([str(go_client), f"https://localhost:{port}/", pki.p("rootA.pem")]),
            "gnutls": gnutls(port, pki),
        }
    assert "x509: certificate signed by unknown authority" in said["go"]
    assert "unable to verify the first certificate" in said["node"]
    for client, text in said.items():
        _assert_named(text, {"incomplete-chain", "wrong-intermediate"}, catalog)


def test_unknown_ca_server(pki: HandPki, catalog: Catalog) -> None:
    with s_server("-cert", pki.p("leafB.pem"), "-key", pki.p("leafB.key"), "-cert_chain", pki.p("intB.pem"),
                  cwd=pki.dir) as port:
        for text in (curl(port, pki), python_ssl(port, pki), node(port, pki)):
            _assert_named(text, {"unknown-server-cert"}, catalog)


def test_cipher_only_server(pki: HandPki, catalog: Catalog, go_client: Path) -> None:
    with s_server("-cert", pki.p("leafA.pem"), "-key", pki.p("leafA.key"), "-cert_chain", pki.p("intA.pem"),
                  "-no_tls1_3", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", cwd=pki.dir) as port:
        aes128 = "ECDHE-ECDSA-AES128-GCM-SHA256"
        for text in (curl(port, pki, "--tls-max", "1.2", "--ciphers", aes128),
                     s_client(port, pki, "-servername", "api.lab.test", "-tls1_2", "-cipher", aes128),
                     python_ssl(port, pki, ciphers=aes128), node(port, pki, aes128),
                     _run([str(go_client), f"https://localhost:{port}/", pki.p("rootA.pem"), "aes128"]),
                     gnutls(port, pki, "--priority", "NORMAL:-VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM")):
            _assert_named(text, {"cipher-mismatch"}, catalog)


def test_sni_only_server(pki: HandPki, catalog: Catalog) -> None:
    with sni_only_server(pki) as port:
        for text in (s_client(port, pki, "-noservername"), python_ssl(port, pki, sni=False),
                     gnutls(port, pki, "--disable-sni")):
            _assert_named(text, {"sni-required"}, catalog)
