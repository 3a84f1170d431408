"""A Go client (crypto/tls + net/http, go1.19.8 from Debian's golang-go) as a team's own probe.

Real error texts from a client the lab knows nothing about: its words must reach the documented
symptom through lab/symptoms.py, and its exit status decides success. The client is
tests/data/go_client.go, built here with `go build` (standard library only: no network).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, require_tool
from own_material_support import TeamPki, make_team_pki

from lab.symptoms import normalise

pytestmark = pytest.mark.slow
CERT_SCENARIOS = ["incomplete-chain", "expired-server-cert", "hostname-mismatch", "unknown-server-cert",
                  "wrong-intermediate", "expired-client-cert"]

# What go1.19.8 printed against the lab's servers (Get "https://127.0.0.1:PORT/": ... prefix kept).
GO_WORDS = {
    'Get "https://127.0.0.1:45789/": x509: certificate signed by unknown authority': "verify:unknown-issuer",
    'Get "https://127.0.0.1:37613/": x509: certificate has expired or is not yet valid: current time '
    '2026-12-01T20:06:18Z is after 2026-11-30T19:41:37Z': "verify:expired",
    'Get "https://127.0.0.1:40561/": x509: certificate is valid for something.domain.lab.test, not '
    'myorg.domain.lab.test': "verify:hostname-mismatch",
    'Get "https://127.0.0.1:45181/": remote error: tls: expired certificate': "alert:certificate_expired",
    'Get "https://127.0.0.1:34453/": remote error: tls: certificate required': "alert:certificate_required",
    'Get "https://127.0.0.1:1/": remote error: tls: handshake failure': "alert:handshake_failure",
}


@pytest.mark.parametrize("words", list(GO_WORDS))
def test_go_words_reach_the_vocabulary(words: str) -> None:
    assert str(normalise(words)) == GO_WORDS[words]


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("go", "the Go client is built with Debian's golang-go")
    out = tmp_path_factory.mktemp("go") / "client"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GO111MODULE": "off"}
    subprocess.run(["go", "build", "-o", str(out), str(REPO / "tests" / "data" / "go_client.go")], env=env,
                   check=True, capture_output=True, timeout=240)
    return out


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", "run", *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=REPO)


def test_go_client_shows_every_certificate_fault_and_accepts_every_fix(cli_env: dict[str, str],
                                                                       go_client: Path) -> None:
    cmd = f"our-go={go_client} {{url}} {{servername}} {{ca_file}} {{client_cert}} {{client_key}}"
    proc = _run(cli_env, *CERT_SCENARIOS, "-c", "openssl", "--probe-cmd", cmd, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = [(p["resolution"], c) for s in json.loads(proc.stdout)["scenarios"] for p in s["phases"]
              for c in p["checks"] if c["client"] == "our-go"]
    assert len([r for r, _ in checks if r is None]) == len(CERT_SCENARIOS)  # one fault each, then every fix
    assert all(c["observed"]["raw"].startswith("exit status 1") for r, c in checks if r is None)


def test_go_like_java_sends_no_certificate_the_server_did_not_ask_for(cli_env: dict[str, str],
                                                                      go_client: Path) -> None:
    """Go picks a client certificate only from a CA the CertificateRequest names, as Java does; the
    scenario's default expectation (unknown_ca) is not what Go sees, and the run says so (exit 1)."""
    cmd = f"our-go={go_client} {{url}} {{servername}} {{ca_file}} {{client_cert}} {{client_key}}"
    proc = _run(cli_env, "unknown-client-cert", "-c", "openssl", "--probe-cmd", cmd)
    assert proc.returncode == 1
    assert "unknown-client-cert / fault / our-go: expected alert:unknown_ca; saw alert:certificate_required" in proc.stdout


def test_go_client_validates_our_own_chain(cli_env: dict[str, str], go_client: Path, tmp_path: Path) -> None:
    team: TeamPki = make_team_pki(tmp_path / "team")
    cmd = f"our-go={go_client} {{url}} {{servername}} {{ca_file}}"
    own = ["--server-cert", str(team.fullchain), "--server-key", str(team.key), "--ca-file", str(team.root)]
    assert _run(cli_env, "incomplete-chain", *own, "-c", "openssl", "--probe-cmd", cmd).returncode == 0
    leaf_only = ["--server-cert", str(team.leaf), "--server-key", str(team.key), "--ca-file", str(team.root)]
    proc = _run(cli_env, "incomplete-chain", *leaf_only, "-c", "openssl", "--probe-cmd", cmd)
    assert proc.returncode == 1
    assert "incomplete-chain / own-material / our-go: expected ok; saw verify:unknown-issuer" in proc.stdout
