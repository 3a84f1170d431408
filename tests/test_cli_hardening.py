"""The small promises of issue 15 item 7, through the real command and real sockets.

`up`'s exit code per signal, shell-quoted command lines a person can paste, a capped OCSP POST
body, a listen backlog that survives a burst, and a run summary that says why a run whose
checks all were n/a failed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from lab.ocsp import MAX_REQUEST, run_responder
from lab.pki import Pki
from lab.servers.base import LISTEN_BACKLOG

from conftest import REPO, require_tool

TLSLAB = [sys.executable, "-m", "lab"]


def tlslab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TLSLAB, *args], env=env, capture_output=True, text=True, timeout=120, cwd=REPO)


@contextlib.contextmanager
def up_json(env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """`tlslab up --json` until its readiness line; stopped at the end whatever the test asserted
    (SIGINT, so it removes its own state record; SIGKILL only if it does not stop)."""
    proc = subprocess.Popen([*TLSLAB, "up", *args, "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "no readiness line"
        yield proc, json.loads(line)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.communicate(timeout=15)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_up_exit_code_is_128_plus_the_signal(cli_env: dict[str, str], sig: int, code: int) -> None:
    with up_json(cli_env, "hostname-mismatch") as (proc, _):
        proc.send_signal(sig)
        assert proc.wait(15) == code


def test_show_prints_shell_quoted_commands(cli_env: dict[str, str], certs_dir: Path, tmp_path: Path) -> None:
    """With a space in a long certificate path, the printed curl line is one line naming the right file."""
    spaced = tmp_path / ("my certs " + "x" * 150)
    shutil.copytree(certs_dir, spaced, ignore=shutil.ignore_patterns(".lock", ".staging-*"))
    result = tlslab({**cli_env, "TLSLAB_CERTS": str(spaced)}, "show", "expired-server-cert")
    assert result.returncode == 0, result.stderr
    (line,) = [s.strip() for s in result.stdout.splitlines() if s.strip().startswith("curl -v ")]
    argv = shlex.split(line)
    assert argv[argv.index("--cacert") + 1] in (str(spaced / "root.pem"), str(spaced / "current" / "root.pem"))  # the generation
    assert "--write-out" not in argv and "https://api.lab.test:PORT/" in argv


def test_up_prints_a_curl_line_that_runs(cli_env: dict[str, str], certs_dir: Path, tmp_path: Path) -> None:
    """The `try:` curl line of `tlslab up` works pasted as is, spaces in long paths included."""
    curl = require_tool("curl")
    spaced = tmp_path / ("my certs " + "x" * 150)
    shutil.copytree(certs_dir, spaced, ignore=shutil.ignore_patterns(".lock", ".staging-*"))
    proc = subprocess.Popen([*TLSLAB, "up", "expired-server-cert", "--resolution", "renew-server-certificate"],
                            env={**cli_env, "TLSLAB_CERTS": str(spaced)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        lines = []
        for raw in proc.stdout:
            lines.append(raw)
            if "Ctrl-C" in raw:
                break
        (line,) = [s.strip() for s in lines if s.strip().startswith("curl ")]
        argv = shlex.split(line)
        assert argv[argv.index("--cacert") + 1] in (str(spaced / "root.pem"), str(spaced / "current" / "root.pem"))  # the generation
        done = subprocess.run([curl, *argv[1:], "--silent", "--max-time", "10"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)


def test_ocsp_responder_caps_the_post_body(pki: Pki) -> None:
    """A body past MAX_REQUEST gets 413 (and is never buffered); a small one still gets an answer."""
    with run_responder(pki) as responder:
        url = urlsplit(responder.url)
        for size, status in ((MAX_REQUEST * 4, 413), (100, 200)):
            conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
            try:
                conn.request("POST", "/", body=b"\0" * size, headers={"Content-Type": "application/ocsp-request"})
                assert conn.getresponse().status == status, size
            finally:
                conn.close()


def _listen_backlog(port: int) -> int:
    """The listen backlog of 127.0.0.1:port as the kernel reports it (ss: Send-Q of a listener)."""
    ss = require_tool("ss", "the listen backlog is read from the kernel with ss (iproute2)")
    out = subprocess.run([ss, "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"LISTEN\s+\d+\s+(\d+)", out)
    assert match, out
    return int(match.group(1))


def test_twisted_servers_listen_with_a_large_backlog(cli_env: dict[str, str]) -> None:
    """Twisted's default backlog (50) drops a burst of connects; the backend and the gateway use more."""
    with up_json(cli_env, "sni-required") as (_, info):  # southbound: a TLS backend and an HTTP gateway
        ports = [e["port"] for e in info["endpoints"]]
        assert len(ports) == 2
        for port in ports:
            assert _listen_backlog(port) >= min(LISTEN_BACKLOG, int(Path("/proc/sys/net/core/somaxconn").read_text()))


def test_run_summary_says_when_no_client_could_observe_a_phase(cli_env: dict[str, str]) -> None:
    """python-ssl cannot check revocation: every check is n/a, the run fails, and the summary says why."""
    result = tlslab(cli_env, "run", "ocsp-revoked", "--client", "python-ssl", "--direction", "northbound")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 failed, 2 phases not observed" in result.stdout
    assert "2 phases had no client that could observe them" in result.stdout
