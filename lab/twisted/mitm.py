"""A TLS-intercepting proxy: what a corporate proxy or a "TLS inspection" box does to HTTPS.

It accepts the client's TLS itself, presenting a certificate for the requested name that its own
CA (``proxy-root``, name-constrained like every lab CA) signed a moment ago, and opens a second,
verified TLS connection to the real server (checked against the lab root, as such proxies check
upstream), then relays the decrypted bytes both ways. A client that trusts only the lab root sees
the proxy's chain and says ``self-signed certificate in certificate chain``; one that trusts the
proxy CA, or bypasses the proxy, succeeds. Real TLS on both legs, in the lab's reactor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from OpenSSL import SSL
from twisted.internet import protocol, ssl
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.protocols.policies import TimeoutMixin
from zope.interface import implementer

from lab import reactor as lab_reactor
from lab.pki import Pki
from lab.probes.base import Target
from lab.servers.base import IDLE_TIMEOUT

PROXY_CERTIFICATE = "proxy-server"
PROXY_CHAIN = ("proxy-root",)  # as interception boxes do: the leaf and the proxy's own (self-signed) CA


class _Upstream(protocol.Protocol):
    """The proxy's TLS client leg to the real server."""

    def __init__(self, downstream: "_Downstream") -> None:
        self.downstream = downstream

    def connectionMade(self) -> None:
        self.downstream.upstream_ready(self)

    def dataReceived(self, data: bytes) -> None:
        transport: Any = self.downstream.transport
        transport.write(data)

    def connectionLost(self, reason: Any = None) -> None:
        transport: Any = self.downstream.transport
        if transport is not None:
            transport.loseConnection()


class _Downstream(protocol.Protocol, TimeoutMixin):
    """The client's connection, TLS terminated by the proxy: bytes are relayed once upstream is up."""

    def __init__(self, factory: "_ProxyFactory") -> None:
        self.factory = factory
        self.pending: list[bytes] = []
        self.upstream: _Upstream | None = None

    def connectionMade(self) -> None:
        self.setTimeout(IDLE_TIMEOUT)
        f = self.factory
        options = ssl.optionsForClientTLS(f.target.servername, trustRoot=f.trust_root)
        creator = protocol.ClientCreator(lab_reactor.reactor(), _Upstream, self)
        d = creator.connectSSL(f.target.host, f.target.port, options, timeout=IDLE_TIMEOUT)
        d.addErrback(lambda _failure: self._abort())

    def upstream_ready(self, upstream: _Upstream) -> None:
        self.upstream = upstream
        transport: Any = upstream.transport
        for chunk in self.pending:
            transport.write(chunk)
        self.pending.clear()

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        if self.upstream is None:
            self.pending.append(data)
        else:
            transport: Any = self.upstream.transport
            transport.write(data)

    def _abort(self) -> None:
        transport: Any = self.transport
        if transport is not None:
            transport.loseConnection()

    def timeoutConnection(self) -> None:
        transport: Any = self.transport
        transport.abortConnection()

    def connectionLost(self, reason: Any = None) -> None:
        self.setTimeout(None)
        upstream: Any = self.upstream.transport if self.upstream is not None else None
        if upstream is not None:
            upstream.loseConnection()


class _ProxyFactory(protocol.Factory):
    def __init__(self, target: Target, trust_root: Any) -> None:
        self.target = target
        self.trust_root = trust_root

    def buildProtocol(self, addr: Any) -> _Downstream:
        return _Downstream(self)


@implementer(IOpenSSLServerConnectionCreator)
class _Creator:
    def __init__(self, ctx: SSL.Context) -> None:
        self._ctx = ctx

    def serverConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        return SSL.Connection(self._ctx, None)


def proxy_context(pki: Pki) -> SSL.Context:
    """The proxy's client-facing side: its re-signed leaf and its own CA."""
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_options(SSL.OP_NO_TICKET)
    ctx.use_certificate(pki.cert(PROXY_CERTIFICATE))
    ctx.use_privatekey_file(str(pki.key_path(PROXY_CERTIFICATE)))
    for name in PROXY_CHAIN:
        ctx.add_extra_chain_cert(pki.cert(name))
    return ctx


@contextlib.contextmanager
def intercepting_proxy(pki: Pki, upstream: Target, bind: str = "127.0.0.1", port: int = 0) -> Iterator[Target]:
    """Run the proxy in front of `upstream` for as long as the block lasts; yields where clients connect."""
    trust_root = ssl.Certificate.loadPEM(pki.cert_path("root").read_bytes())
    factory = _ProxyFactory(upstream, trust_root)
    listening = lab_reactor.call(lambda: lab_reactor.reactor().listenSSL(
        port, factory, _Creator(proxy_context(pki)), interface=bind))
    try:
        yield Target(upstream.host if bind in ("0.0.0.0", "::", "") else bind,
                     listening.getHost().port, upstream.servername)
    finally:
        lab_reactor.call(listening.stopListening)
