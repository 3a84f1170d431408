"""The lab's OCSP responder, the server-side stapler, and the one OCSP response check every part shares.

Three pieces, all real:

* :class:`Responder` answers RFC 6960 requests over HTTP on 127.0.0.1 (Twisted web, in the
  lab's reactor thread). It knows the PKI catalogue, so a leaf marked ``revoked`` is answered
  "revoked", a serial it never issued "unknown", and a CA it does not serve "unauthorized".
  A :class:`ResponderPolicy` (taken from the server spec) decides who signs, the time window,
  an error status, and what the network does (open, blocked by a firewall, down, slow).
* :func:`query` is a bounded blocking OCSP request over HTTP (what a stapler, ``tlslab ocsp
  query`` and the tests use); it never hangs longer than its timeout.
* :func:`check_response` judges a DER response for one certificate against a clock:
  signature, signer authorisation (issuer itself, or a delegate it issued with
  id-kp-OCSPSigning, valid at that time), time window, certificate status. The pyOpenSSL
  probe, the Twisted stapler (``ssl_stapling_verify``) and the query command all use it, so
  "valid staple" means one thing in the lab. Its messages are worded to fall into the
  ``revocation:*`` rows of :mod:`lab.symptoms`.
* :class:`Stapler` is the server side (fetch before listening, decide what to staple), and
  the nginx helpers (:func:`nginx_stapling_directives`, :func:`nginx_will_staple`,
  :func:`wait_for_staple`) let a real server's backend render the same spec fields and deal
  with nginx's lazy first fetch explicitly.

Why leaves carry ``http://ocsp.lab.test/`` in AIA rather than a live URL: certificates are
generated once and cached, while every deployment binds port 0. ``.test`` never resolves, so
nothing can silently reach a stale port; every consumer is handed the live URL explicitly
(the Twisted stapler; nginx's ``ssl_stapling_responder``; ``openssl ocsp -url``). The AIA URL
still tells a reader which certificates have a responder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from twisted.internet import protocol

from lab.pki import CATALOGUE, Pki
from lab.specs import OcspNetwork, OcspWindow, ResponderStatus, ServerSpec
from lab.symptoms import OK, Kind, Symptom

LEEWAY = dt.timedelta(minutes=5)  # clock tolerance on thisUpdate/nextUpdate (curl and nginx use 300 s)
SLOW_DELAY = 0.3  # seconds a "slow" responder waits before answering (below STAPLE_FETCH_TIMEOUT)
STAPLE_FETCH_TIMEOUT = 1.0  # seconds a server waits for the responder when fetching its staple
MAX_REQUEST = 64 * 1024
CONTENT_TYPE = "application/ocsp-response"

_STATUS = {
    ResponderStatus.MALFORMED_REQUEST: ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
    ResponderStatus.INTERNAL_ERROR: ocsp.OCSPResponseStatus.INTERNAL_ERROR,
    ResponderStatus.TRY_LATER: ocsp.OCSPResponseStatus.TRY_LATER,
    ResponderStatus.SIG_REQUIRED: ocsp.OCSPResponseStatus.SIG_REQUIRED,
    ResponderStatus.UNAUTHORIZED: ocsp.OCSPResponseStatus.UNAUTHORIZED,
}
_STATUS_NAMES = {
    ocsp.OCSPResponseStatus.SUCCESSFUL: "successful", ocsp.OCSPResponseStatus.MALFORMED_REQUEST: "malformedRequest",
    ocsp.OCSPResponseStatus.INTERNAL_ERROR: "internalError", ocsp.OCSPResponseStatus.TRY_LATER: "tryLater",
    ocsp.OCSPResponseStatus.SIG_REQUIRED: "sigRequired", ocsp.OCSPResponseStatus.UNAUTHORIZED: "unauthorized",
}


def _lab_reactor() -> Any:
    """Imported late: the probes import this module, and the servers package imports the probes."""
    from lab.servers import reactor
    return reactor


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


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


def _issuer_hashes(ca: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of a CA as an OCSP CertID carries them.

    The key hash comes from a request built with `ca` as issuer; the name hash is computed here
    because a request takes it from the *subject certificate's* issuer field, not from `ca`.
    """
    req = ocsp.OCSPRequestBuilder().add_certificate(ca, ca, algorithm).build()
    digest = hashes.Hash(algorithm)
    digest.update(ca.subject.public_bytes())
    return digest.finalize(), req.issuer_key_hash


class Authority:
    """Answers OCSP requests for every CA in the lab catalogue, from the catalogue's own data."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self._cas = [e.name for e in CATALOGUE if e.role in ("root", "intermediate")]
        self._issued = [e for e in CATALOGUE if e.issuer]

    def _ca_for(self, request: ocsp.OCSPRequest) -> str | None:
        for name in self._cas:
            if _issuer_hashes(self.pki.cert(name), request.hash_algorithm) == (
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


def request_der(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    return ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)


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

    def _start(self, bind: str) -> None:
        """In the reactor thread."""

        from lab.ocsp_http import make_site

        r = _lab_reactor().reactor()
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
        _lab_reactor().call(responder._start, bind)
        yield responder
    finally:
        _lab_reactor().call(responder._stop)


# ---------------------------------------------------------------------------------------------
# Querying


@dataclass(frozen=True)
class QueryResult:
    """One HTTP exchange with a responder: the DER answer, or why there is none."""

    url: str
    der: bytes | None
    error: str | None
    elapsed: float


def query(url: str, cert: x509.Certificate, issuer: x509.Certificate, timeout: float) -> QueryResult:
    """POST an OCSP request for `cert`; bounded by `timeout` for connect and for the answer."""
    started = time.monotonic()
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        conn.request("POST", parts.path or "/", body=request_der(cert, issuer),
                     headers={"Content-Type": "application/ocsp-request", "Host": parts.netloc})
        resp = conn.getresponse()
        body = resp.read(MAX_REQUEST)
        if resp.status != 200:
            return QueryResult(url, None, f"OCSP request failed: HTTP {resp.status} from {url}",
                               time.monotonic() - started)
        return QueryResult(url, body, None, time.monotonic() - started)
    except (TimeoutError, socket.timeout):
        return QueryResult(url, None, f"OCSP responder did not answer within {timeout:g}s ({url})",
                           time.monotonic() - started)
    except ConnectionRefusedError:
        return QueryResult(url, None, f"OCSP responder refused the connection ({url})", time.monotonic() - started)
    except OSError as exc:
        return QueryResult(url, None, f"OCSP request failed: {exc} ({url})", time.monotonic() - started)
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# Checking


@dataclass(frozen=True)
class Verdict:
    """What one OCSP response says about one certificate at one time, and whether to trust it."""

    symptom: Symptom  # ok, or revocation:<reason>
    message: str  # one sentence; normalises to `symptom` through lab.symptoms
    cert_status: str | None = None  # good / revoked / unknown, when the response carried one
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    signer: str | None = None

    @property
    def ok(self) -> bool:
        return self.symptom.ok


def _bad(reason: str, message: str, **kw: Any) -> Verdict:
    return Verdict(Symptom(Kind.REVOCATION, reason), message, **kw)


def _fmt(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%SZ")


def _verify_signature(signer: x509.Certificate, resp: ocsp.OCSPResponse) -> bool:
    key = signer.public_key()
    algorithm = resp.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _names_responder(resp: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if resp.responder_key_hash is not None:
        return resp.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(
            cert.public_key()).digest  # type: ignore[arg-type]
    return resp.responder_name == cert.subject


def _signer(resp: ocsp.OCSPResponse, issuer: x509.Certificate, now: dt.datetime) -> tuple[x509.Certificate | None, str]:
    """The certificate whose key must have signed, or None and why it is not authorised (RFC 6960 4.2.2.2)."""
    if _names_responder(resp, issuer):
        return issuer, ""
    delegate = next((c for c in resp.certificates if _names_responder(resp, c)), None)
    if delegate is None:
        return None, "OCSP signer not found: the response is signed neither by the issuer nor by a certificate it includes"
    who = delegate.subject.rfc4514_string()
    try:
        if delegate.issuer != issuer.subject:
            raise ValueError
        delegate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return None, (f"OCSP signer {who} was issued by {delegate.issuer.rfc4514_string()}, not by the "
                      f"certificate's issuer {issuer.subject.rfc4514_string()}: not authorised to answer for it")
    try:
        eku = delegate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = x509.ExtendedKeyUsage([])
    if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
        return None, f"OCSP signer {who} lacks id-kp-OCSPSigning: the CA did not authorise it to sign responses"
    if now > delegate.not_valid_after_utc:
        return None, f"OCSP signer certificate {who} expired on {_fmt(delegate.not_valid_after_utc)}"
    if now < delegate.not_valid_before_utc:
        return None, f"OCSP signer certificate {who} is not valid before {_fmt(delegate.not_valid_before_utc)}"
    return delegate, ""


def check_response(der: bytes, cert: x509.Certificate, issuer: x509.Certificate,
                   now: dt.datetime | None = None) -> Verdict:
    """Judge `der` as the status of `cert` (issued by `issuer`, already trusted) at time `now`."""
    now = now or utcnow()
    try:
        resp = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        return _bad("malformed", f"malformed OCSP response: {exc}")
    if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        name = _STATUS_NAMES.get(resp.response_status, str(resp.response_status))
        return _bad("responder-error", f"OCSP response status {name}: the responder gave no certificate status")
    single = next((r for r in resp.responses if r.serial_number == cert.serial_number
                   and (r.issuer_name_hash, r.issuer_key_hash) == _issuer_hashes(issuer, r.hash_algorithm)), None)
    if single is None:
        return _bad("unknown", f"Could not find certificate ID in OCSP response (serial {cert.serial_number:x})")
    times: dict[str, Any] = {"this_update": single.this_update_utc, "next_update": single.next_update_utc}
    signer, why = _signer(resp, issuer, now)
    if signer is None:
        return _bad("untrusted-signer", why, **times)
    who = signer.subject.rfc4514_string()
    if not _verify_signature(signer, resp):
        return _bad("untrusted-signer", f"OCSP signer {who}: the response's signature does not verify",
                    signer=who, **times)
    if single.next_update_utc is not None and now > single.next_update_utc + LEEWAY:
        return _bad("expired-response", f"OCSP response has expired: nextUpdate {_fmt(single.next_update_utc)} "
                    f"is before the client's clock {_fmt(now)}", signer=who, **times)
    if now < single.this_update_utc - LEEWAY:
        return _bad("not-yet-valid-response", f"OCSP response is not yet valid: thisUpdate "
                    f"{_fmt(single.this_update_utc)} is after the client's clock {_fmt(now)}", signer=who, **times)
    status = single.certificate_status
    if status is ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason.value if single.revocation_reason else "unspecified"
        since = single.revocation_time_utc
        return _bad("revoked", f"certificate status is revoked (revocation reason: {reason}"
                    + (f", since {_fmt(since)})" if since else ")"), cert_status="revoked", signer=who, **times)
    if status is ocsp.OCSPCertStatus.UNKNOWN:
        return _bad("unknown", "certificate status is unknown to the responder", cert_status="unknown",
                    signer=who, **times)
    return Verdict(OK, f"certificate status is good (signed by {who}, thisUpdate {_fmt(single.this_update_utc)}"
                   + (f", nextUpdate {_fmt(single.next_update_utc)})" if single.next_update_utc else ")"),
                   cert_status="good", signer=who, **times)


def must_staple(cert: x509.Certificate) -> bool:
    """Whether `cert` carries the TLS Feature status_request (RFC 7633)."""
    try:
        features = cert.extensions.get_extension_for_class(x509.TLSFeature).value
    except x509.ExtensionNotFound:
        return False
    return x509.TLSFeatureType.status_request in features


# ---------------------------------------------------------------------------------------------
# Stapling (the server side)


class Stapler:
    """The staple a server sends: fetched once before the server listens, refreshed on demand.

    Mirrors a real server's choices so scenarios exercise them: the issuer is looked up in the
    served chain and ``ocsp_trusted`` only (nginx: "issuer certificate not found"); with
    ``ocsp_stapling_verify`` only a response that :func:`check_response` accepts is stapled;
    without it, whatever the responder answered is passed through, error statuses included
    (as Apache's SSLStaplingReturnResponderErrors does by default). Every decision is logged.
    """

    def __init__(self, spec: ServerSpec, pki: Pki, responder: Responder,
                 timeout: float = STAPLE_FETCH_TIMEOUT, *, nginx_rules: bool = False) -> None:
        self.nginx_rules = nginx_rules  # predict nginx: only a successful, "good", in-window answer is stapled
        self.spec = spec
        self.pki = pki
        self.responder = responder
        self.timeout = timeout
        self.log: list[str] = []
        self._lock = threading.Lock()
        self._staple = b""

    @property
    def staple(self) -> bytes:
        with self._lock:
            return self._staple

    def _note(self, line: str) -> None:
        with self._lock:
            self.log.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [ocsp] {line}")

    def issuer(self) -> x509.Certificate | None:
        leaf = self.pki.cert(self.spec.certificate)
        for name in (*self.spec.chain, *self.spec.ocsp_trusted):
            candidate = self.pki.cert(name)
            if candidate.subject == leaf.issuer:
                return candidate
        return None

    def refresh(self) -> bytes:
        """Fetch (blocking, bounded) and decide what to staple; returns the new staple (b"" for none)."""
        staple = self._fetch()
        with self._lock:
            self._staple = staple
        return staple

    def _fetch(self) -> bytes:
        leaf = self.pki.cert(self.spec.certificate)
        issuer = self.issuer()
        if issuer is None:
            self._note(f'"ssl_stapling" ignored, issuer certificate not found for certificate '
                       f'"{self.spec.certificate}": the intermediate is neither in the chain nor in ocsp_trusted')
            return b""
        # ssl_stapling_file: fetched out of band by the operator, who can reach the responder itself.
        url = self.responder.url if self.spec.ocsp_stapling_file else self.responder.server_url
        result = query(url, leaf, issuer, self.timeout)
        if result.der is None:
            self._note(f"no staple: {result.error}")
            return b""
        if self.spec.ocsp_stapling_verify or (self.nginx_rules and not self.spec.ocsp_stapling_file):
            verdict = check_response(result.der, leaf, issuer)
            # nginx without ssl_stapling_verify skips only the signature check (OCSP_NOVERIFY);
            # status "good" and the time window are always required (ngx_ssl_stapling_ocsp_handler).
            unverified_ok = not self.spec.ocsp_stapling_verify and verdict.symptom.detail == "untrusted-signer"
            if not verdict.ok and not unverified_ok:
                rule = "ssl_stapling_verify" if self.spec.ocsp_stapling_verify else "nginx"
                self._note(f"no staple ({rule}): {verdict.message}")
                return b""
        self._note(f"stapling {len(result.der)} bytes from {url}"
                   + (" (ssl_stapling_file)" if self.spec.ocsp_stapling_file else ""))
        return result.der




# ---------------------------------------------------------------------------------------------
# For backends that run a real server (nginx): directives, files, and the first-connection problem


@dataclass(frozen=True)
class StaplingFiles:
    """Files an external server reads, as paths *it* sees (inside a container, say)."""

    trusted: str | None = None  # ssl_trusted_certificate: PEM of spec.ocsp_trusted, in order
    staple: str | None = None  # ssl_stapling_file: the DER response fetched at deploy


def nginx_stapling_directives(spec: ServerSpec, responder_url: str | None, files: StaplingFiles) -> list[str]:
    """The nginx directives for a spec's stapling fields, one field to one directive.

    `responder_url` is the URL nginx must use (the deployment's ``Responder.server_url`` as seen
    from nginx): certificates name ``http://ocsp.lab.test/``, which never resolves, so
    ``ssl_stapling_responder`` is always given explicitly.
    """
    if not spec.ocsp_stapling:
        return []
    lines = ["ssl_stapling on;"]
    if spec.ocsp_stapling_verify:
        lines.append("ssl_stapling_verify on;")
    if files.trusted:
        lines.append(f"ssl_trusted_certificate {files.trusted};")
    if spec.ocsp_stapling_file and files.staple:
        lines.append(f"ssl_stapling_file {files.staple};")
    elif responder_url:
        lines.append(f"ssl_stapling_responder {responder_url};")
    return lines


def trusted_pem(spec: ServerSpec, pki: Pki) -> bytes:
    """The ssl_trusted_certificate file's content (empty when the spec trusts nothing extra)."""
    return b"".join(pki.cert_path(name).read_bytes() for name in spec.ocsp_trusted)


def fetch_staple_file(spec: ServerSpec, pki: Pki, responder: Responder, timeout: float = STAPLE_FETCH_TIMEOUT) -> bytes:
    """The DER for ssl_stapling_file: fetched out of band from the responder itself (b"" if none)."""
    entry = pki.entry(spec.certificate)
    if not entry.issuer:
        return b""
    result = query(responder.url, pki.cert(spec.certificate), pki.cert(entry.issuer), timeout)
    return result.der or b""


def nginx_will_staple(spec: ServerSpec, pki: Pki, responder: Responder | None,
                      notes: list[str] | None = None) -> bool:
    """Whether nginx will (eventually) staple for this spec: asks the responder the way nginx would.

    A backend uses it to handle nginx's lazy first fetch explicitly: when True, it waits with
    :func:`wait_for_staple` before declaring the deployment ready; when False it need not wait.
    `notes` receives the prediction's reasoning (e.g. why nothing will be stapled) for the server log.
    """
    if not spec.ocsp_stapling or responder is None:
        return False
    if spec.ocsp_stapling_file:
        return bool(fetch_staple_file(spec, pki, responder))
    stapler = Stapler(spec, pki, responder, nginx_rules=True)
    staple = stapler.refresh()
    if notes is not None:
        notes.extend(stapler.log)
    return bool(staple)


def wait_for_staple(host: str, port: int, servername: str, deadline_s: float = 5.0) -> bytes:
    """Handshake repeatedly (asking for status) until the server staples; the staple, or b"" at the deadline.

    nginx fetches its staple on the first handshake that asks for one and sends nothing on that
    handshake; this is the explicit warm-up. It does not verify anything: it only looks.
    """
    from OpenSSL import SSL
    from lab.probes.pyopenssl_probe import _pump  # select-driven, bounded handshake

    end = time.monotonic() + deadline_s
    while True:
        seen: list[bytes] = []

        def keep(conn: SSL.Connection, der: bytes, data: object) -> bool:
            seen.append(der)
            return True

        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_ocsp_client_callback(keep)
        try:
            with socket.create_connection((host, port), timeout=max(0.2, end - time.monotonic())) as sock:
                sock.setblocking(False)
                conn = SSL.Connection(ctx, sock)
                conn.set_tlsext_host_name(servername.encode("idna"))
                conn.request_ocsp()
                conn.set_connect_state()
                _pump(conn, sock, conn.do_handshake, max(end, time.monotonic() + 0.5))
        except (OSError, SSL.Error):
            pass
        if seen and seen[0]:
            return seen[0]
        if time.monotonic() >= end:
            return b""
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# Teaching: ask the responder about one lab certificate (``tlslab ocsp query``)


@dataclass(frozen=True)
class LabQuery:
    """What the lab's responder says about one catalogue certificate, and how to ask by hand."""

    certificate: str
    issuer: str
    aia_url: str | None  # what the certificate names (never resolvable: see the module docstring)
    url: str  # where the responder actually listened
    result: QueryResult
    verdict: Verdict | None  # None when no response came back
    openssl_argv: tuple[str, ...]  # the same question with `openssl ocsp`
    openssl_output: str | None = None  # its answer, when asked to run it


def aia_ocsp_url(cert: x509.Certificate) -> str | None:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    from cryptography.x509.oid import AuthorityInformationAccessOID
    return next((str(d.access_location.value) for d in aia
                 if d.access_method == AuthorityInformationAccessOID.OCSP), None)


def openssl_ocsp_command(pki: Pki, certificate: str, url: str, timeout: float) -> tuple[str, ...]:
    """``openssl ocsp`` for a direct query, as the document suggests (with -CAfile to verify the answer)."""
    entry = pki.entry(certificate)
    issuer = entry.issuer or certificate
    root = issuer
    while pki.entry(root).issuer:
        root = pki.entry(root).issuer or root
    untrusted = [str(pki.cert_path(issuer))] if issuer != root else []
    return ("openssl", "ocsp", "-issuer", str(pki.cert_path(issuer)), "-cert", str(pki.cert_path(certificate)),
            "-url", url, "-CAfile", str(pki.cert_path(root)), *(["-verify_other", *untrusted] if untrusted else []),
            "-timeout", str(max(1, int(timeout))), "-resp_text")


def query_lab_certificate(pki: Pki, certificate: str, policy: ResponderPolicy = ResponderPolicy(),
                          timeout: float = 2.0, clock_offset_days: float = 0.0,
                          run_openssl: bool = False) -> LabQuery:
    """Start the responder with `policy`, ask it about `certificate`, judge the answer at the
    (optionally skewed) clock; optionally ask `openssl ocsp` the same question. Everything stops
    before this returns. Raises KeyError for an unknown certificate name."""
    import subprocess
    entry = pki.entry(certificate)
    if entry.issuer is None:
        raise ValueError(f"{certificate!r} is a root CA: nobody answers OCSP for a trust anchor")
    cert, issuer = pki.cert(certificate), pki.cert(entry.issuer)
    with run_responder(pki, policy) as responder:
        url = responder.server_url  # the path a server (or this user) takes, firewall included
        result = query(url, cert, issuer, timeout)
        argv = openssl_ocsp_command(pki, certificate, url, timeout)
        output = None
        if run_openssl:
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 3)
                output = (done.stdout + done.stderr).strip()
            except subprocess.TimeoutExpired:
                output = f"openssl ocsp did not finish within {timeout + 3:g}s"
            except OSError as exc:
                output = f"cannot run openssl: {exc}"
    now = utcnow() + dt.timedelta(days=clock_offset_days)
    verdict = check_response(result.der, cert, issuer, now) if result.der is not None else None
    return LabQuery(certificate, entry.issuer, aia_ocsp_url(cert), url, result, verdict, argv, output)


__all__ = [
    "Authority", "ResponderPolicy", "Responder", "run_responder", "query", "QueryResult", "check_response",
    "Verdict", "Stapler", "must_staple", "request_der", "window", "STAPLE_FETCH_TIMEOUT", "LabQuery",
    "query_lab_certificate", "openssl_ocsp_command", "aia_ocsp_url", "StaplingFiles",
    "nginx_stapling_directives", "trusted_pem", "fetch_staple_file", "nginx_will_staple", "wait_for_staple",
]
