"""The in-process backend: Twisted TLS servers and a Twisted gateway on 127.0.0.1.

Northbound, one TLS server plays the Edge Router and the probes connect to it. Southbound,
the faulty TLS server plays the backend and a gateway plays the Message Processor: the app
sends it plain HTTP, it connects to the backend over TLS with the scenario's client spec
(the same pyOpenSSL code as the ``pyopenssl`` probe), and on a TLS failure it answers
``503 Service Unavailable`` and logs the TLS error, as Apigee Edge does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from OpenSSL import SSL
from twisted.internet import protocol, task, threads
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IOpenSSLServerConnectionCreator
from twisted.protocols.policies import ProtocolWrapper, TimeoutMixin, WrappingFactory
from twisted.protocols.tls import TLSMemoryBIOFactory
from zope.interface import implementer

from lab.contexts import server_context
from lab.ocsp import Responder, ResponderPolicy, Stapler, run_responder
from lab.errors import EnvironmentError_, PortInUse, UserInputError
from lab.probes.base import Target
from lab.scenario import Direction
from lab import reactor as lab_reactor
from lab.servers.base import (IDLE_TIMEOUT, LISTEN_BACKLOG, Deployment, DeployRequest, Endpoint, endpoint_files, loopback,
                              proxy_endpoint, responder_endpoints)

STAPLE_REFRESH = 3600.0  # seconds between staple refreshes while a deployment stays up (nginx: hourly)
MAX_REQUEST = 16 * 1024
LINGER = 2.0  # seconds a closing server keeps reading (and discarding) what the client still sends
LINGER_MAX_BYTES = 1024 * 1024  # ... and at most this much of it


class _HttpsResponder(protocol.Protocol, TimeoutMixin):
    """After the handshake: read one request head, answer 200, close. Drops stalled or oversized clients.

    With ``close_notify`` False it answers as a server that delimits the body by closing (no
    Content-Length) and then drops the TCP connection under TLS without a close_notify alert.
    """

    def __init__(self, body: bytes, close_notify: bool = True) -> None:
        self.body = body
        self.close_notify = close_notify
        self.buffer = b""

    def connectionMade(self) -> None:
        self.setTimeout(IDLE_TIMEOUT)

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        self.buffer += data
        if b"\r\n\r\n" in self.buffer or len(self.buffer) > MAX_REQUEST:
            self.setTimeout(None)
            tap = getattr(getattr(self.transport, "transport", None), "tap", None)  # _TappedClose below
            if tap is not None:
                tap.request(self.buffer[:MAX_REQUEST])
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            transport: Any = self.transport
            if not self.close_notify:
                transport.write(head + b"\r\n" + self.body)
                transport.transport.loseConnection()  # the TCP connection under TLS: flushed, no close_notify
                return
            transport.write(head + b"Content-Length: %d\r\n\r\n" % len(self.body) + self.body)
            transport.loseConnection()

    def timeoutConnection(self) -> None:
        transport: Any = self.transport
        transport.abortConnection()

    def connectionLost(self, reason: Any = None) -> None:
        self.setTimeout(None)


class _ResponderFactory(protocol.Factory):
    def __init__(self, body: bytes, close_notify: bool = True) -> None:
        self.body = body
        self.close_notify = close_notify

    def buildProtocol(self, addr: Any) -> _HttpsResponder:
        return _HttpsResponder(self.body, self.close_notify)


class _PlainHttpResponder(_HttpsResponder):
    """A plain-HTTP port. Like nginx's parser it rejects a request line that cannot be HTTP at its first
    byte (a TLS Client Hello starts 0x16) with ``400 Bad Request`` at once, rather than wait for a line end."""

    def dataReceived(self, data: bytes) -> None:
        if not self.buffer and data and not data[:1].isalpha():
            self.setTimeout(None)
            transport: Any = self.transport
            transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                            b"Content-Length: 12\r\n\r\nBad Request\n")
            transport.loseConnection()
            return
        super().dataReceived(data)


class _PlainFactory(_ResponderFactory):
    def buildProtocol(self, addr: Any) -> _HttpsResponder:
        return _PlainHttpResponder(self.body)


def _site(body: bytes) -> Any:
    """A twisted.web site answering 200 with `body`: over TLS with ALPN ``h2`` negotiated, real HTTP/2
    (Twisted's H2 channel, the h2 library), else HTTP/1.1."""
    from twisted.web import resource, server

    class _Ok(resource.Resource):
        isLeaf = True

        def render(self, request: Any) -> bytes:
            request.setHeader(b"content-type", b"text/plain")
            return body

    site = server.Site(_Ok())
    site.displayTracebacks = False
    return site


@implementer(IOpenSSLServerConnectionCreator)
class _ConnectionCreator:
    """Every connection starts on the same prepared context (the SNI callback may switch it)."""

    def __init__(self, ctx: SSL.Context) -> None:
        self._ctx = ctx

    def serverConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        return SSL.Connection(self._ctx, None)


class _LingeringClose(ProtocolWrapper):
    """Between TCP and TLS: a close sends FIN (after the fatal alert), then drains the client's bytes.

    A server that rejects a handshake closes at once, often while the client is still writing
    its flight (Certificate, CertificateVerify, Finished). A full close() then answers those
    bytes with a TCP reset, and a client that writes before it reads (Java's JSSE, on a loaded
    machine) fails with "Broken pipe" and never sees the alert. Like nginx's lingering_close,
    shut the write side only and keep reading, discarding, until the client's EOF, LINGER
    seconds or LINGER_MAX_BYTES, whichever comes first; then close.
    """

    def __init__(self, factory: Any, wrappedProtocol: Any) -> None:
        super().__init__(factory, wrappedProtocol)
        self._lingering = False
        self._lost = False
        self._drained = 0
        self._timer: Any = None  # IDelayedCall

    def loseConnection(self) -> None:
        transport: Any = self.transport
        if self._lingering or self._lost or not transport.connected:
            return  # already closing, or closed (the TLS layer calls this from connectionLost too)
        self._lingering = True
        self.disconnecting = 1
        self._timer = lab_reactor.reactor().callLater(LINGER, transport.abortConnection)
        transport.loseWriteConnection()  # flush what is buffered (the alert), then shutdown(SHUT_WR)

    def dataReceived(self, data: bytes) -> None:
        if not self._lingering:
            super().dataReceived(data)
            return
        self._drained += len(data)
        if self._drained > LINGER_MAX_BYTES:
            transport: Any = self.transport
            transport.abortConnection()

    def connectionLost(self, reason: Any = None) -> None:
        self._lost = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        super().connectionLost(reason)


class _LingeringFactory(WrappingFactory):
    protocol = _LingeringClose


class _TappedClose(_LingeringClose):
    """The lingering close, also reporting raw bytes each way to a ConnectionTap (the request's `tap`)."""

    tap: Any = None

    def dataReceived(self, data: bytes) -> None:
        if self.tap is not None:
            self.tap.data(True, data)
        super().dataReceived(data)

    def write(self, data: bytes) -> None:
        if self.tap is not None:
            self.tap.data(False, data)
        super().write(data)

    def writeSequence(self, data: Any) -> None:
        for chunk in data:
            self.write(chunk)

    def connectionLost(self, reason: Any = None) -> None:
        if self.tap is not None:
            self.tap.closed()
        super().connectionLost(reason)


class _TappedFactory(WrappingFactory):
    protocol = _TappedClose

    def __init__(self, wrapped: Any, tap: Callable[[tuple[str, int], tuple[str, int]], Any]) -> None:
        super().__init__(wrapped)
        self._tap = tap
        self.host: tuple[str, int] = ("", 0)

    def buildProtocol(self, addr: Any) -> Any:
        proto: Any = super().buildProtocol(addr)
        if proto is not None:
            proto.tap = self._tap((addr.host, addr.port), self.host)
        return proto


def _listen_tls(request: DeployRequest, port: int, staple: Callable[[], bytes] | None = None) -> IListeningPort:
    body = f"tlslab {request.scenario.id}: TLS handshake OK\n".encode()
    if request.server.scheme == "http":  # the plain-HTTP port a TLS client is pointed at by mistake
        return lab_reactor.reactor().listenTCP(  # type: ignore[no-any-return]
            port, _PlainFactory(f"tlslab {request.scenario.id}: plain HTTP OK\n".encode()), backlog=LISTEN_BACKLOG,
            interface=request.bind)
    ctx = server_context(request.server, request.pki, request.servername, staple, request.keylog)
    creator: Any = _ConnectionCreator(ctx)  # zope interfaces, which mypy cannot see
    responder: Any = _site(body) if request.server.alpn else _ResponderFactory(body, request.server.close_notify)
    tls = TLSMemoryBIOFactory(creator, False, responder)
    if request.tap is None:
        return lab_reactor.reactor().listenTCP(  # type: ignore[no-any-return]
            port, _LingeringFactory(tls), backlog=LISTEN_BACKLOG, interface=request.bind
        )
    tapped = _TappedFactory(tls, request.tap)
    listening = lab_reactor.reactor().listenTCP(port, tapped, backlog=LISTEN_BACKLOG, interface=request.bind)
    tapped.host = (listening.getHost().host, listening.getHost().port)
    return listening  # type: ignore[no-any-return]


def _responder_endpoints(responder: Responder | None) -> tuple[Endpoint, ...]:
    return responder_endpoints(responder.url if responder else None)


class TwistedBackend:
    """The default backend: in-process, ready in milliseconds, no dependencies beyond Python."""

    name = "twisted"

    def unavailable_reason(self) -> str | None:
        return None

    @contextlib.contextmanager
    def deploy(self, request: DeployRequest) -> Iterator[Deployment]:
        if request.server.nginx_conf:
            raise UserInputError(f"{request.server.nginx_conf}: an nginx server block runs on the nginx backend "
                                 "only: add --backend nginx")
        with contextlib.ExitStack() as stack:
            ocsp_endpoints, staple, server_log = self._ocsp(request, stack)
            with self._deploy(request, staple, ocsp_endpoints, server_log) as deployment:
                yield deployment

    @staticmethod
    def _ocsp(request: DeployRequest, stack: contextlib.ExitStack) -> tuple[
            tuple[Endpoint, ...], Callable[[], bytes] | None, Callable[[], list[str]]]:
        """The CA's OCSP responder (when the leaf names one in AIA) and the server's staple.

        The staple is fetched here, before the TLS server listens, so even the first handshake
        carries it (and the OCSP callback never blocks the reactor); a refresh runs hourly.
        """
        spec = request.server
        log: list[str] = []
        responder: Responder | None = None
        if request.pki.entry(spec.certificate).ocsp:
            responder = stack.enter_context(run_responder(request.pki, ResponderPolicy.from_spec(spec)))
        if not spec.ocsp_stapling:
            return _responder_endpoints(responder), None, lambda: list(log)
        if responder is None:
            log.append(f'[ocsp] "ssl_stapling" ignored, no OCSP responder URL in the certificate "{spec.certificate}"')
            return (), (lambda: b""), lambda: list(log)
        stapler = Stapler(spec, request.pki, responder)
        stapler.refresh()
        refresher = task.LoopingCall(lambda: threads.deferToThread(stapler.refresh))
        lab_reactor.call(lambda: refresher.start(STAPLE_REFRESH, now=False) and None)  # don't await its end
        stack.callback(lambda: lab_reactor.call(refresher.stop))
        return _responder_endpoints(responder), lambda: stapler.staple, lambda: log + stapler.log

    @contextlib.contextmanager
    def _deploy(self, request: DeployRequest, staple: Callable[[], bytes] | None, extra: tuple[Endpoint, ...],
                server_log: Callable[[], list[str]]) -> Iterator[Deployment]:
        ports: list[Any] = []  # IListeningPort
        stack = contextlib.ExitStack()
        try:
            southbound = request.direction is Direction.SOUTHBOUND
            front = request.backend_port if southbound else request.port
            tls_port = self._listen(lambda: _listen_tls(request, front, staple), request, front)
            ports.append(tls_port)
            files = endpoint_files(request)
            tls_endpoint = Endpoint(
                role="backend" if southbound else "server", host=request.bind, port=tls_port.getHost().port,
                scheme=request.server.scheme, servername=request.servername, ca_file=files["ca_file"],
                client_cert=files["client_cert"], client_key=files["client_key"],
            )
            target = Target(loopback(request.bind),
                            tls_endpoint.port, request.servername)
            if request.server.intercepted:  # clients (and the gateway) reach the server through the proxy
                from lab.twisted.mitm import intercepting_proxy

                target = stack.enter_context(intercepting_proxy(request.pki, target))
                extra = (proxy_endpoint(target, request), *extra)
            if not southbound:
                yield Deployment(tls_target=target, endpoints=(tls_endpoint, *extra), server_log=server_log)
                return
            log: list[str] = []
            lock = threading.Lock()
            from lab.twisted.gateway import listen_gateway  # twisted.web: southbound only

            gw_target = request.gateway_upstream(target) if request.gateway_upstream else target
            gw_port = self._listen(lambda: listen_gateway(request, gw_target, request.port, log, lock),
                                   request, request.port)
            ports.append(gw_port)
            gateway = Endpoint(role="gateway", host=request.bind, port=gw_port.getHost().port, scheme="http")

            def read_log() -> list[str]:
                with lock:
                    return list(log)

            yield Deployment(tls_target=target, endpoints=(gateway, tls_endpoint, *extra), gateway=gateway,
                             gateway_log=read_log, server_log=server_log)
        finally:
            stack.close()
            for port in reversed(ports):
                lab_reactor.call(port.stopListening)

    @staticmethod
    def _listen(start: Any, request: DeployRequest, port: int) -> Any:
        try:
            return lab_reactor.call(start)  # type: ignore[no-any-return]
        except CannotListenError as exc:
            if port and "in use" in str(exc).lower():
                raise PortInUse(request.bind, port) from None
            raise EnvironmentError_(f"cannot listen on {request.bind}:{port}: {exc.socketError}") from None
