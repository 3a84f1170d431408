"""The in-process gateway (Apigee's Message Processor): plain HTTP in, TLS to the backend out.

On a TLS failure it answers ``503 Service Unavailable`` and logs the TLS error, as Apigee Edge
does. Its TLS client is the ``pyopenssl`` probe's code with the scenario's client spec, so "the
gateway's settings" and "a probe standing in for the gateway" cannot drift apart. Imported only
for southbound deployments (it pulls in twisted.web).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from twisted.internet import threads
from twisted.internet.interfaces import IListeningPort
from twisted.web import resource, server

from lab.probes.base import ClientFiles, Target
from lab.probes.pyopenssl_probe import fetch
from lab import reactor as lab_reactor
from lab.servers.base import IDLE_TIMEOUT, LISTEN_BACKLOG, DeployRequest


class GatewayResource(resource.Resource):
    """The Message Processor: plain HTTP in, TLS to the backend out, 503 on a TLS failure."""

    isLeaf = True

    def __init__(self, upstream: Target, request: DeployRequest, log: list[str], lock: threading.Lock) -> None:
        super().__init__()
        self.upstream = upstream
        self.spec = request.client
        self.files = ClientFiles.for_spec(request.client, request.pki)
        self.log = log
        self.lock = lock

    def render_GET(self, request: server.Request) -> Any:
        d = threads.deferToThread(fetch, self.upstream, self.spec, self.files, "gateway")

        def answer(outcome: Any) -> None:
            if outcome.ok:
                request.setResponseCode(200)
                body = b"tlslab gateway: upstream OK\n"
            else:
                line = (f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [error] upstream TLS handshake with "
                        f"{self.upstream.host}:{self.upstream.port} ({self.upstream.servername}) failed: {outcome.raw}")
                with self.lock:
                    self.log.append(line)
                request.setResponseCode(503, b"Service Unavailable")
                request.setHeader(b"X-Tlslab-Upstream-Error", outcome.raw.replace("\n", " ").encode())
                body = f"503 Service Unavailable\n{outcome.raw}\n".encode()
            request.setHeader(b"Content-Type", b"text/plain")
            request.setHeader(b"Content-Length", str(len(body)).encode())
            request.write(body)
            request.finish()

        d.addCallback(answer)
        return server.NOT_DONE_YET


def listen_gateway(request: DeployRequest, upstream: Target, port: int, log: list[str],
                    lock: threading.Lock) -> IListeningPort:
    site = server.Site(GatewayResource(upstream, request, log, lock))
    site.noisy = False
    site.timeOut = IDLE_TIMEOUT
    return lab_reactor.reactor().listenTCP(port, site, backlog=LISTEN_BACKLOG, interface=request.bind)  # type: ignore[no-any-return]
