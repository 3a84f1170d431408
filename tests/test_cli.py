"""The real `tlslab` command, run as users run it: exit codes, JSON, errors, up/down lifecycle."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import require_tool

TLSLAB = [sys.executable, "-m", "lab"]


def tlslab(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TLSLAB, *args], env=env, capture_output=True, text=True, timeout=timeout)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    """Whatever a test asserts, every `tlslab up` it started is gone afterwards."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


class UpProcess:
    """`tlslab up --json` in the background; the first stdout line is the readiness contract."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([*TLSLAB, "up", *args, "--json"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        _STARTED.append(self.proc)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"no readiness line; stderr: {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.info = json.loads(line)

    def ports(self) -> list[int]:
        return [e["port"] for e in self.info["endpoints"]]

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(10)


def test_list_json(cli_env: dict[str, str]) -> None:
    result = tlslab(cli_env, "list", "--json")
    assert result.returncode == 0
    ids = [s["id"] for s in json.loads(result.stdout)]
    assert "cipher-mismatch" in ids and "unknown-client-cert" in ids


def test_show_json_names_resolutions(cli_env: dict[str, str]) -> None:
    result = tlslab(cli_env, "show", "cipher-mismatch", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["symptom"]["documented"] == "Received fatal alert: handshake_failure"
    assert list(data["resolutions"]) == ["client-high-encryption"]
    assert data["resolutions"]["client-high-encryption"]["changes"][0]["field"] == "ciphers"
    assert any(step.startswith("openssl s_client") for step in data["manual"])


def test_run_json_and_junit(cli_env: dict[str, str], tmp_path: Path) -> None:
    require_tool("openssl")
    require_tool("curl")
    junit = tmp_path / "report.xml"
    result = tlslab(cli_env, "run", "sni-required", "--client", "openssl,curl", "--json", "--junit", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] and report["clients"] == ["openssl", "curl"]
    fault = report["scenarios"][0]["phases"][0]
    assert {c["client"] for c in fault["checks"]} == {"openssl", "curl", "app"}
    assert all(c["observed"]["symptom"] == "alert:handshake_failure" for c in fault["checks"] if c["client"] != "app")
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert suites and suites[0].get("failures") == "0" and int(suites[0].get("tests", "0")) == 6


def test_run_exits_1_when_a_check_fails(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A scenario directory whose 'fault' is healthy: the run must report failure, exit 1."""
    source = (Path(__file__).parent.parent / "scenarios" / "expired-server-cert.toml").read_text()
    (tmp_path / "expired-server-cert.toml").write_text(source.replace('certificate = "server-expired"', 'certificate = "server"', 1))
    result = tlslab(cli_env, "run", "expired-server-cert", "--client", "python-ssl", "--scenarios", str(tmp_path))
    assert result.returncode == 1, result.stdout
    assert "FAIL" in result.stdout and "expected verify:expired; saw ok" in result.stdout


@pytest.mark.parametrize("args, words", [
    (["run", "sni-require"], "Did you mean: sni-required"),
    (["run", "sni-required", "--client", "telnet"], "--client: unknown client telnet"),
    (["run"], "--all"),
    (["up", "sni-required", "--resolution", "magic"], "has no resolution 'magic'"),
    (["run", "sni-required", "--direction", "up"], "--direction"),
])
def test_bad_input_exits_2_without_traceback(cli_env: dict[str, str], args: list[str], words: str) -> None:
    result = tlslab(cli_env, *args)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr


def test_malformed_scenario_file_is_named(cli_env: dict[str, str], tmp_path: Path) -> None:
    source = (Path(__file__).parent.parent / "scenarios" / "incomplete-chain.toml").read_text()
    (tmp_path / "broken.toml").write_text(source.replace('id = "incomplete-chain"', 'id = "broken"')
                                          .replace("[server]", "[server]\nchian = []"))
    result = tlslab(cli_env, "list", "--scenarios", str(tmp_path))
    assert result.returncode == 2
    assert "broken.toml" in result.stderr and "'server.chian': unknown field" in result.stderr


def test_missing_tool_is_reported_and_fails_under_ci(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "PATH": str(tmp_path)}  # no openssl, no curl
    env.pop("CI", None)
    result = tlslab(env, "run", "incomplete-chain", "--client", "openssl,python-ssl")
    assert result.returncode == 1
    assert "openssl could not run: the 'openssl' command is not installed" in result.stdout
    ci = tlslab({**env, "CI": "true"}, "run", "incomplete-chain", "--client", "openssl")
    assert ci.returncode == 3 and "under CI=true every selected client must run" in ci.stderr


def test_up_json_then_sigint_leaves_nothing(cli_env: dict[str, str]) -> None:
    up = UpProcess(cli_env, "sni-required")
    info = up.info
    assert info["scenario"] == "sni-required" and info["resolution"] is None
    roles = {e["role"]: e for e in info["endpoints"]}
    assert set(roles) == {"gateway", "backend"}
    backend = roles["backend"]
    assert backend["host"] == "127.0.0.1" and backend["servername"] == "api.lab.test"
    assert Path(backend["ca_file"]).is_absolute() and Path(backend["ca_file"]).exists()
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", roles["gateway"]["port"], timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().status == 503
    conn.close()
    state = list(Path(cli_env["TLSLAB_STATE"]).glob("up-*.json"))
    assert len(state) == 1
    assert up.stop(signal.SIGINT) == 130  # 128 + SIGINT, as for every interrupted command
    assert not any(port_open(p) for p in up.ports())
    assert not list(Path(cli_env["TLSLAB_STATE"]).glob("up-*.json"))


def test_up_two_way_lists_client_identity_and_sigterm(cli_env: dict[str, str]) -> None:
    up = UpProcess(cli_env, "expired-client-cert", "--resolution", "renew-client-certificate")
    (server,) = up.info["endpoints"]
    assert up.info["resolution"] == "renew-client-certificate"
    assert server["client_cert"].endswith("client-fullchain.pem") and server["client_key"].endswith("client.key")
    up.stop(signal.SIGTERM)
    assert not port_open(server["port"])


def test_port_in_use_is_a_clear_error(cli_env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = tlslab(cli_env, "up", "incomplete-chain", "--port", str(port))
    assert result.returncode == 3
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr and "Traceback" not in result.stderr


def test_down_stops_an_abandoned_up(cli_env: dict[str, str]) -> None:
    up = UpProcess(cli_env, "hostname-mismatch")
    result = tlslab(cli_env, "down", "--json")
    assert result.returncode == 0
    actions = json.loads(result.stdout)
    assert any(a["action"] == "stopped" and str(up.proc.pid) in a["what"] for a in actions)
    assert up.proc.wait(10) is not None
    assert not any(port_open(p) for p in up.ports())


def test_down_after_kill_9_clears_stale_state(cli_env: dict[str, str]) -> None:
    up = UpProcess(cli_env, "hostname-mismatch")
    os.kill(up.proc.pid, signal.SIGKILL)
    up.proc.wait(10)
    result = tlslab(cli_env, "down", "--json")
    assert any(a["action"] == "already gone" for a in json.loads(result.stdout))
    assert not list(Path(cli_env["TLSLAB_STATE"]).glob("up-*.json"))


def test_certs_json(cli_env: dict[str, str]) -> None:
    result = tlslab(cli_env, "certs", "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["generated"] is False and {c["name"] for c in data["certificates"]} >= {"root", "server", "client"}


def test_help_has_examples(cli_env: dict[str, str]) -> None:
    for command in ("run", "up", "show"):
        result = tlslab(cli_env, command, "--help")
        assert result.returncode == 0 and "tlslab " + command in result.stdout


def test_ctrl_c_during_run_stops_cleanly(cli_env: dict[str, str]) -> None:
    proc = subprocess.Popen([*TLSLAB, "run", "--all", "--client", "python-ssl,pyopenssl"], env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    first = proc.stderr.read(1)  # progress has started: servers are up or coming up
    assert first
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted; nothing left running." in stderr and "Traceback" not in stderr
