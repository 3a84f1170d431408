"""The lab's OCSP responder: RFC 6960 over HTTP on 127.0.0.1, in the lab's reactor thread.

It knows the PKI catalogue, so a leaf marked ``revoked`` is answered "revoked", a serial it never
issued "unknown", and a CA it does not serve "unauthorized". A :class:`ResponderPolicy` (taken
from the server spec) decides who signs, the time window, an error status, and what the network
does (open, blocked by a firewall, down, slow). The HTTP resource lives in :mod:`lab.ocsp.http`,
imported only when a responder starts, so checking a staple never imports twisted.web.

Why leaves carry ``http://ocsp.lab.test/`` in AIA rather than a live URL: certificates are
generated once and cached, while every deployment binds port 0. ``.test`` never resolves, so
nothing can silently reach a stale port; every consumer is handed the live URL explicitly
(the Twisted stapler; nginx's ``ssl_stapling_responder``; ``openssl ocsp -url``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp
from twisted.internet import protocol

from lab import reactor as lab_reactor
from lab.ocsp.common import issuer_hashes, utcnow
from lab.pki import CATALOGUE, Pki
from lab.specs import OcspNetwork, OcspWindow, ResponderStatus, ServerSpec

_STATUS = {
    ResponderStatus.MALFORMED_REQUEST: ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
    ResponderStatus.INTERNAL_ERROR: ocsp.OCSPResponseStatus.INTERNAL_ERROR,
    ResponderStatus.TRY_LATER: ocsp.OCSPResponseStatus.TRY_LATER,
    ResponderStatus.SIG_REQUIRED: ocsp.OCSPResponseStatus.SIG_REQUIRED,
    ResponderStatus.UNAUTHORIZED: ocsp.OCSPResponseStatus.UNAUTHORIZED,
}


# ---------------------------------------------------------------------------------------------
# Building responses


@dataclass(frozen=True)
class ResponderPolicy:
    """How the CA's responder behaves: the ``ocsp_*`` responder fields of a server spec."""

    signer: str | None = None  # catalogue name; None: the issuing CA signs itself
    window: OcspWindow = OcspWindow.FRESH
    status: ResponderStatus = ResponderStatus.SUCCESSFUL
    network: OcspNetwork = OcspNetwork.OPEN

    @classmethod
    def from_spec(cls, spec: ServerSpec) -> "ResponderPolicy":
        return cls(spec.ocsp_signer, spec.ocsp_window, spec.ocsp_response_status, spec.ocsp_network)


def window(kind: OcspWindow, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(thisUpdate, nextUpdate) for a window kind; second precision, as the DER encoding keeps."""
    now = now.replace(microsecond=0)
    hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
    return {
        OcspWindow.FRESH: (now - hour, now + day),
        OcspWindow.STALE: (now - 6 * day, now + day),
        OcspWindow.EXPIRED: (now - 8 * day, now - day),
        OcspWindow.NOT_YET_VALID: (now + day, now + 8 * day),
    }[kind]



class Authority:
    """Answers OCSP requests for every CA in the lab catalogue, from the catalogue's own data."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self._cas = [e.name for e in CATALOGUE if e.role in ("root", "intermediate")]
        self._issued = [e for e in CATALOGUE if e.issuer]

    def _ca_for(self, request: ocsp.OCSPRequest) -> str | None:
        for name in self._cas:
            if issuer_hashes(self.pki.cert(name), request.hash_algorithm) == (
                    request.issuer_name_hash, request.issuer_key_hash):
                return name
        return None

    def answer(self, request_der: bytes, policy: ResponderPolicy, now: dt.datetime | None = None) -> bytes:
        """The DER response to a DER request under `policy` (error statuses included)."""
        if policy.status is not ResponderStatus.SUCCESSFUL:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(_STATUS[policy.status]).public_bytes(
                serialization.Encoding.DER)
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(serialization.Encoding.DER)
        ca = self._ca_for(request)
        if ca is None:  # RFC 6960 2.3: not authoritative for this issuer
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
        entry = next((e for e in self._issued if e.issuer == ca and self.pki.cert(e.name).serial_number
                      == request.serial_number), None)
        this_update, next_update = window(policy.window, now or utcnow())
        revocation_time = revocation_reason = None
        if entry is None:
            status = ocsp.OCSPCertStatus.UNKNOWN
        elif entry.revoked:
            status = ocsp.OCSPCertStatus.REVOKED
            revocation_time = this_update - dt.timedelta(hours=1)
            revocation_reason = x509.ReasonFlags[_snake(entry.revoked)]
        else:
            status = ocsp.OCSPCertStatus.GOOD
        signer_name = policy.signer or ca
        signer_cert = self.pki.cert(signer_name)
        signer_key: CertificateIssuerPrivateKeyTypes = serialization.load_pem_private_key(  # type: ignore[assignment]
            self.pki.key_pem(signer_name), None)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            request.issuer_name_hash, request.issuer_key_hash, request.serial_number, request.hash_algorithm,
            status, this_update, next_update, revocation_time, revocation_reason,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, signer_cert)
        if signer_name != ca:  # a delegated responder sends its certificate so clients can check it
            builder = builder.certificates([signer_cert])
        with contextlib.suppress(x509.ExtensionNotFound):
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
            builder = builder.add_extension(nonce, critical=False)
        return builder.sign(signer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _snake(camel: str) -> str:
    """'keyCompromise' -> 'key_compromise' (x509.ReasonFlags member names)."""
    return "".join("_" + c.lower() if c.isupper() else c for c in camel)


# ---------------------------------------------------------------------------------------------
# Serving them over HTTP


class _Blackhole(protocol.Protocol):
    """Accepts the TCP connection and never answers: a firewall that drops the requests."""

    def connectionMade(self) -> None:
        self.factory.open.add(self)  # type: ignore[attr-defined]

    def connectionLost(self, reason: Any = None) -> None:
        self.factory.open.discard(self)  # type: ignore[attr-defined]


class _BlackholeFactory(protocol.Factory):
    protocol = _Blackhole

    def __init__(self) -> None:
        self.open: set[_Blackhole] = set()


@dataclass
class Responder:
    """A running responder. ``url`` reaches the responder itself (unless it is down); ``server_url``
    is what the *server's* path reaches (a blackhole when a firewall blocks it)."""

    authority: Authority
    policy: ResponderPolicy
    url: str = ""
    server_url: str = ""
    requests: int = 0
    _ports: list[Any] = field(default_factory=list)
    _delayed: set[Any] = field(default_factory=set)
    _blackhole: _BlackholeFactory | None = None
    _refused: socket.socket | None = None

    def answer(self, body: bytes) -> bytes:
        """The DER answer to one request body (counted), as the policy says."""
        self.requests += 1
        return self.authority.answer(body, self.policy)

    def later(self, delay: float, then: Any) -> None:
        """Run `then` after `delay` in the reactor, unless the responder stops first (slow network)."""
        def fire() -> None:
            self._delayed.discard(call)
            then()

        call = lab_reactor.reactor().callLater(delay, fire)
        self._delayed.add(call)

    def _start(self, bind: str) -> None:
        """In the reactor thread."""
        from lab.ocsp.http import make_site  # twisted.web only when a responder starts: a light CLI start-up

        r = lab_reactor.reactor()
        site = make_site(self)
        site.noisy = False
        site.timeOut = 10
        port = r.listenTCP(0, site, interface=bind)
        self._ports.append(port)
        self.url = self.server_url = f"http://{bind}:{port.getHost().port}/"
        if self.policy.network is OcspNetwork.BLOCKED:
            self._blackhole = _BlackholeFactory()
            hole = r.listenTCP(0, self._blackhole, interface=bind)
            self._ports.append(hole)
            self.server_url = f"http://{bind}:{hole.getHost().port}/"

    def _stop(self) -> Any:
        """In the reactor thread: stop listening, drop held connections, cancel pending answers.

        Returns a Deferred that fires once every port is closed, so the caller waits for it.
        """
        from twisted.internet import defer
        for call in list(self._delayed):
            if call.active():
                call.cancel()
        self._delayed.clear()
        if self._blackhole:
            for conn in list(self._blackhole.open):
                conn.transport.abortConnection()  # type: ignore[union-attr]
        return defer.gatherResults([defer.maybeDeferred(port.stopListening) for port in self._ports])


@contextlib.contextmanager
def run_responder(pki: Pki, policy: ResponderPolicy = ResponderPolicy(), bind: str = "127.0.0.1") -> Iterator[Responder]:
    """Serve OCSP on `bind` (port 0) in the lab reactor until the block ends.

    With ``network = down`` nothing answers: both URLs name a port that is bound but not
    listening, so every connection is refused (and no other process can take the port meanwhile).
    """
    responder = Responder(Authority(pki), policy)
    if policy.network is OcspNetwork.DOWN:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((bind, 0))
            responder._refused = sock
            responder.url = responder.server_url = f"http://{bind}:{sock.getsockname()[1]}/"
            yield responder
        finally:
            sock.close()
        return
    try:
        lab_reactor.call(responder._start, bind)
        yield responder
    finally:
        lab_reactor.call(responder._stop)
