"""``tlslab up --bind``: a wildcard or outside address is warned about, and the printed URLs work.

Issue 15 item 6: ``--bind 0.0.0.0`` or ``::`` was accepted silently on both backends and printed
``https://:::PORT``; nginx could not even parse ``listen :::PORT``.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator

import pytest

from lab.servers.base import Endpoint, exposure

from nginx_support import require_docker

TLSLAB = [sys.executable, "-m", "lab"]


class Up:
    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([*TLSLAB, "up", "expired-server-cert", "-r", "renew-server-certificate", *args],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.first = self.proc.stdout.readline()
        if not self.first:
            raise AssertionError(self.proc.stderr.read() if self.proc.stderr else "no output")
        while "--json" not in args and "Ctrl-C to stop." not in self.first:  # text: the whole banner
            line = self.proc.stdout.readline()
            if not line:
                break
            self.first += line

    def stop(self) -> tuple[str, str]:
        self.proc.send_signal(2)
        stdout, stderr = self.proc.communicate(timeout=30)
        return self.first + stdout, stderr


@pytest.fixture()
def started() -> Iterator[list[Up]]:
    ups: list[Up] = []
    yield ups
    for up in ups:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()


def _handshake(host: str, port: int, ca_file: str) -> str:
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection((host, port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="api.lab.test") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: api.lab.test\r\nConnection: close\r\n\r\n")
        return tls.recv(100).decode()


def test_exposure() -> None:
    assert exposure("127.0.0.1") is None and exposure("::1") is None and exposure("localhost") is None
    assert exposure("127.0.0.2") is None
    assert "IPv4" in (exposure("0.0.0.0") or "")
    assert "IPv6" in (exposure("::") or "")
    assert exposure("192.0.2.1")


def test_urls_of_wildcard_binds() -> None:
    assert Endpoint("gateway", "::", 8080, "http").url == "http://[::1]:8080/"
    assert Endpoint("gateway", "0.0.0.0", 8080, "http").url == "http://127.0.0.1:8080/"
    assert Endpoint("server", "::", 8443, "https", servername="api.lab.test").url == "https://api.lab.test:8443/"


@pytest.mark.parametrize("backend", ["twisted", pytest.param("nginx", marks=pytest.mark.slow)])
@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_wildcard_bind_warns_and_prints_usable_urls(cli_env: dict[str, str], started: list[Up], backend: str,
                                                    bind: str) -> None:
    if backend == "nginx":
        require_docker()
    up = Up(cli_env, "--bind", bind, "--backend", backend, "--json")
    started.append(up)
    info = json.loads(up.first)
    endpoint = next(e for e in info["endpoints"] if e["scheme"] == "https")
    assert endpoint["host"] == bind
    assert ":::" not in endpoint["url"]
    assert "200 OK" in _handshake("127.0.0.1", endpoint["port"], endpoint["ca_file"])
    if bind == "::":
        assert "200 OK" in _handshake("::1", endpoint["port"], endpoint["ca_file"])
    _, stderr = up.stop()
    assert f"warning: --bind {bind} listens on every" in stderr


def test_text_output_of_a_wildcard_bind(cli_env: dict[str, str], started: list[Up]) -> None:
    up = Up(cli_env, "--bind", "::")
    started.append(up)
    stdout, stderr = up.stop()
    assert "https://[::1]:" in stdout and "listening on [::]:" in stdout
    assert "https://:::" not in stdout
    assert stderr.startswith("warning: --bind :: listens on every interface")


def test_loopback_bind_is_silent(cli_env: dict[str, str], started: list[Up]) -> None:
    up = Up(cli_env, "--json")
    started.append(up)
    _, stderr = up.stop()
    assert "warning" not in stderr
