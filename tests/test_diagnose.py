"""`tlslab diagnose` names the cause of servers the lab did not configure, and of every catalog scenario.

Independent evidence first: (a) `openssl s_server` (OpenSSL 3.0 CLI, Debian) with certificates made
by the `openssl` CLI in tests/hand_servers.py, one fault per server, plus an SNI-only server on
CPython's own `ssl` module; (b) a hand-written nginx.conf run in the lab's nginx image. Then (c)
every catalog scenario through `tlslab up --json` on the twisted backend and a representative set
on nginx: the fault is named, and the fixed variant is healthy (or, for a fix made on the client
alone, the server keeps the one property that fix works around, and the fixed client's
configuration is seen to work). Every assertion is a negative control: a rule that stops firing,
or fires on a healthy server, fails a test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, require_tool
from hand_servers import HAND_SERVERS, NAME, HandPki, HandServer, build_hand_pki, s_server
from lab.diagnose import Diagnosis, diagnose, make_client
from lab.errors import UserInputError
from lab.pki import Pki
from lab.scenario import Catalog, Direction, Resolution, Scenario

TLSLAB = [sys.executable, "-m", "lab"]
OCSP_IDS = {"ocsp-clock-skew", "ocsp-missing-intermediate", "ocsp-responder-blocked", "ocsp-responder-down",
            "ocsp-revoked", "ocsp-signer-untrusted", "ocsp-stapling-off"}
CLIENT_CERT_IDS = {"expired-client-cert", "unknown-client-cert"}


def ids(d: Diagnosis) -> list[str | None]:
    return [c.scenario for c in d.causes]


def show(d: Diagnosis) -> str:
    from lab.commands.diagnose import render
    return "\n".join(render(d))


@pytest.fixture(scope="module")
def hand_pki(tmp_path_factory: pytest.TempPathFactory) -> HandPki:
    require_tool("openssl", "the hand-built servers are openssl s_server")
    require_tool("faketime", "the expired certificates are signed under libfaketime")
    return build_hand_pki(tmp_path_factory.mktemp("hand-pki"))


def hand_diagnose(pki: HandPki, server: HandServer, port: int, catalog: Catalog) -> Diagnosis:
    cert = key = None
    if server.client_cert:
        cert, key = pki.bundle(f"{server.client_cert}-full", server.client_cert), pki.key(server.client_cert)
    client, anchors = make_client(f"127.0.0.1:{port}", NAME, pki.path(server.ca_file), cert, key,
                                  clock_offset_days=server.clock_offset_days)
    return diagnose(client, anchors, catalog)


# ------------------------------------------------------------------ (a) openssl s_server, by hand
@pytest.mark.parametrize("server", HAND_SERVERS, ids=[s.name for s in HAND_SERVERS])
def test_hand_built_s_server(hand_pki: HandPki, server: HandServer, catalog: Catalog) -> None:
    with s_server(hand_pki, server) as port:
        d = hand_diagnose(hand_pki, server, port, catalog)
    if server.fault.startswith("healthy"):
        assert d.healthy, show(d)
    elif server.fault == "client-cert-required":
        # without --client-cert diagnose can only say a certificate is required: none sent, first, and
        # the two causes a client that does send one would meet
        assert ids(d)[0] == "client-cert-not-sent" and set(ids(d)) == CLIENT_CERT_IDS | {"client-cert-not-sent"}, show(d)
        assert "requires a client certificate" in d.causes[0].evidence[0]
    else:
        assert ids(d)[0] == server.fault, show(d)
    assert max(len(line) for line in show(d).splitlines()) <= 80
    if server.name == "not-yet-valid-server-cert":
        assert "not yet valid" in d.causes[0].evidence[0]
    if server.name == "expired-intermediate":
        assert "the served CA certificate [1] `CN=Hand Expired Intermediate CA" in d.causes[0].evidence[0]
    if server.name == "name-refused-by-sni-server":
        assert "unrecognized_name" in d.causes[0].evidence[0]


def test_incomplete_chain_evidence_names_the_missing_issuer(hand_pki: HandPki, catalog: Catalog) -> None:
    server = next(s for s in HAND_SERVERS if s.fault == "incomplete-chain")
    with s_server(hand_pki, server) as port:
        d = hand_diagnose(hand_pki, server, port, catalog)
    cause = d.causes[0]
    assert "1 certificate served" in cause.evidence[0] and "CN=Hand Intermediate CA" in cause.evidence[0]
    assert cause.fix == catalog.get("incomplete-chain").resolutions[0].summary  # the catalog's words, not ours
    assert "openssl verify" in cause.fix


def test_wrong_intermediate_is_not_called_incomplete(hand_pki: HandPki, catalog: Catalog) -> None:
    """What scanners conflate: the same leaf, served with nothing, another CA's intermediate, or from an unknown CA."""
    seen = {}
    for fault in ("incomplete-chain", "wrong-intermediate", "unknown-server-cert"):
        server = next(s for s in HAND_SERVERS if s.fault == fault)
        with s_server(hand_pki, server) as port:
            seen[fault] = ids(hand_diagnose(hand_pki, server, port, catalog))
    # an unknown CA might be a proxy's: said, as a far second, with how to tell them apart
    assert seen == {"incomplete-chain": ["incomplete-chain"], "wrong-intermediate": ["wrong-intermediate"],
                    "unknown-server-cert": ["unknown-server-cert", "intercepting-proxy"]}


def test_unknown_ca_becomes_healthy_with_its_anchor(hand_pki: HandPki, catalog: Catalog) -> None:
    server = next(s for s in HAND_SERVERS if s.fault == "unknown-server-cert")
    with s_server(hand_pki, server) as port:
        client, anchors = make_client(f"127.0.0.1:{port}", NAME, hand_pki.path("other-root"))
        assert diagnose(client, anchors, catalog).healthy


@contextlib.contextmanager
def stdlib_server(pki: HandPki, sni_only: bool = True, status: str = "200 OK", content_length: bool = True,
                  close_notify: bool = False) -> Iterator[int]:
    """A server on CPython's ssl module (not the lab's code); SNI-only: no server_name, handshake_failure.

    It closes the socket without unwrap() (CPython sends no close_notify then) unless `close_notify`;
    without `content_length` the body is delimited by that close.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.bundle("leaf-full", "leaf", "intermediate"), pki.key("leaf"))

    def pick(sock: object, name: str | None, context: ssl.SSLContext) -> int | None:
        return None if name == NAME else ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE

    if sni_only:
        ctx.sni_callback = pick
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    with ctx.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(4096)
                        length = "Content-Length: 3\r\n" if content_length else ""
                        tls.sendall(f"HTTP/1.1 {status}\r\n{length}Connection: close\r\n\r\nok\n".encode())
                        if close_notify:
                            tls.unwrap()
                except (OSError, ssl.SSLError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() a close() alone leaves blocked (Linux)
        listener.close()
        thread.join(5)


def test_sni_required_on_a_stdlib_server(hand_pki: HandPki, catalog: Catalog) -> None:
    with stdlib_server(hand_pki) as port:
        client, anchors = make_client(f"127.0.0.1:{port}", NAME, hand_pki.path("root"))
        d = diagnose(client, anchors, catalog)
        assert ids(d) == ["sni-required"], show(d)
        assert "handshake_failure" in d.causes[0].evidence[0]
        # without a name diagnose cannot send SNI: it still points at SNI, with less confidence
        client, anchors = make_client(f"127.0.0.1:{port}", None, hand_pki.path("root"))
        assert ids(diagnose(client, anchors, catalog))[0] == "sni-required"


def test_an_api_answering_400_is_not_a_2way_server(hand_pki: HandPki, catalog: Catalog) -> None:
    """nginx's 400 counts as a client-certificate rejection only when the server asked for a certificate."""
    with stdlib_server(hand_pki, sni_only=False, status="400 Bad Request") as port:
        client, anchors = make_client(f"127.0.0.1:{port}", NAME, hand_pki.path("root"))
        d = diagnose(client, anchors, catalog)
    assert d.healthy and d.observed.http_status == 400, show(d)


@pytest.mark.parametrize("content_length, close_notify, fault", [
    (False, False, "unexpected-eof"),  # the body ends with a TCP close, no close_notify: truncation undetectable
    (False, True, None),  # the same body, closed cleanly
    (True, False, None),  # no close_notify, but the body's length is known: nothing is lost
])
def test_unexpected_eof_on_a_stdlib_server(hand_pki: HandPki, catalog: Catalog, content_length: bool,
                                           close_notify: bool, fault: str | None) -> None:
    with stdlib_server(hand_pki, sni_only=False, content_length=content_length, close_notify=close_notify) as port:
        client, anchors = make_client(f"127.0.0.1:{port}", NAME, hand_pki.path("root"))
        d = diagnose(client, anchors, catalog)
    assert d.observed.ending.how == ("close_notify" if close_notify else "eof"), show(d)
    if fault:
        assert ids(d) == [fault], show(d)
        assert "without Content-Length" in d.causes[0].evidence[0] and "no close_notify" in d.causes[0].evidence[0]
    else:
        assert d.healthy, show(d)


@contextlib.contextmanager
def http_listener(reply: bytes) -> Iterator[int]:
    """A bare socket server that answers whatever it is sent with `reply` (as nginx's plain port answers a hello)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() a close() alone leaves blocked (Linux)
        listener.close()
        thread.join(5)


def test_a_port_answering_http_400_is_tls_to_plain_port(catalog: Catalog) -> None:
    reply = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request"
    with http_listener(reply) as port:
        client, anchors = make_client(f"127.0.0.1:{port}", NAME, None, timeout=1.0)
        d = diagnose(client, anchors, catalog)
    assert ids(d) == ["tls-to-plain-port"], show(d)
    assert "the port speaks HTTP, not TLS: a TLS Client Hello is answered with `HTTP/1.1 400 Bad Request`" \
        in d.causes[0].evidence[0]
    assert "wrong version number" in d.causes[0].evidence[1]  # OpenSSL's own reading of those bytes
    with http_listener(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n") as port:  # another protocol altogether
        client, anchors = make_client(f"127.0.0.1:{port}", NAME, None, timeout=1.0)
        d = diagnose(client, anchors, catalog)
    assert ids(d) == ["tls-to-plain-port"] and "other than TLS: a TLS Client Hello is answered with `SSH-2.0" \
        in d.causes[0].evidence[0], show(d)


def test_a_client_certificate_outside_the_servers_ca_list_is_not_sent(hand_pki: HandPki, catalog: Catalog) -> None:
    """A client that picks its certificate by the CertificateRequest's CA names sends none: client-cert-not-sent."""
    server = next(s for s in HAND_SERVERS if s.fault == "unknown-client-cert")
    with s_server(hand_pki, server) as port:
        d = hand_diagnose(hand_pki, server, port, catalog)
    assert ids(d)[:2] == ["unknown-client-cert", "client-cert-not-sent"], show(d)
    not_sent = d.causes[1].evidence[0]
    assert "`CN=Hand Unknown Client CA,O=hand` is not in the server's acceptable CA list (CN=Hand Client CA,O=hand)" \
        in not_sent, show(d)


FIELD_EVIDENCE = {  # what the evidence must say, checkable by hand with s_client / openssl x509
    "weak-server-key": "key is RSA 1024-bit",
    "weak-server-key-sha1": "is signed with SHA1",
    "weak-server-key-dh": "dh key too small",
    "cn-only-certificate": "has no subjectAltName",
    "wrong-key-usage": "extendedKeyUsage is clientAuth, without serverAuth",
    "alpn-required": "alert no_application_protocol",
    "intercepting-proxy": "name is that of a TLS-interception CA",
    "expired-cross-signed-root": "a cross-sign issued by `CN=Hand Old Root X3,O=hand`",
    "client-clock-behind": "not yet valid by the client's clock",
}


@pytest.mark.parametrize("fault", sorted(FIELD_EVIDENCE))
def test_field_fault_evidence(hand_pki: HandPki, catalog: Catalog, fault: str) -> None:
    server = next(s for s in HAND_SERVERS if s.fault == fault)
    with s_server(hand_pki, server) as port:
        d = hand_diagnose(hand_pki, server, port, catalog)
    assert ids(d)[0] == fault and FIELD_EVIDENCE[fault] in d.causes[0].evidence[0], show(d)
    assert d.causes[0].fix == next(r for r in catalog.get(fault).resolutions if r.recommended).summary
    if fault == "weak-server-key":  # OpenSSL's own verdict, as pyOpenSSL reports it
        assert "EE certificate key too weak" in " ".join(d.causes[0].evidence)
    if fault == "intercepting-proxy":  # the server's own unknown CA stays a candidate, and how to tell them apart
        assert "unknown-server-cert" in ids(d) and "bypassing the proxy" in d.causes[0].evidence[1]


def test_a_plain_http_port_is_reported_as_not_tls(catalog: Catalog) -> None:
    import http.server
    # ThreadingHTTPServer, as `python -m http.server` runs it (a serial one waits on each non-HTTP hello in turn)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        client, anchors = make_client(f"127.0.0.1:{httpd.server_address[1]}", NAME, None, timeout=1.0)
        d = diagnose(client, anchors, catalog)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert ids(d) == ["tls-to-plain-port"], show(d)
    # Python's http.server reads the hello as an HTTP/0.9 request line and answers with a bare error page
    assert "the port speaks HTTP, not TLS: a TLS Client Hello is answered with `<!DOCTYPE HTML>`" \
        in d.causes[0].evidence[0], show(d)


def test_a_silent_server_is_reported(catalog: Catalog) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody ever answers
    try:
        client, anchors = make_client(f"127.0.0.1:{listener.getsockname()[1]}", NAME, None, timeout=0.5)
        d = diagnose(client, anchors, catalog)
    finally:
        listener.close()
    assert d.reached and ids(d) == [None] and any("never answers" in e for e in d.causes[0].evidence), show(d)


# ------------------------------------------------------------------ the command itself
def tlslab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TLSLAB, *args], env=env, capture_output=True, text=True, timeout=60, cwd=REPO, check=False)


def test_cli_json_and_exit_codes(hand_pki: HandPki, cli_env: dict[str, str]) -> None:
    bad = next(s for s in HAND_SERVERS if s.fault == "incomplete-chain")
    good = next(s for s in HAND_SERVERS if s.fault == "healthy")
    with s_server(hand_pki, bad) as port:
        result = tlslab(cli_env, "diagnose", f"127.0.0.1:{port}", "--servername", NAME,
                        "--ca-file", str(hand_pki.path("root")), "--json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "tlslab.diagnose/1" and doc["target"] == f"127.0.0.1:{port}"
    assert doc["causes"][0]["scenario"] == "incomplete-chain" and doc["causes"][0]["evidence"]
    assert any(o["topic"] == "chain" for o in doc["observations"])
    with s_server(hand_pki, good) as port:
        result = tlslab(cli_env, "diagnose", f"127.0.0.1:{port}", "-n", NAME, "--ca-file", str(hand_pki.path("root")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "healthy" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_cli_client_certificate_rejected(hand_pki: HandPki, cli_env: dict[str, str]) -> None:
    server = next(s for s in HAND_SERVERS if s.fault == "expired-client-cert")
    cert = hand_pki.bundle("client-expired-full", "client-expired")
    with s_server(hand_pki, server) as port:
        result = tlslab(cli_env, "diagnose", f"127.0.0.1:{port}", "-n", NAME, "--ca-file", str(hand_pki.path("root")),
                        "--client-cert", str(cert), "--client-key", str(hand_pki.key("client-expired")), "--json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["causes"][0]["scenario"] == "expired-client-cert" and doc["causes"][0]["judged_by"] == "lab"
    assert "certificate expired" in " ".join(doc["causes"][0]["evidence"])  # s_server's own alert, quoted
    main = doc["attempts"][0]
    assert main["name"] == "as-configured" and main["symptom"] == "alert:certificate_expired"


def test_cli_human_output_lists_observations_then_causes(hand_pki: HandPki, cli_env: dict[str, str]) -> None:
    server = next(s for s in HAND_SERVERS if s.fault == "sni-default-cert")
    with s_server(hand_pki, server) as port:
        result = tlslab(cli_env, "diagnose", f"127.0.0.1:{port}", "-n", NAME, "--ca-file", str(hand_pki.path("root")))
    assert result.returncode == 1
    text = result.stdout
    assert text.index("observed:") < text.index("causes (best first):") < text.index("sni-default-cert:")
    assert "Fix: " in text and max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.parametrize("args, words", [
    (["nonsense"], "HOST:PORT 'nonsense'"),
    (["127.0.0.1:99999"], "port must be a number"),
    (["127.0.0.1:443", "--ca-file", "/nonexistent/root.pem"], "--ca-file /nonexistent/root.pem: cannot be read"),
    (["127.0.0.1:443", "--client-cert", "x.pem"], "--client-cert and --client-key go together"),
    (["127.0.0.1:443", "--servername", "10.0.0.1"], "--servername '10.0.0.1'"),
])
def test_cli_bad_input_exits_2(cli_env: dict[str, str], args: list[str], words: str) -> None:
    result = tlslab(cli_env, "diagnose", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


def test_targets_parse() -> None:
    from lab.diagnose import parse_target
    assert parse_target("127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert parse_target("[::1]:443") == ("::1", 443)
    assert parse_target("api.example.com:443") == ("api.example.com", 443)
    for bad in ("[::1]", "[::1:443", ":443", "host:", "host:0"):
        with pytest.raises(UserInputError):
            parse_target(bad)


def test_cli_not_a_pem_names_the_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    result = tlslab(cli_env, "diagnose", "127.0.0.1:443", "--ca-file", str(junk))
    assert result.returncode == 2 and f"--ca-file {junk}: holds no PEM certificate" in " ".join(result.stderr.split())


def test_cli_nothing_listening_exits_3(cli_env: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        result = tlslab(cli_env, "diagnose", f"127.0.0.1:{port}", "-n", NAME)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "cannot connect" in " ".join(result.stderr.split())


def test_cli_help_has_examples(cli_env: dict[str, str]) -> None:
    result = tlslab(cli_env, "diagnose", "--help")
    assert result.returncode == 0 and "Examples:" in result.stdout and "--ca-file" in result.stdout


def test_every_nameable_cause_is_a_catalog_scenario(catalog: Catalog) -> None:
    from lab.diagnose.rules import CLIENT_SIDE, NAMED
    assert NAMED <= set(catalog.ids)
    assert set(CLIENT_SIDE) <= set(catalog.ids)
    # and every catalog scenario is nameable, or declared a client-side cause no probe of the server
    # can see (with the reason diagnose shows): a new scenario needs a rule (and a test) here
    assert set(catalog.ids) <= NAMED | set(CLIENT_SIDE)
    assert all(len(why) > 40 for why in CLIENT_SIDE.values())


def test_cli_declares_the_client_side_causes(hand_pki: HandPki, cli_env: dict[str, str]) -> None:
    from lab.diagnose.rules import CLIENT_SIDE
    good = next(s for s in HAND_SERVERS if s.fault == "healthy")
    with s_server(hand_pki, good) as port:
        human = tlslab(cli_env, "diagnose", f"127.0.0.1:{port}", "-n", NAME, "--ca-file", str(hand_pki.path("root")))
        doc = json.loads(tlslab(cli_env, "diagnose", f"127.0.0.1:{port}", "-n", NAME, "--ca-file",
                                str(hand_pki.path("root")), "--json").stdout)
    assert human.returncode == 0 and "not visible from here" in human.stdout, human.stdout
    assert "missing-ca-bundle:" in human.stdout and max(len(line) for line in human.stdout.splitlines()) <= 80
    assert {c["scenario"]: c["reason"] for c in doc["client_side"]} == CLIENT_SIDE and doc["healthy"] is True


# ------------------------------------------------------------------ (b) hand-written nginx.conf
HAND_NGINX_CONF = """
# written by hand for this test, not by lab/nginx/config.py
worker_processes 1;
pid /tmp/hand-nginx.pid;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path /tmp/hb; proxy_temp_path /tmp/hp; fastcgi_temp_path /tmp/hf;
    uwsgi_temp_path /tmp/hu; scgi_temp_path /tmp/hs;
    ssl_protocols TLSv1.2 TLSv1.3;
    # incomplete chain: the leaf alone, as after uploading cert.pem instead of fullchain.pem
    server {{
        listen 127.0.0.1:{incomplete} ssl;
        server_name {name};
        ssl_certificate /etc/hand/leaf.pem;
        ssl_certificate_key /etc/hand/leaf.key;
        location / {{ return 200 "incomplete\\n"; }}
    }}
    # SNI only: no server_name, no handshake
    server {{
        listen 127.0.0.1:{sni} ssl default_server;
        ssl_reject_handshake on;
    }}
    server {{
        listen 127.0.0.1:{sni} ssl;
        server_name {name};
        ssl_certificate /etc/hand/leaf-full.pem;
        ssl_certificate_key /etc/hand/leaf.key;
        location / {{ return 200 "sni\\n"; }}
    }}
    # healthy control: the complete chain
    server {{
        listen 127.0.0.1:{healthy} ssl;
        server_name {name};
        ssl_certificate /etc/hand/leaf-full.pem;
        ssl_certificate_key /etc/hand/leaf.key;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def free_ports(n: int) -> list[int]:
    socks = [socket.create_server(("127.0.0.1", 0)) for _ in range(n)]
    try:
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextlib.contextmanager
def hand_nginx(pki: HandPki, conf_dir: Path) -> Iterator[dict[str, int]]:
    from nginx_support import require_docker, wait_for
    require_docker()
    import docker

    from lab.nginx.image import resolve_image
    from lab.nginx.engine import owner_labels

    ports = dict(zip(("incomplete", "sni", "healthy"), free_ports(3)))
    pki.bundle("leaf-full", "leaf", "intermediate")
    (conf_dir / "nginx.conf").write_text(HAND_NGINX_CONF.format(name=NAME, **ports))
    client = docker.from_env()
    container = client.containers.create(
        resolve_image(client, os.environ.get("TLSLAB_NGINX_IMAGE")), entrypoint=["/usr/sbin/nginx"],
        command=["-c", "/etc/hand-conf/nginx.conf", "-g", "daemon off;"], network_mode="host",
        labels=owner_labels(uuid.uuid4().hex, "hand-nginx", "router"),  # `tlslab down` sweeps a leftover
        volumes={str(pki.dir): {"bind": "/etc/hand", "mode": "ro"}, str(conf_dir): {"bind": "/etc/hand-conf", "mode": "ro"}},
    )
    try:
        container.start()

        def listening() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", ports["healthy"]), timeout=0.5):
                return True
            return False

        wait_for("the hand-written nginx to listen", listening)
        yield ports
    finally:
        container.remove(force=True)


def test_hand_written_nginx(hand_pki: HandPki, catalog: Catalog, tmp_path: Path) -> None:
    with hand_nginx(hand_pki, tmp_path) as ports:
        results = {}
        for fault, port in ports.items():
            client, anchors = make_client(f"127.0.0.1:{port}", NAME, hand_pki.path("root"))
            results[fault] = diagnose(client, anchors, catalog)
    assert ids(results["incomplete"]) == ["incomplete-chain"], show(results["incomplete"])
    assert ids(results["sni"]) == ["sni-required"], show(results["sni"])
    assert "unrecognized_name" in results["sni"].causes[0].evidence[0]  # nginx's ssl_reject_handshake alert
    assert results["healthy"].healthy, show(results["healthy"])


# ------------------------------------------------------------------ (c) the catalog, through `tlslab up`
# Fixes made on the client alone leave the server as it was: diagnose still names the server's
# property the fix works around, and the fixed client's own configuration must be seen to work.
CLIENT_SIDE_FIX_WORKS = {
    ("sni-required", "gateway-enable-sni"): lambda d: d.observed.sni.with_sni_ok and d.observed.handshake_ok,
    ("sni-default-cert", "client-send-sni"): lambda d: d.observed.name_matches is True,
    ("cipher-mismatch", "client-high-encryption"): lambda d: "aes256" in dict(d.observed.families.accepted),
    ("protocol-mismatch", "gateway-force-tls10"): lambda d: any(v.value == "TLSv1.0" for v in d.observed.versions.accepted),
    ("ocsp-responder-down", "soft-fail-revocation"): lambda d: d.observed.handshake_ok and d.observed.check.status == "anchored",
    ("tls-to-plain-port", "use-http-scheme"): lambda d: d.observed.plain_reply.http,
    ("weak-server-key", "client-lower-seclevel"): lambda d: d.observed.handshake_ok,
    ("weak-server-key-sha1", "client-lower-seclevel"): lambda d: d.observed.handshake_ok,
    ("weak-server-key-dh", "client-lower-seclevel"): lambda d: d.observed.dhe.at_level0 == "accepted",
    ("alpn-required", "offer-h2"): lambda d: d.observed.alpn.h2 == "accepted" and d.observed.alpn.h2_selected == "h2",
    ("unexpected-eof", "client-ignore-unexpected-eof"): lambda d: d.observed.handshake_ok and d.observed.http_status == 200,
}


def phases(catalog: Catalog) -> list[tuple[str, str | None]]:
    return [(s.id, r) for s in catalog for r in (None, *(res.name for res in s.resolutions))]


@contextlib.contextmanager
def tlslab_up(env: dict[str, str], scenario: str, resolution: str | None, backend: str = "twisted",
              direction: str | None = None) -> Iterator[dict]:  # type: ignore[type-arg]
    args = [*TLSLAB, "up", scenario, "--json", "--backend", backend] + (["--resolution", resolution] if resolution else [])
    args += ["--direction", direction] if direction else []
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"tlslab up {scenario} printed nothing: {proc.stderr.read() if proc.stderr else ''}")
        yield json.loads(line)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def diagnose_up(info: dict, scenario: Scenario, resolution: Resolution | None, pki: Pki,  # type: ignore[type-arg]
                catalog: Catalog) -> Diagnosis:
    """Diagnose the TLS server of the deployment as the scenario's client is configured to see it."""
    direction = Direction(info["direction"])
    roles = {e["role"] for e in info["endpoints"]}
    # where the scenario's client connects: an intercepting proxy when one sits in front
    role = "proxy" if "proxy" in roles else "backend" if direction is Direction.SOUTHBOUND else "server"
    ep = next(e for e in info["endpoints"] if e["role"] == role)
    _, client_spec = scenario.specs(resolution)
    cert = Path(ep["client_cert"]) if ep.get("client_cert") else None
    key = Path(ep["client_key"]) if ep.get("client_key") else None
    if not client_spec.trust:  # an empty client trust store (missing-ca-bundle): judge the server by the fix's
        _, client_spec = scenario.specs(next(r for r in scenario.resolutions if r.recommended))
    client, anchors = make_client(f"127.0.0.1:{ep['port']}", ep["servername"] or scenario.servername,
                                  pki.cert_path(client_spec.trust), cert, key,
                                  clock_offset_days=client_spec.clock_offset_days)
    return diagnose(client, anchors, catalog)


def check_fault(scenario: Scenario, d: Diagnosis, family_only: bool = False) -> None:
    """The fault's id is named first (an OCSP one: among OCSP causes, or only the family when the
    server itself hides the fault, as nginx does by never stapling a "revoked" answer)."""
    from lab.diagnose.rules import CLIENT_SIDE, NAMED
    found = ids(d)
    if scenario.id in CLIENT_SIDE and scenario.id not in NAMED:
        # the declared limit: the fault is the client's; the server is healthy and diagnose says what it cannot see
        assert d.healthy and scenario.id in dict(d.client_side), show(d)
        assert any(c["scenario"] == scenario.id for c in d.as_json()["client_side"])
    elif scenario.id in OCSP_IDS:
        assert found and str(found[0]).startswith("ocsp-") and (family_only or scenario.id in found), show(d)
    elif scenario.id in CLIENT_CERT_IDS:
        assert found[0] == scenario.id, show(d)
    else:
        assert found[0] == scenario.id, show(d)


def check_fixed(scenario: Scenario, resolution: Resolution, d: Diagnosis) -> None:
    works = CLIENT_SIDE_FIX_WORKS.get((scenario.id, resolution.name))
    if works is None:
        assert d.healthy, show(d)
        return
    assert not resolution.server, "a fix that changes the server must make it healthy"
    assert works(d), show(d)
    # only the property the client now copes with remains
    assert set(ids(d)) <= {scenario.id, "ocsp-stapling-off", "ocsp-responder-down", "ocsp-responder-blocked"}, show(d)


@pytest.mark.parametrize("scenario_id, resolution_name", phases(Catalog.load(REPO / "scenarios")),
                         ids=[f"{s}-{r or 'fault'}" for s, r in phases(Catalog.load(REPO / "scenarios"))])
def test_catalog_scenario_on_twisted(scenario_id: str, resolution_name: str | None, catalog: Catalog, pki: Pki,
                                     cli_env: dict[str, str]) -> None:
    scenario = catalog.get(scenario_id)
    resolution = scenario.resolution(resolution_name) if resolution_name else None
    with tlslab_up(cli_env, scenario_id, resolution_name) as info:
        d = diagnose_up(info, scenario, resolution, pki, catalog)
    if resolution is None:
        check_fault(scenario, d)
    else:
        check_fixed(scenario, resolution, d)


OTHER_DIRECTION = [s.id for s in Catalog.load(REPO / "scenarios")
                   if s.direction is Direction.NORTHBOUND and Direction.SOUTHBOUND in s.directions]


@pytest.mark.parametrize("scenario_id", OTHER_DIRECTION)
def test_catalog_fault_southbound(scenario_id: str, catalog: Catalog, pki: Pki, cli_env: dict[str, str]) -> None:
    """The same faults behind a gateway: diagnose the backend endpoint `tlslab up --direction southbound` lists."""
    scenario = catalog.get(scenario_id)
    with tlslab_up(cli_env, scenario_id, None, direction="southbound") as info:
        assert any(e["role"] == "gateway" for e in info["endpoints"])
        check_fault(scenario, diagnose_up(info, scenario, None, pki, catalog))


NGINX_SET = ["incomplete-chain", "wrong-intermediate", "sni-default-cert", "sni-required", "cipher-mismatch",
             "protocol-mismatch", "expired-client-cert", "ocsp-stapling-off", "ocsp-revoked",
             # field faults nginx can set up (not alpn-required or unexpected-eof: see lab/nginx/config.py);
             # weak-server-key-dh on nginx is OpenSSL 3.0's ssl_dhparam group, as a real legacy server has it
             "tls-to-plain-port", "weak-server-key", "weak-server-key-sha1", "weak-server-key-dh", "cn-only-certificate",
             "wrong-key-usage", "expired-cross-signed-root", "client-cert-not-sent", "intercepting-proxy"]
# nginx never staples a response whose status is not "good" (see scenarios/ocsp-revoked.toml):
# its clients, diagnose included, see no staple at all
NGINX_HIDES = {"ocsp-revoked"}


def test_catalog_on_nginx(catalog: Catalog, pki: Pki, cli_env: dict[str, str]) -> None:
    from nginx_support import require_docker
    require_docker()
    failures = []
    for scenario_id in NGINX_SET:
        scenario = catalog.get(scenario_id)
        for resolution in (None, scenario.resolutions[0]):
            # northbound: nginx itself is the TLS server diagnose probes
            with tlslab_up(cli_env, scenario_id, resolution.name if resolution else None, "nginx", "northbound") as info:
                d = diagnose_up(info, scenario, resolution, pki, catalog)
            try:
                if resolution is None:
                    check_fault(scenario, d, family_only=scenario_id in NGINX_HIDES)
                else:
                    check_fixed(scenario, resolution, d)
            except AssertionError as exc:
                failures.append(f"{scenario_id} / {resolution.name if resolution else 'fault'}: {exc}")
    assert not failures, "\n\n".join(failures)
