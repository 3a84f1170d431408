"""The capture reader on material the lab did not make.

Servers are hand-started ``openssl s_server`` instances with certificates made by the
openssl CLI (one expired with faketime), clients are ``openssl s_client``, and the packets
are recorded by ``tcpdump -i lo`` (classic pcap) or ``tshark -i lo`` (pcapng), as a
customer would record them. Capturing on lo needs root: CI runs as root; elsewhere these
tests skip saying so (and fail under CI=true). Tool versions seen when written: OpenSSL
3.0.22 (Debian 12), tcpdump 4.99.3, TShark 4.0.17.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.capture import read_capture, symptoms
from lab.capture.handshake import Handshake
from lab.capture.ladder import ladder_lines
from lab.symptoms import Kind, Symptom

from conftest import REPO, require_tool, skip_or_fail

NAME = "hand.example.test"


def _openssl(*args: str, cwd: Path, faketime: str | None = None) -> None:
    argv = (["faketime", "-f", faketime] if faketime else []) + ["openssl", *args]
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def hand_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a good leaf, an expired leaf (made 20 days in the past with faketime), a revoked OCSP response."""
    require_tool("openssl")
    require_tool("faketime", "the expired certificate is made with a shifted clock")
    d = tmp_path_factory.mktemp("hand-pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
             "-subj", "/CN=Hand CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
             "-subj", f"/CN={NAME}", cwd=d)
    (d / "ext.cnf").write_text(f"subjectAltName=DNS:{NAME}\n")
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "leaf.pem", "-days", "10", "-extfile", "ext.cnf", cwd=d)
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "expired.pem", "-days", "5", "-extfile", "ext.cnf", cwd=d, faketime="-20d")
    serial = subprocess.run(["openssl", "x509", "-in", "leaf.pem", "-noout", "-serial"], cwd=d, capture_output=True,
                            text=True, check=True).stdout.strip().split("=")[1]
    (d / "index.txt").write_text(f"R\t301231235959Z\t250101000000Z\t{serial}\tunknown\t/CN={NAME}\n")
    _openssl("ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-reqout", "req.der", "-no_nonce", cwd=d)
    _openssl("ocsp", "-index", "index.txt", "-rsigner", "ca.pem", "-rkey", "ca.key", "-CA", "ca.pem",
             "-reqin", "req.der", "-respout", "revoked.der", "-ndays", "1", cwd=d)
    return d


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"s_server exited: {proc.stderr.read() if proc.stderr else b''!r}")
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"s_server never listened on {port}")


class Recorder:
    """tcpdump (or tshark) on lo for one port, started and stopped around the connections."""

    def __init__(self, tool: str, path: Path, port: int, interface: str = "lo") -> None:
        self.path, self.tool = path, tool
        if tool == "tcpdump":
            argv = ["tcpdump", "-i", interface, "--immediate-mode", "-U", "-s", "0", "-w", str(path), f"tcp port {port}"]
        else:
            argv = ["tshark", "-i", "lo", "-w", str(path), "-f", f"tcp port {port}"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        seen = b""
        deadline = time.monotonic() + 20
        armed = b"listening on" if tool == "tcpdump" else b"Capture started"  # tshark's "Capturing on" comes earlier
        while armed not in seen:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{tool} did not start: {seen.decode(errors='replace')}")
            seen += self.proc.stderr.readline()

    def stop(self) -> Path:
        # tcpdump --immediate-mode hands over each packet at once; dumpcap (tshark) has no such mode,
        # and libpcap's TPACKET_V3 ring hands a block over after its 1 s timeout: wait past it.
        time.sleep(0.3 if self.tool == "tcpdump" else 2.5)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        return self.path


@pytest.fixture
def capturing() -> Iterator[None]:
    if os.geteuid() != 0:
        skip_or_fail("capturing on lo with tcpdump/tshark needs root (CI runs as root)")
    require_tool("tcpdump", "apt-get install tcpdump")
    require_tool("tshark", "apt-get install tshark")
    yield


@pytest.fixture
def s_server(hand_pki: Path) -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, cert: str = "leaf.pem", host: str = "127.0.0.1") -> int:
        port = _free_port()
        proc = subprocess.Popen(["openssl", "s_server", "-accept", f"{host}:{port}", "-cert", cert,
                                 "-key", "leaf.key", "-www", *args], cwd=hand_pki, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(proc)
        _wait_port(port, proc, "::1" if host == "[::1]" else host)
        return port

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


def s_client(hand_pki: Path, port: int, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", NAME,
                           "-CAfile", "ca.pem", "-verify_return_error", *args], cwd=hand_pki,
                          input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=30)


def only_handshake(path: Path, keylog: Path | None = None) -> Handshake:
    handshakes = [h for h in read_capture(path, keylog) if h.client_hello is not None or h.refused]
    assert len(handshakes) == 1, [ladder_lines(h) for h in handshakes]
    return handshakes[0]


# ------------------------------------------------------------------------------------ tests
def test_tcpdump_expired_certificate_tls12(capturing: None, s_server, hand_pki: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = s_server(cert="expired.pem")
    rec = Recorder("tcpdump", tmp_path / "expired.pcap", port)
    client = s_client(hand_pki, port, "-tls1_2")
    h = only_handshake(rec.stop())
    assert b"certificate has expired" in client.stderr + client.stdout  # openssl 3.0's own words
    assert h.failed and symptoms(h)[0] == Symptom(Kind.VERIFY, "expired"), ladder_lines(h)
    assert h.client_hello and h.client_hello.server_name == NAME
    assert h.server_hello and h.server_hello.version == 0x0303
    assert [c.subject for c in h.certificates] == [f"CN={NAME}"] and h.certificates[0].issuer == "CN=Hand CA"
    alert = h.fatal_alert
    assert alert and alert.from_client and alert.description == "certificate_expired"
    assert any("EXPIRED" in line for line in ladder_lines(h))


def test_tcpdump_expired_certificate_tls13_with_the_clients_key_log(capturing: None, s_server, hand_pki: Path,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path) -> None:
    port = s_server(cert="expired.pem")
    rec = Recorder("tcpdump", tmp_path / "expired13.pcap", port)
    keys = tmp_path / "s_client.keys"
    s_client(hand_pki, port, "-tls1_3", "-keylogfile", str(keys))
    path = rec.stop()
    blind = only_handshake(path)
    assert blind.failed and blind.encrypted_unread and not blind.certificates  # no keys: never guessed
    h = only_handshake(path, keys)
    assert h.decrypted and h.certificates and h.certificates[0].subject == f"CN={NAME}"
    assert symptoms(h)[0] == Symptom(Kind.VERIFY, "expired"), ladder_lines(h)


def test_tcpdump_protocol_mismatch_server_alert(capturing: None, s_server, hand_pki: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = s_server("-no_tls1_3")
    rec = Recorder("tcpdump", tmp_path / "proto.pcap", port)
    s_client(hand_pki, port, "-tls1_3")
    h = only_handshake(rec.stop())
    assert h.client_hello and h.client_hello.versions == (0x0304,)
    assert h.server_hello is None
    assert symptoms(h) == (Symptom(Kind.ALERT, "protocol_version"),), ladder_lines(h)


def test_tcpdump_client_certificate_required(capturing: None, s_server, hand_pki: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = s_server("-Verify", "1", "-CAfile", "ca.pem", "-no_tls1_3")
    rec = Recorder("tcpdump", tmp_path / "clientauth.pcap", port)
    client = s_client(hand_pki, port)
    h = only_handshake(rec.stop())
    alert = h.fatal_alert
    assert alert is not None and not alert.from_client, ladder_lines(h)
    assert symptoms(h)[0] == Symptom(Kind.ALERT, alert.description)
    assert alert.description.replace("_", " ") in client.stderr.decode().lower()  # what s_client itself printed


def test_tcpdump_any_interface_ipv6_linux_cooked(capturing: None, s_server, hand_pki: Path,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path) -> None:
    """tcpdump -i any writes Linux cooked v2 frames; the connection runs over IPv6 loopback."""
    port = s_server("-no_tls1_3", host="[::1]")
    rec = Recorder("tcpdump", tmp_path / "any.pcap", port, interface="any")
    subprocess.run(["openssl", "s_client", "-connect", f"[::1]:{port}", "-servername", NAME, "-verify_return_error"],
                   cwd=hand_pki, input=b"", capture_output=True, timeout=30)  # no CAfile: the hand CA is unknown
    h = only_handshake(rec.stop())
    assert h.client[0] == "::1" and h.certificates and h.certificates[0].issuer == "CN=Hand CA"
    assert symptoms(h)[0] == Symptom(Kind.VERIFY, "unknown-issuer"), ladder_lines(h)
    assert ladder_lines(h)[0].startswith("[::1]:")


def test_tcpdump_refused(capturing: None, tmp_path: Path) -> None:
    port = _free_port()
    rec = Recorder("tcpdump", tmp_path / "refused.pcap", port)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    h = only_handshake(rec.stop())
    assert h.refused and symptoms(h) == (Symptom(Kind.REFUSED),)


def test_tshark_pcapng_ocsp_certificate_status(capturing: None, s_server, hand_pki: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = s_server("-status_file", "revoked.der", "-no_tls1_3")
    rec = Recorder("tshark", tmp_path / "ocsp.pcapng", port)
    client = s_client(hand_pki, port, "-status")
    h = only_handshake(rec.stop())
    assert b"Cert Status: revoked" in client.stdout
    assert h.client_hello and h.client_hello.status_request
    assert h.ocsp is not None and h.ocsp.status == "revoked"
    assert any(m.kind == "CertificateStatus" and "OCSP revoked" in m.detail[0] for m in h.messages), ladder_lines(h)


def test_cli_reads_a_tcpdump_capture(capturing: None, s_server, hand_pki: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                     cli_env: dict[str, str]) -> None:
    port = s_server(cert="expired.pem")
    rec = Recorder("tcpdump", tmp_path / "cli.pcap", port)
    s_client(hand_pki, port, "-tls1_2")
    s_client(hand_pki, port, "-tls1_2", "-CAfile", "ca.pem", "-no-CAfile")  # a second connection, same failure
    path = rec.stop()
    run = subprocess.run([sys.executable, "-m", "lab", "pcap", str(path), "--json"], cwd=REPO,
                         capture_output=True, text=True, env=cli_env, timeout=60)
    assert run.returncode == 1, run.stderr  # 1: a failed handshake was found
    data = json.loads(run.stdout)
    assert data["failed"] == 2 and data["shown"][0]["symptoms"][0] == "verify:expired"
    assert data["shown"][0]["client_hello"]["server_name"] == NAME
    text = subprocess.run([sys.executable, "-m", "lab", "pcap", str(path)], cwd=REPO,
                          capture_output=True, text=True, env=cli_env, timeout=60)
    assert "C->S Alert fatal certificate_expired" in text.stdout
    # prose fits 80 columns; commands ("$ ...", "reproduce: ...") stay one line to paste
    assert all(len(line) <= 80 for line in text.stdout.splitlines()
               if str(path) not in line and not line.lstrip().startswith(("$ ", "reproduce: "))), text.stdout
    # explain --pcap names the cause from this capture tcpdump recorded (no lab server involved)
    explained = subprocess.run([sys.executable, "-m", "lab", "explain", "--pcap", str(path), "--json"], cwd=REPO,
                               capture_output=True, text=True, env=cli_env, timeout=60)
    assert explained.returncode == 1, explained.stderr
    first = json.loads(explained.stdout)["shown"][0]
    best = first["explain"]["candidates"][0]["score"]  # the top tier, as explain's own tests read it
    assert "expired-server-cert" in [c["scenario"] for c in first["explain"]["candidates"] if c["score"] > best - 0.1]
    assert first["explain"]["schema"] == "tlslab.explain/1" and first["explain"]["candidates"][0]["fix"]


def test_cli_rejects_what_is_not_a_capture(tmp_path: Path, cli_env: dict[str, str]) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a capture, it is a note about one\n")
    for target in (bogus, tmp_path / "missing.pcap"):
        run = subprocess.run([sys.executable, "-m", "lab", "pcap", str(target)], cwd=REPO,
                             capture_output=True, text=True, env=cli_env, timeout=60)
        assert run.returncode == 2
        text = " ".join(run.stderr.split())  # one message (the console may wrap it at 80 columns)
        assert text.startswith("error: ") and text.count("error: ") == 1 and "Traceback" not in text, text
        assert str(target) in text.replace(" ", "") or str(target) in text
