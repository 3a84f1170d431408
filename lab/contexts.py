"""pyOpenSSL contexts built from specs: the one place that turns a spec into OpenSSL settings.

The Twisted servers, the Twisted gateway's upstream client and the pyOpenSSL probe all build
their contexts here, so "the gateway's TLS settings" and "a probe standing in for the gateway"
cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from OpenSSL import SSL, crypto

from lab.pki import Pki
from lab.probes.base import ClientFiles
from lab.specs import ClientSpec, ServerSpec, SniPolicy
from lab.tls import Protocol, client_handshake, effective_ciphers

_MODE_NO_AUTO_CHAIN = 0x8  # SSL_MODE_NO_AUTO_CHAIN; pyOpenSSL does not export it
_OP_IGNORE_UNEXPECTED_EOF = 0x80  # SSL_OP_IGNORE_UNEXPECTED_EOF (OpenSSL 3); pyOpenSSL does not export it

_VERSIONS = {
    Protocol.TLSv1_0: SSL.TLS1_VERSION,
    Protocol.TLSv1_1: SSL.TLS1_1_VERSION,
    Protocol.TLSv1_2: SSL.TLS1_2_VERSION,
    Protocol.TLSv1_3: SSL.TLS1_3_VERSION,
}


def _apply_protocols(ctx: SSL.Context, min_p: Protocol | None, max_p: Protocol | None, ciphers: str | None) -> None:
    if min_p:
        ctx.set_min_proto_version(_VERSIONS[min_p])
    if max_p:
        ctx.set_max_proto_version(_VERSIONS[max_p])
    cipher_string = effective_ciphers(ciphers, min_p)
    if cipher_string:
        ctx.set_cipher_list(cipher_string.encode())


def _load_identity(ctx: SSL.Context, pki: Pki, certificate: str, chain: tuple[str, ...],
                   key: str | None = None) -> None:
    """Leaf and exactly the chain the spec says is served: nothing more, nothing auto-completed.

    An own certificate file serves the chain it holds after its leaf, then the spec's `chain`.
    """
    certs = pki.certs(certificate)
    ctx.use_certificate(certs[0])
    ctx.use_privatekey_file(str(pki.key_path(certificate, key)))
    for cert in (*certs[1:], *(c for name in chain for c in pki.certs(name))):
        ctx.add_extra_chain_cert(cert)
    # Never let OpenSSL complete the chain from a verify store (client CAs): an
    # "incomplete chain" server must send exactly what the spec says.
    ctx.set_mode(_MODE_NO_AUTO_CHAIN)


def server_context(spec: ServerSpec, pki: Pki, servername: str,
                   staple: Callable[[], bytes] | None = None,
                   keylog: Callable[[SSL.Connection, bytes], None] | None = None) -> SSL.Context:
    """The context a lab server accepts with; SNI policy decides which identity answers.

    `staple` returns the OCSP response to staple for the spec's certificate (b"" for none); it is
    called per handshake, so it must only hand out bytes fetched beforehand, never fetch itself.
    """
    ctx = _base_server_context(spec, pki, keylog)
    _load_identity(ctx, pki, spec.certificate, spec.chain, spec.key)
    if staple is not None:
        ctx.set_ocsp_server_callback(lambda conn, data: staple())
    if spec.sni is SniPolicy.IGNORE:
        return ctx

    named = ctx
    if spec.sni is SniPolicy.REQUIRE:
        fallback = _base_server_context(spec, pki, keylog)  # no certificate: the handshake fails (handshake_failure)
    else:
        fallback = _base_server_context(spec, pki, keylog)
        _load_identity(fallback, pki, spec.default_certificate or spec.certificate, spec.default_chain)

    def pick(conn: SSL.Connection) -> None:
        name = conn.get_servername()
        if not name or name.decode("ascii", "replace").lower() != servername.lower():
            conn.set_context(fallback)

    # The callback runs on the context the connection starts with; start on the named one
    # and switch away when the Client Hello does not name us.
    named.set_tlsext_servername_callback(pick)
    return named


class NoApplicationProtocol(SSL.Error):
    """Raised in the ALPN callback: pyOpenSSL turns it into SSL_TLSEXT_ERR_ALERT_FATAL, i.e. OpenSSL's
    no_application_protocol alert (its NO_OVERLAPPING_PROTOCOLS sentinel only declines ALPN and goes on).
    An SSL.Error, so Twisted treats it as a failed handshake and still flushes the alert to the client."""


def _select_alpn(accepted: tuple[str, ...]) -> Callable[[SSL.Connection, list[bytes]], bytes]:
    """The server's ALPN choice: the first offered protocol it serves; none in common is fatal
    (no_application_protocol, RFC 7301), as an HTTP/2-only (gRPC) server answers."""
    wanted = [p.encode() for p in accepted]

    def select(conn: SSL.Connection, offered: list[bytes]) -> bytes:
        for p in offered:
            if p in wanted:
                return p
        # args like OpenSSL's error queue ([(library, function, reason)]), which Twisted reads
        raise NoApplicationProtocol([("tlslab server", "alpn", f"client offered {offered!r}; served: {wanted!r}")])

    return select


def _base_server_context(spec: ServerSpec, pki: Pki,
                         keylog: Callable[[SSL.Connection, bytes], None] | None = None) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    if keylog is not None:  # captures: the key log that lets Wireshark decrypt TLS 1.3 (lab.capture)
        ctx.set_keylog_callback(keylog)
    _apply_protocols(ctx, spec.min_protocol, spec.max_protocol, spec.ciphers)
    ctx.set_options(SSL.OP_NO_TICKET)
    if spec.dh_params:
        ctx.load_tmp_dh(str(pki.dh_path(spec.dh_params)))
    if spec.alpn:
        ctx.set_alpn_select_callback(_select_alpn(spec.alpn))
    if spec.client_auth:
        store = ctx.get_cert_store()
        assert store is not None
        for ca in (c for name in spec.client_cas for c in pki.certs(name)):
            store.add_cert(crypto.X509.from_cryptography(ca))  # X509Store wants pyOpenSSL's type
            ctx.add_client_ca(ca)  # the CA names sent in CertificateRequest
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *args: bool(args[-1]))
    return ctx


def _append_line(path: str, line: bytes) -> None:
    with open(path, "ab") as f:
        f.write(line + b"\n")


VerifyErrors = list[tuple[int, int]]  # (X509 error number, depth) as the verify callback saw them


def client_context(spec: ClientSpec, files: ClientFiles) -> tuple[SSL.Context, VerifyErrors]:
    """A verifying client context; verification errors are collected for the raw message."""
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    handshake = client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers)  # explicit, never the build's
    _apply_protocols(ctx, handshake.min_protocol, handshake.max_protocol, handshake.ciphers)
    if not files.trusts_nothing:  # an empty bundle: no CA at all
        ctx.load_verify_locations(str(files.ca_file))
    if spec.alpn:
        ctx.set_alpn_protos([p.encode() for p in spec.alpn])
    if spec.ignore_unexpected_eof:
        ctx.set_options(_OP_IGNORE_UNEXPECTED_EOF)
    errors: VerifyErrors = []

    def verify(conn: SSL.Connection, cert: object, errnum: int, depth: int, ok: int) -> bool:
        if not ok:
            errors.append((errnum, depth))
        return bool(ok)

    ctx.set_verify(SSL.VERIFY_PEER, verify)
    keylog_file = os.environ.get("SSLKEYLOGFILE")
    if keylog_file:  # the convention curl, browsers and Python's ssl follow; captures read it (lab.capture)
        ctx.set_keylog_callback(lambda conn, line: _append_line(keylog_file, line))
    if files.cert_file and files.key_file:
        ctx.use_certificate_chain_file(str(files.cert_file))
        ctx.use_privatekey_file(str(files.key_file))
        ctx.check_privatekey()  # a key of another certificate is the lab's mistake: say so before connecting
    return ctx, errors


ContextFactory = Callable[[], SSL.Context]
