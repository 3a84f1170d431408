"""The servers survive hostile or broken clients, and stop cleanly on errors and Ctrl-C."""

from __future__ import annotations

import os
import socket

import pytest

from lab.pki import Pki
from lab.probes.base import ClientFiles
from lab.probes.python_ssl import PythonSslProbe
from lab.scenario import Catalog, Direction
from lab.servers.base import DeployRequest
from lab.twisted.backend import TwistedBackend


def _request(catalog: Catalog, pki: Pki, direction: Direction = Direction.NORTHBOUND) -> DeployRequest:
    scenario = catalog.get("incomplete-chain")
    server, client = scenario.specs(scenario.resolutions[0])
    return DeployRequest(scenario, server, client, direction, pki)


def test_garbage_truncated_and_stalled_clients_do_not_stop_service(catalog: Catalog, pki: Pki) -> None:
    request = _request(catalog, pki)
    probe = PythonSslProbe()
    files = ClientFiles.for_spec(request.client, pki)
    with TwistedBackend().deploy(request) as deployment:
        target = deployment.tls_target
        hostile = []
        for payload in (os.urandom(4096), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b""):
            s = socket.create_connection((target.host, target.port))
            if payload:
                s.sendall(payload)
            hostile.append(s)  # keep them open: a stalled client must not block others
        outcome = probe.run(target, request.client, files)
        assert outcome.ok, outcome.raw
        for s in hostile:
            s.close()
        assert probe.run(target, request.client, files).ok


def test_ports_close_when_the_block_raises(catalog: Catalog, pki: Pki) -> None:
    request = _request(catalog, pki, Direction.SOUTHBOUND)
    ports: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        with TwistedBackend().deploy(request) as deployment:
            ports = [e.port for e in deployment.endpoints]
            raise KeyboardInterrupt
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0


def test_binds_loopback_by_default(catalog: Catalog, pki: Pki) -> None:
    with TwistedBackend().deploy(_request(catalog, pki, Direction.SOUTHBOUND)) as deployment:
        assert {e.host for e in deployment.endpoints} == {"127.0.0.1"}
