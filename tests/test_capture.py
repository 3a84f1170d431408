"""The lab's captures, judged by Wireshark itself (Debian's tshark), on both backends.

Each scenario runs once through the recorder; tshark then dissects the pcapng files (the
key log travels inside them, so TLS 1.3 handshakes decrypt without options) and the
documents' own words must appear: for sni-required the Client Hello has no server_name and
the server answers "Alert (Level: Fatal, Description: Handshake Failure)"; for
expired-server-cert the client sends "Description: Certificate Expired"; and so on. Each
is a negative control: the fix phase's capture must not show the fault's message.
The lab's own reader must read the same files to the symptom the client itself reported.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from lab.capture import read_capture, symptoms
from lab.capture.ladder import ladder_lines
from lab.capture.relay import CaptureSession, group_path
from lab.harness import APP, Harness, RunReport
from lab.pki import Pki
from lab.probes import make_probes
from lab.scenario import Catalog, Direction
from lab.backends import make_backend

from conftest import explain, require_tool

TWISTED_IDS = ["sni-required", "expired-server-cert", "protocol-mismatch", "incomplete-chain",
               "ocsp-stapling-off", "ocsp-revoked"]
CLIENTS = ["openssl", "curl", "pyopenssl"]


def tshark_text(path: Path) -> str:
    """tshark's full dissection (-V), as a user would read it in Wireshark's detail pane."""
    result = subprocess.run(["tshark", "-r", str(path), "-V"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def tshark_fields(path: Path, display_filter: str, *fields: str) -> list[list[str]]:
    argv = ["tshark", "-r", str(path), "-Y", display_filter, "-T", "fields", "-E", "occurrence=a",
            "-E", "aggregator=,"]
    for f in fields:
        argv += ["-e", f]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]


def client_port(path: Path) -> str:
    return tshark_fields(path, "tcp.flags.syn==1 && tcp.flags.ack==0", "tcp.srcport")[0][0]


def run_captured(harness_backend: object, pki: Pki, catalog: Catalog, ids: list[str], directory: Path,
                 direction: Direction | None = None) -> RunReport:
    with CaptureSession(directory) as session:
        harness = Harness(harness_backend, make_probes(CLIENTS), pki, capture=session)  # type: ignore[arg-type]
        return harness.run([catalog.get(i) for i in ids], direction)


@pytest.fixture(scope="module")
def twisted(pki: Pki, catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunReport]:
    for tool in ("tshark", "openssl", "curl"):
        require_tool(tool)
    directory = tmp_path_factory.mktemp("captures-twisted")
    report = run_captured(make_backend("twisted"), pki, catalog, TWISTED_IDS, directory)
    assert report.passed, "captured runs must pass (the relay must not change what clients see):\n" + "\n".join(
        explain(r) for r in report.results)
    return directory, report


def capture(directory: Path, scenario: str, phase: str, client: str) -> Path:
    path = group_path(directory, scenario, phase, client)
    assert path.exists(), f"no capture written for {scenario} / {phase} / {client}"
    return path


# ------------------------------------------------------------------ sni-required
@pytest.mark.parametrize("client", [*CLIENTS, "gateway"])  # gateway: the Message Processor's own connection
def test_sni_required_client_hello_without_server_name_and_handshake_failure(twisted: tuple[Path, RunReport],
                                                                             client: str) -> None:
    directory, _ = twisted
    fault = capture(directory, "sni-required", "fault", client)
    hellos = tshark_fields(fault, "tls.handshake.type==1", "tls.handshake.extensions_server_name",
                           "tls.handshake.extension.type")
    assert hellos and all(row[0] == "" for row in hellos), hellos
    assert all("0" not in row[1].split(",") for row in hellos), "no server_name extension (type 0) at all"
    text = tshark_text(fault)
    assert "Extension: server_name" not in text
    assert "Alert (Level: Fatal, Description: Handshake Failure)" in text
    alerts = tshark_fields(fault, "tls.alert_message", "tcp.srcport", "tls.alert_message.desc")
    assert alerts and alerts[0][0] != client_port(fault), "the server sends the alert"

    fixed = tshark_text(capture(directory, "sni-required", "fix-gateway-enable-sni", client))
    assert "Extension: server_name" in fixed and "Server Name: api.lab.test" in fixed
    assert "Handshake Failure" not in fixed


# ------------------------------------------------------------------ expired-server-cert
@pytest.mark.parametrize("client", CLIENTS)
def test_expired_server_cert_client_sends_certificate_expired(twisted: tuple[Path, RunReport], client: str) -> None:
    directory, _ = twisted
    fault = capture(directory, "expired-server-cert", "fault", client)
    assert "Description: Certificate Expired" in tshark_text(fault)
    alerts = tshark_fields(fault, "tls.alert_message.desc==45", "tcp.srcport")
    assert alerts and alerts[0][0] == client_port(fault), "the client sends certificate_expired"
    fixed = capture(directory, "expired-server-cert", "fix-renew-server-certificate", client)
    assert "Certificate Expired" not in tshark_text(fixed)


# ------------------------------------------------------------------ protocol-mismatch
def test_protocol_mismatch_versions_in_the_hellos(twisted: tuple[Path, RunReport]) -> None:
    directory, _ = twisted
    fault = capture(directory, "protocol-mismatch", "fault", "openssl")
    client_hello = tshark_fields(fault, "tls.handshake.type==1", "tls.handshake.version",
                                 "tls.handshake.extensions.supported_version")
    assert client_hello[0][0] == "0x0303", client_hello  # the gateway offers TLSv1.2
    assert "0x0304" not in client_hello[0][1] and "0x0301" not in client_hello[0][1]
    server_hello = tshark_fields(fault, "tls.handshake.type==2", "tls.handshake.version")
    assert server_hello == [["0x0301"]], server_hello  # the backend answers TLSv1.0
    assert "Description: Protocol Version" in tshark_text(fault)
    fixed = capture(directory, "protocol-mismatch", "fix-upgrade-backend-tls12", "openssl")
    assert tshark_fields(fixed, "tls.handshake.type==2", "tls.handshake.version") == [["0x0303"]]


# ------------------------------------------------------------------ incomplete-chain
@pytest.mark.parametrize("client", ["openssl", "curl"])
def test_incomplete_chain_one_certificate(twisted: tuple[Path, RunReport], client: str) -> None:
    directory, _ = twisted
    fault = capture(directory, "incomplete-chain", "fault", client)
    certs = tshark_fields(fault, "tls.handshake.type==11", "tls.handshake.certificate_length")
    assert len(certs) == 1 and len(certs[0][0].split(",")) == 1, certs  # decrypted: the key log is in the file
    fixed = capture(directory, "incomplete-chain", "fix-upload-complete-chain", client)
    certs = tshark_fields(fixed, "tls.handshake.type==11", "tls.handshake.certificate_length")
    assert len(certs[0][0].split(",")) == 2, certs


# ------------------------------------------------------------------ OCSP
def test_ocsp_stapling_off_status_request_without_a_staple(twisted: tuple[Path, RunReport]) -> None:
    directory, _ = twisted
    fault = capture(directory, "ocsp-stapling-off", "fault", "curl")
    hello = tshark_fields(fault, "tls.handshake.type==1", "tls.handshake.extension.type")
    assert "5" in hello[0][0].split(","), "the client asks for a staple (status_request)"
    text = tshark_text(fault)
    assert "OCSP Response Length" not in text and "Certificate Status (22)" not in text
    fixed = tshark_text(capture(directory, "ocsp-stapling-off", "fix-enable-stapling", "curl"))
    assert "OCSP Response Length" in fixed and "certStatus: good" in fixed


def test_ocsp_revoked_staple_says_revoked(twisted: tuple[Path, RunReport]) -> None:
    directory, _ = twisted
    text = tshark_text(capture(directory, "ocsp-revoked", "fault", "curl"))
    assert "Certificate Status Type: OCSP (1)" in text and "certStatus: revoked" in text


# ------------------------------------------------------------------ the lab's reader agrees
def test_reader_names_what_each_client_saw(twisted: tuple[Path, RunReport]) -> None:
    """For every fault check the client judged itself, the capture reads back to the same symptom."""
    directory, report = twisted
    compared = 0
    for result in report.results:
        fault = result.phases[0]
        for check in fault.checks:
            if check.outcome is None or check.outcome.ok or check.client == APP:
                continue  # the app's request through the gateway is plain HTTP, not relayed
            if result.scenario.startswith("ocsp") and check.client == "openssl":
                continue  # s_client prints the staple and carries on: the lab judges it, not the handshake
            handshakes = read_capture(capture(directory, result.scenario, "fault", check.client))
            assert len(handshakes) == 1 and handshakes[0].failed, result.scenario
            assert check.outcome.symptom in symptoms(handshakes[0]), (
                f"{result.scenario}/{check.client}: client saw {check.outcome.symptom}, "
                f"capture reads {symptoms(handshakes[0])}\n" + "\n".join(ladder_lines(handshakes[0])))
            compared += 1
        for fix in result.phases[1:]:
            label = f"fix-{fix.resolution}"
            for check in fix.checks:
                if check.outcome is not None and check.client != APP and not result.scenario.startswith("ocsp"):
                    assert not any(h.failed for h in read_capture(capture(directory, result.scenario, label,
                                                                          check.client))), (result.scenario, label)
    assert compared >= 12


def test_ladder_reads_like_the_document(twisted: tuple[Path, RunReport]) -> None:
    directory, _ = twisted
    lines = ladder_lines(read_capture(capture(directory, "sni-required", "fault", "openssl"))[0])
    assert re.search(r"^ #1 C->S ClientHello TLSv1\.\d.*, no server_name, \d+ cipher suites$", lines[1]), lines
    assert lines[2] == " #2 S->C Alert fatal handshake_failure", lines
    chain = ladder_lines(read_capture(capture(directory, "incomplete-chain", "fault", "openssl"))[0])
    assert any("Certificate, 1 certificate" in ln for ln in chain), chain
    assert any("subject CN=api.lab.test" in ln for ln in chain) and any("issuer  CN=tlslab Intermediate CA" in ln
                                                                        for ln in chain)
    ocsp = ladder_lines(read_capture(capture(directory, "ocsp-revoked", "fault", "curl"))[0])
    assert any("OCSP revoked" in ln for ln in ocsp), ocsp
    for path in directory.glob("*.pcapng"):
        for h in read_capture(path):
            assert all(len(ln) <= 80 for ln in ladder_lines(h)), path


def test_capture_files_are_owner_only(twisted: tuple[Path, RunReport]) -> None:
    directory, _ = twisted
    files = list(directory.glob("*.pcapng")) + list(directory.glob("*.keys"))
    assert files and all(f.stat().st_mode & 0o077 == 0 for f in files), "captures hold session keys: 0600"


# ------------------------------------------------------------------ nginx
@pytest.mark.slow
def test_nginx_captures_show_the_documented_messages(nginx_backend: object, pki: Pki, catalog: Catalog,
                                                     tmp_path: Path) -> None:
    for tool in ("tshark", "openssl", "curl"):
        require_tool(tool)
    report = run_captured(nginx_backend, pki, catalog, ["expired-server-cert", "incomplete-chain"], tmp_path,
                          Direction.NORTHBOUND)
    assert report.passed
    for client in ("openssl", "curl"):  # nginx holds its keys: these clients log theirs (SSLKEYLOGFILE)
        fault = capture(tmp_path, "expired-server-cert", "fault", client)
        assert "Description: Certificate Expired" in tshark_text(fault), client
        certs = tshark_fields(capture(tmp_path, "incomplete-chain", "fault", client), "tls.handshake.type==11",
                              "tls.handshake.certificate_length")
        assert len(certs) == 1 and len(certs[0][0].split(",")) == 1, (client, certs)
        certs = tshark_fields(capture(tmp_path, "incomplete-chain", "fix-upload-complete-chain", client),
                              "tls.handshake.type==11", "tls.handshake.certificate_length")
        assert len(certs[0][0].split(",")) == 2, (client, certs)


@pytest.mark.slow
def test_nginx_gateway_capture_shows_its_client_hello(nginx_backend: object, pki: Pki, catalog: Catalog,
                                                      tmp_path: Path) -> None:
    """Southbound on nginx the gateway is nginx itself: its upstream handshake is recorded too."""
    require_tool("tshark")
    report = run_captured(nginx_backend, pki, catalog, ["sni-required"], tmp_path)
    assert report.passed
    fault = capture(tmp_path, "sni-required", "fault", "gateway")
    text = tshark_text(fault)
    assert "Handshake Type: Client Hello" in text and "Extension: server_name" not in text
    assert "Alert (Level: Fatal, Description: Handshake Failure)" in text
    fixed = tshark_text(capture(tmp_path, "sni-required", "fix-gateway-enable-sni", "gateway"))
    assert "Server Name: api.lab.test" in fixed and "Handshake Failure" not in fixed
