"""``run --capture``, ``up --capture``, ``ladder`` and ``run -v`` as a user runs them (the real command)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from lab.capture import read_capture, symptoms
from lab.symptoms import Kind, Symptom

from conftest import REPO, require_tool

TLSLAB = [sys.executable, "-m", "lab"]


def tlslab(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TLSLAB, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_run_capture_writes_one_pcapng_per_phase_and_client(cli_env: dict[str, str], tmp_path: Path) -> None:
    require_tool("openssl")
    result = tlslab(cli_env, "run", "sni-required", "--client", "openssl,pyopenssl", "--capture", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    names = sorted(p.name for p in tmp_path.glob("*.pcapng"))
    assert names == ["sni-required-fault-gateway.pcapng", "sni-required-fault-openssl.pcapng",
                     "sni-required-fault-pyopenssl.pcapng", "sni-required-fix-gateway-enable-sni-gateway.pcapng",
                     "sni-required-fix-gateway-enable-sni-openssl.pcapng",
                     "sni-required-fix-gateway-enable-sni-pyopenssl.pcapng"]
    assert (tmp_path / "sni-required-fix-gateway-enable-sni-openssl.keys").read_text().count("TRAFFIC_SECRET") >= 4
    assert "captures: 6 pcapng file(s)" in result.stderr


def test_up_capture_records_every_connection(cli_env: dict[str, str], tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    proc = subprocess.Popen([*TLSLAB, "up", "expired-server-cert", "--capture", str(tmp_path), "--json"], env=cli_env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        server = next(e for e in line["endpoints"] if e["role"] == "server")
        for _ in range(2):  # two connections, both through the relay the endpoint names
            subprocess.run([openssl, "s_client", "-connect", f"127.0.0.1:{server['port']}", "-servername",
                            server["servername"], "-CAfile", server["ca_file"], "-verify_return_error"],
                           input="", capture_output=True, text=True, timeout=30)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130  # SIGINT: 128 + 2, everything cleaned up
    handshakes = read_capture(tmp_path / "expired-server-cert-fault-up.pcapng")
    assert len(handshakes) == 2
    assert all(symptoms(h)[0] == Symptom(Kind.VERIFY, "expired") for h in handshakes)


def test_ladder_json_numbers_the_messages(cli_env: dict[str, str]) -> None:
    require_tool("openssl")
    result = tlslab(cli_env, "ladder", "sni-required", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    fault, fix = data["phases"]
    messages = fault["handshakes"][0]["messages"]
    assert [(m["number"], m["direction"], m["kind"]) for m in messages] == [
        (1, "C->S", "ClientHello"), (2, "S->C", "Alert")]
    assert messages[1]["text"] == "Alert fatal handshake_failure"
    assert fault["handshakes"][0]["client_hello"]["server_name"] is None
    assert fix["handshakes"][0]["client_hello"]["server_name"] == "api.lab.test"
    assert not fix["handshakes"][0]["failed"]

    assert data["client"] == "gateway"  # southbound: the gateway's own handshake, as the document captured it
    text = tlslab(cli_env, "ladder", "sni-required", "--client", "openssl")
    assert " #2 S->C Alert fatal handshake_failure" in text.stdout and "openssl: pass" in text.stdout
    assert all(len(line) <= 80 for line in text.stdout.splitlines()), text.stdout


def test_ladder_rejects_two_clients_and_a_northbound_gateway(cli_env: dict[str, str]) -> None:
    for args in (["sni-required", "--client", "openssl,curl"], ["expired-server-cert", "--client", "gateway"]):
        result = tlslab(cli_env, "ladder", *args)
        assert result.returncode == 2 and "--client" in result.stderr and "Traceback" not in result.stderr


def test_run_verbose_shows_the_ladder_of_a_failed_check(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A scenario whose fault is already fixed: the check fails, and -v shows what the handshake was."""
    require_tool("openssl")
    src = (REPO / "scenarios" / "sni-required.toml").read_text()
    (tmp_path / "sni-required.toml").write_text(src.replace('sni = false', 'sni = true', 1))
    result = tlslab(cli_env, "run", "sni-required", "--client", "openssl", "-v", "--scenarios", str(tmp_path))
    assert result.returncode == 1
    assert "ladder: sni-required / fault / openssl" in result.stdout
    assert "ClientHello" in result.stdout and "server_name api.lab.test" in result.stdout


def test_up_capture_southbound_records_the_gateways_upstream(cli_env: dict[str, str], tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    proc = subprocess.Popen([*TLSLAB, "up", "sni-required", "--capture", str(tmp_path), "--json"], env=cli_env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        gateway = next(e for e in line["endpoints"] if e["role"] == "gateway")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{gateway['port']}/", timeout=15)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == 503  # the app's view, as the document reports it
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130  # SIGINT: 128 + 2, everything cleaned up
    (h,) = read_capture(tmp_path / "sni-required-fault-gateway-up.pcapng")
    assert h.client_hello is not None and h.client_hello.server_name is None
    assert symptoms(h) == (Symptom(Kind.ALERT, "handshake_failure"),)
