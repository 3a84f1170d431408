"""What the battery observed, as frozen data: the evidence a diagnosis is built from.

:func:`observe` turns the raw attempt results into facts a person can check by hand: the served
chain (subject, issuer, validity, SAN, AIA per certificate) and how its issuer/subject links
reach the trust anchor, the versions and suite families accepted, what happens without
server_name, the alerts received, whether a client certificate is asked for, and the staple.
Nothing here names a cause; :mod:`lab.diagnose.rules` does, from these facts only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import verify_certificate_hostname, verify_certificate_ip_address

from lab.diagnose.battery import CIPHER_FAMILIES, Result, Run
from lab.ocsp import check_response, must_staple
from lab.symptoms import Kind
from lab.tls import Protocol


@dataclass(frozen=True)
class CertInfo:
    """One served (or anchoring) certificate, as a reader compares them."""

    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    san: tuple[str, ...]
    aia_ocsp: tuple[str, ...]
    aia_ca_issuers: tuple[str, ...]
    fingerprint: str  # SHA-256, hex
    self_signed: bool
    is_ca: bool
    must_staple: bool
    common_name: str = ""
    has_san: bool = False  # a subjectAltName extension is present (whatever it names)
    key: str = ""  # "RSA", "EC secp256r1", "Ed25519", ...
    key_bits: int = 0
    signature_hash: str = ""  # the issuer's signature digest ("sha256", "sha1"); "" for EdDSA
    eku: tuple[str, ...] = ()  # extendedKeyUsage names ("serverAuth", "clientAuth", ...); () when absent
    key_usage: tuple[str, ...] | None = None  # keyUsage bits; None when absent

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertInfo:
        try:
            san_ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            san = tuple([*san_ext.get_values_for_type(x509.DNSName),
                         *(str(ip) for ip in san_ext.get_values_for_type(x509.IPAddress))])
        except x509.ExtensionNotFound:
            san = ()
        ocsp_urls: list[str] = []
        ca_issuers: list[str] = []
        try:
            for desc in cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value:
                target = ocsp_urls if desc.access_method == AuthorityInformationAccessOID.OCSP else ca_issuers
                target.append(str(desc.access_location.value))
        except x509.ExtensionNotFound:
            pass
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        key, bits = _key(cert)
        hash_alg = cert.signature_hash_algorithm
        return cls(
            subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
            not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc, san=san,
            aia_ocsp=tuple(ocsp_urls), aia_ca_issuers=tuple(ca_issuers),
            fingerprint=cert.fingerprint(hashes.SHA256()).hex(), self_signed=cert.subject == cert.issuer,
            is_ca=is_ca, must_staple=must_staple(cert),
            common_name=str(cns[0].value) if cns else "", has_san=_has(cert, x509.SubjectAlternativeName),
            key=key, key_bits=bits, signature_hash=hash_alg.name if hash_alg else "", eku=_eku(cert),
            key_usage=_key_usage(cert),
        )

    def line(self) -> str:
        parts = [f"subject {self.subject}", f"issuer {self.issuer}",
                 f"valid {self.not_before:%Y-%m-%d} .. {self.not_after:%Y-%m-%d}"]
        if self.key:
            parts.append(f"{self.key} {self.key_bits}-bit" + (f", {self.signature_hash}-signed"
                                                                if self.signature_hash else ""))
        if self.san:
            parts.append("SAN " + ", ".join(self.san))
        elif not self.has_san and not self.is_ca:
            parts.append("no subjectAltName")
        if self.eku and not self.is_ca:
            parts.append("EKU " + ", ".join(self.eku))
        if self.aia_ocsp:
            parts.append("OCSP " + ", ".join(self.aia_ocsp))
        if self.aia_ca_issuers:
            parts.append("caIssuers " + ", ".join(self.aia_ca_issuers))
        if self.must_staple:
            parts.append("must-staple")
        return "; ".join(parts)


_EKU_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
              ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning", ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
              ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping", ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
              ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage"}
_KU_BITS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
            "key_cert_sign", "crl_sign")


def _has(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> bool:
    try:
        cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return False
    return True


def _key(cert: x509.Certificate) -> tuple[str, int]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError):  # a key type cryptography cannot load
        return "unknown", 0
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__.replace("PublicKey", ""), 0


def _eku(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(_EKU_NAMES.get(u, u.dotted_string) for u in usages)


def _key_usage(cert: x509.Certificate) -> tuple[str, ...] | None:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return tuple(bit for bit in _KU_BITS if getattr(ku, bit))


@dataclass(frozen=True)
class Link:
    """How served certificate `child` reaches its issuer: a later served one, an anchor, or nothing."""

    child: int
    issuer_name: str
    found_in: str  # "served", "anchor", "none"
    index: int | None = None  # the served index, when found_in == "served"


@dataclass(frozen=True)
class ChainCheck:
    """The served chain against the trust anchor, by issuer/subject name and signature.

    ``status``: ``anchored`` (reaches an anchor), ``missing-issuer`` (the issuer of certificate
    ``stopped_at`` is neither served nor an anchor), ``wrong-intermediate`` (the leaf's issuer is
    missing while other, unrelated CA certificates are served), ``untrusted-root`` (the path ends
    in a served self-signed certificate that is not an anchor), ``none`` (nothing served).
    """

    status: str
    links: tuple[Link, ...]
    stopped_at: int = 0
    missing_issuer: str = ""
    unrelated: tuple[int, ...] = ()  # served certificates no link uses
    anchor: str = ""  # the anchor's subject, when anchored
    anchors_given: int = 0
    anchor_not_before: dt.datetime | None = None  # the anchor's own validity: a trust store can hold an expired root
    anchor_not_after: dt.datetime | None = None


@dataclass(frozen=True)
class Versions:
    accepted: tuple[Protocol, ...]
    refused: tuple[tuple[Protocol, str], ...]  # version, what the server did


@dataclass(frozen=True)
class Families:
    accepted: tuple[tuple[str, str], ...]  # family, the suite negotiated
    refused: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SniBehaviour:
    with_sni_ok: bool
    without_sni_ok: bool  # the server answered (sent a certificate) to a Client Hello without server_name
    without_sni_raw: str
    without_sni_alert: str  # the alert name, "" if none
    same_certificate: bool | None  # None: one of the two sent none


@dataclass(frozen=True)
class ClientAuth:
    requested: bool
    ca_names: tuple[str, ...]
    given: bool
    with_cert: str  # "ok", "rejected", "-" (not given)
    with_cert_raw: str
    with_cert_alert: str
    without_cert: str  # "ok", "rejected"
    without_cert_raw: str
    cert_info: CertInfo | None = None


@dataclass(frozen=True)
class Staple:
    requested: bool
    present: bool
    status: str  # "good", a revocation:* detail (revoked, untrusted-signer, ...), "none", "unchecked", "n/a"
    message: str


@dataclass(frozen=True)
class Dhe:
    """DHE alone (TLS 1.2, supported_groups P-256 only, so the server uses its own DH group)."""

    at_default: str  # "accepted", or what the server/client did: "dh key too small", "alert handshake_failure"
    at_default_raw: str
    at_level0: str
    cipher: str  # the DHE suite negotiated at level 0, "" if none

    @property
    def small_group(self) -> bool:
        """OpenSSL refused the server's group at its default level (2: < 2048 bits) and accepts it at 0."""
        return "dh key too small" in self.at_default_raw.lower()


@dataclass(frozen=True)
class Alpn:
    http1_only: str  # offering http/1.1 alone: "accepted" (selected: ...), or what the server did
    http1_alert: str
    h2: str  # offering h2, http/1.1
    h2_selected: str | None


@dataclass(frozen=True)
class Ending:
    """How the as-configured GET ended: see :attr:`lab.diagnose.battery.Result.ending`."""

    how: str
    delimited_by_close: bool


@dataclass(frozen=True)
class PlainReply:
    """What the port sent back to a bare Client Hello when that was not TLS."""

    is_tls: bool | None  # None: nothing came back
    text: str  # the first line, printable, when not TLS
    http: bool  # it looks like an HTTP response


@dataclass(frozen=True)
class Observed:
    """Everything the diagnosis rests on."""

    target: str
    servername: str | None
    ca_file: Path | None
    reached: bool
    connect_error: str
    handshake_ok: bool  # the as-configured attempt completed
    as_configured_raw: str
    http_status: int | None
    http_line: str
    chain: tuple[CertInfo, ...]
    chain_no_sni: tuple[CertInfo, ...]
    check: ChainCheck
    verify_errors: tuple[tuple[int, int, str], ...]
    verified: bool  # the as-configured handshake got as far as OpenSSL's certificate verification
    name_matches: bool | None  # None: nothing served, or no name to check
    name_matches_no_sni: bool | None
    sni: SniBehaviour
    versions: Versions
    families: Families
    client_auth: ClientAuth
    staple: Staple
    alerts: tuple[tuple[str, str], ...]  # attempt, alert name
    dhe: Dhe
    alpn: Alpn
    ending: Ending
    plain_reply: PlainReply
    now: dt.datetime  # the client's clock, by which validity was judged
    clock_offset_days: float
    elapsed: float


def load_pem_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file; raises ValueError if there is none."""
    data = path.read_bytes()
    certs = x509.load_pem_x509_certificates(data)
    if not certs:
        raise ValueError("no PEM certificate in it")
    return certs


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except ValueError:
        return _legacy_signature_ok(cert, issuer)
    except (TypeError, InvalidSignature):
        return False
    return True


def _legacy_signature_ok(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """The issuer's signature by hand, for digests cryptography's verifier refuses (SHA-1): a weak
    signature is still the issuer's, and the weak-key rules, not the chain, should say what is wrong."""
    hash_alg, params = cert.signature_hash_algorithm, cert.signature_algorithm_parameters
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and hash_alg is not None and \
                isinstance(params, (padding.PKCS1v15, padding.PSS)):
            key.verify(cert.signature, cert.tbs_certificate_bytes, params, hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(params, ec.ECDSA):
            key.verify(cert.signature, cert.tbs_certificate_bytes, params)
        else:
            return False
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def check_chain(served: tuple[x509.Certificate, ...], anchors: list[x509.Certificate]) -> ChainCheck:
    """Follow issuer links from the leaf through the served certificates to an anchor."""
    if not served:
        return ChainCheck("none", (), anchors_given=len(anchors))
    links: list[Link] = []
    used = {0}
    current = 0
    while True:
        cert = served[current]
        anchor = next((a for a in anchors if _issued_by(cert, a)), None)
        if anchor is not None:
            links.append(Link(current, cert.issuer.rfc4514_string(), "anchor"))
            unrelated = tuple(i for i in range(len(served)) if i not in used and served[i] != anchor)
            return ChainCheck("anchored", tuple(links), current, unrelated=unrelated,
                              anchor=anchor.subject.rfc4514_string(), anchors_given=len(anchors),
                              anchor_not_before=anchor.not_valid_before_utc, anchor_not_after=anchor.not_valid_after_utc)
        nxt = next((i for i in range(len(served)) if i not in used and _issued_by(cert, served[i])), None)
        if nxt is None or (cert.subject == cert.issuer):
            links.append(Link(current, cert.issuer.rfc4514_string(), "none"))
            unrelated = tuple(i for i in range(len(served)) if i not in used)
            if cert.subject == cert.issuer:
                status = "untrusted-root"
            elif current == 0 and unrelated:
                status = "wrong-intermediate"
            else:
                status = "missing-issuer"
            return ChainCheck(status, tuple(links), current, cert.issuer.rfc4514_string(), unrelated,
                              anchors_given=len(anchors))
        links.append(Link(current, cert.issuer.rfc4514_string(), "served", nxt))
        used.add(nxt)
        current = nxt


def matches(cert: x509.Certificate, name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        is_ip = True
    except ValueError:
        is_ip = False
    try:
        if is_ip:
            verify_certificate_ip_address(cert, name)
        else:
            verify_certificate_hostname(cert, name)
    except (VerificationError, CertificateError):
        return False
    return True


def _alert(result: Result | None) -> str:
    if result is None or result.symptom is None or result.symptom.kind is not Kind.ALERT:
        return ""
    return result.symptom.detail


def _what(result: Result) -> str:
    if result.completed or result.chain:
        return "accepted"
    alert = _alert(result)
    if alert:
        return f"alert {alert}"
    if result.symptom is not None and result.symptom.detail == "protocol-version":
        return "the server answers with another version"
    return str(result.symptom) if result.symptom else "failed"


def _what_raw(result: Result | None) -> str:
    """What the server did to an attempt, in OpenSSL's words when it was OpenSSL that refused."""
    if result is None:
        return "not tried"
    if result.completed:
        return "accepted"
    alert = _alert(result)
    if alert:
        return f"alert {alert}"
    return result.raw.removeprefix("SSL error: ") or "failed"


def _plain_reply(result: Result | None) -> PlainReply:
    head = result.reply_head if result else b""
    if not head:
        return PlainReply(None, "", False)
    if head[0] in (0x15, 0x16) and head[1:2] == b"\x03":
        return PlainReply(True, "", False)
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    text = "".join(ch if ch.isprintable() else "." for ch in first.decode("latin-1"))[:60]
    # an HTML page alone is HTTP too: a server reading the hello as an HTTP/0.9 request answers without a status line
    return PlainReply(False, text, head.startswith(b"HTTP/") or head.lstrip()[:1] == b"<")


def _client_rejected(result: Result, asked: bool) -> bool:
    """The server refused this client over its certificate: an alert, or (nginx) a 400 page.

    `asked`: the server's CertificateRequest was seen. Without it only an alert that names the
    certificate counts, so an API answering 400 to ``GET /`` is not taken for a 2-way server.
    """
    if result.completed:
        return asked and result.http_status == 400
    alert = _alert(result)
    if alert in {"certificate_required", "certificate_expired", "unknown_ca", "bad_certificate",
                 "certificate_unknown", "access_denied"}:
        return True
    return asked and bool(result.chain)


def observe(run: Run, anchors: list[x509.Certificate], now: dt.datetime | None = None) -> Observed:
    """The facts of one battery run, against the given anchors and clock."""
    now = now or dt.datetime.now(dt.timezone.utc)
    client = run.client
    main = run.get("as-configured")
    assert main is not None
    no_sni = run.get("no-sni")
    assert no_sni is not None
    reached = not all(r.refused for r in run.results)
    served = main.chain or next((r.chain for r in run.results if r.attempt.sni and r.chain), ())
    chain = tuple(CertInfo.of(c) for c in served)
    chain_no_sni = tuple(CertInfo.of(c) for c in no_sni.chain)
    check = check_chain(served, anchors)
    name = client.servername or client.host
    name_ok = matches(served[0], name) if served else None
    name_ok_no_sni = matches(no_sni.chain[0], name) if no_sni.chain else None

    same = (chain[0].fingerprint == chain_no_sni[0].fingerprint) if chain and chain_no_sni else None
    with_sni_ok = main.server_answered or any(r.server_answered for r in run.results if r.attempt.sni)
    sni = SniBehaviour(with_sni_ok, no_sni.server_answered, no_sni.raw, _alert(no_sni), same)

    accepted_v, refused_v = [], []
    for version in Protocol:
        r = run.get(f"version:{version.value}")
        if r is None:
            continue
        if r.server_answered:
            accepted_v.append(version)
        else:
            refused_v.append((version, _what(r)))
    accepted_f, refused_f = [], []
    for family in CIPHER_FAMILIES:
        r = run.get(f"cipher:{family}")
        if r is None:
            continue
        if r.server_answered:
            accepted_f.append((family, r.cipher or ""))
        elif r.raw.startswith("client configuration refused"):
            continue  # this OpenSSL cannot offer the family: no evidence either way
        else:
            refused_f.append((family, _what(r)))

    without = run.get("no-client-cert") or main
    given = client.client_cert is not None
    ca_names = next((r.client_ca_names for r in run.results if r.client_ca_names), ())
    asked = bool(ca_names)
    requested = asked or _client_rejected(without, asked)
    cert_info = None
    if given and client.client_cert is not None:
        try:
            cert_info = CertInfo.of(load_pem_certificates(client.client_cert)[0])
        except (OSError, ValueError):
            cert_info = None
    with_state = "-" if not given else ("rejected" if _client_rejected(main, asked) else "ok" if main.completed
                                        else "failed")
    client_auth = ClientAuth(
        requested=requested, ca_names=ca_names, given=given, with_cert=with_state,
        with_cert_raw=main.raw or main.http_line if given else "", with_cert_alert=_alert(main) if given else "",
        without_cert="rejected" if _client_rejected(without, asked) else ("ok" if without.completed else "failed"),
        without_cert_raw=without.raw or without.http_line, cert_info=cert_info,
    )

    staple = _staple(main, served, anchors, now)
    alerts = tuple((r.attempt.name, _alert(r)) for r in run.results if _alert(r))
    dhe, dhe0 = run.get("dhe"), run.get("dhe:seclevel0")
    dhe_obs = Dhe(_what_raw(dhe), dhe.raw if dhe else "", _what_raw(dhe0), dhe0.cipher or "" if dhe0 else "")
    h1, h2 = run.get("alpn:http/1.1"), run.get("alpn:h2")
    alpn = Alpn(_what_raw(h1), _alert(h1), _what_raw(h2), h2.alpn if h2 else None)
    ending = Ending(main.ending, main.delimited_by_close)
    plain = _plain_reply(run.get("raw-hello"))
    return Observed(
        target=f"{client.host}:{client.port}", servername=client.servername, ca_file=client.ca_file,
        reached=reached, connect_error=main.raw if not reached else "", handshake_ok=main.completed,
        as_configured_raw=main.raw, http_status=main.http_status, http_line=main.http_line,
        chain=chain, chain_no_sni=chain_no_sni, check=check, verify_errors=main.verify_errors,
        verified=bool(main.chain),
        name_matches=name_ok, name_matches_no_sni=name_ok_no_sni, sni=sni,
        versions=Versions(tuple(accepted_v), tuple(refused_v)), families=Families(tuple(accepted_f), tuple(refused_f)),
        client_auth=client_auth, staple=staple, alerts=alerts, dhe=dhe_obs, alpn=alpn, ending=ending,
        plain_reply=plain, now=now, clock_offset_days=client.clock_offset_days,
        elapsed=run.elapsed,
    )


def _staple(main: Result, served: tuple[x509.Certificate, ...], anchors: list[x509.Certificate],
            now: dt.datetime) -> Staple:
    if not served:
        return Staple(True, False, "n/a", "no certificate was served")
    if main.staple is None:
        return Staple(True, False, "n/a", "the handshake stopped before the staple could be read")
    if not main.staple:
        return Staple(True, False, "none", "no OCSP response was stapled (status_request was sent)")
    leaf = served[0]
    issuer = next((c for c in [*served[1:], *anchors] if _issued_by(leaf, c)), None)
    if issuer is None:
        return Staple(True, True, "unchecked", f"a staple was sent, but the leaf's issuer {leaf.issuer.rfc4514_string()} "
                      "is neither served nor in the trust anchor, so it cannot be validated")
    verdict = check_response(main.staple, leaf, issuer, now)
    return Staple(True, True, "good" if verdict.ok else verdict.symptom.detail, verdict.message)


def observation_lines(o: Observed) -> list[tuple[str, str]]:
    """(topic, text) pairs, in the order a person checks them."""
    lines: list[tuple[str, str]] = []
    if not o.reached:
        return [("connect", f"cannot connect to {o.target}: {o.connect_error}")]
    if o.plain_reply.is_tls is False:
        lines.append(("not-tls", f"a bare Client Hello is answered with non-TLS bytes: `{o.plain_reply.text}`"))
    lines.append(("handshake", "as configured (server_name " + (o.servername or "none") + ", default versions and "
                  "suites): " + ("completed" + (f", {o.http_line}" if o.http_line else "") if o.handshake_ok
                                  else o.as_configured_raw)))
    for i, c in enumerate(o.chain):
        lines.append(("chain", f"[{i}] {c.line()}"))
    if not o.chain:
        lines.append(("chain", "no certificate was served"))
    for link in o.check.links:
        where = {"served": f"served as [{link.index}]", "anchor": "an anchor in the trust store",
                 "none": "NOT served and not in the trust store"}[link.found_in]
        lines.append(("links", f"[{link.child}] issuer {link.issuer_name}: {where}"))
    for i in o.check.unrelated:
        lines.append(("links", f"[{i}] {o.chain[i].subject}: served but issued nothing in the path"))
    anchor_src = str(o.ca_file) if o.ca_file else "the system trust store"
    if o.chain:
        n = o.check.anchors_given
        lines.append(("trust", f"path to {anchor_src} ({n} anchor{'s' if n != 1 else ''}): {o.check.status}"
                      + (f" at {o.check.anchor}" if o.check.anchor else "")))
        if not o.verified:
            lines.append(("trust", "OpenSSL verify: not reached (the as-configured handshake stopped first)"))
        else:
            lines.append(("trust", "OpenSSL verify: " + ("; ".join(f"num={n} {t} at depth {d}"
                                                                   for n, d, t in o.verify_errors)
                                                         if o.verify_errors else "ok")))
    if o.name_matches is not None:
        lines.append(("name", f"certificate {'matches' if o.name_matches else 'does NOT match'} "
                      f"{o.servername or o.target.rsplit(':', 1)[0]}"))
    s = o.sni
    if not s.without_sni_ok:
        lines.append(("sni", "without server_name: refused (" + (f"alert {s.without_sni_alert}" if s.without_sni_alert
                                                               else s.without_sni_raw) + ")"))
    elif s.same_certificate is False:
        lines.append(("sni", "without server_name: a DIFFERENT certificate (SHA-256 "
                      f"{o.chain_no_sni[0].fingerprint[:16]}... vs {o.chain[0].fingerprint[:16]}...):"))
        lines += [("sni", f"[{i}] {c.line()}") for i, c in enumerate(o.chain_no_sni)]
    else:
        lines.append(("sni", "without server_name: the same certificate"))
    lines.append(("versions", "accepted: " + (", ".join(v.value for v in o.versions.accepted) or "none")
                  + ("; refused: " + ", ".join(f"{v.value} ({w})" for v, w in o.versions.refused)
                     if o.versions.refused else "")))
    lines.append(("suites", "TLS<=1.2 families accepted: " + (", ".join(f"{f} ({c})" if c else f for f, c in o.families.accepted)
                                                            or "none")
                  + ("; refused: " + ", ".join(f"{f} ({w})" for f, w in o.families.refused) if o.families.refused else "")))
    by_alert: dict[str, list[str]] = {}
    for attempt, alert in o.alerts:
        by_alert.setdefault(alert, []).append(attempt)
    lines.append(("alerts", "; ".join(f"{alert} (to {', '.join(names)})" for alert, names in by_alert.items())
                  or "none received"))
    if o.dhe.at_default != "accepted" and o.dhe.at_default == o.dhe.at_level0:
        dhe = f"not accepted at any security level ({o.dhe.at_default}): no DHE suite served"
    else:
        dhe = o.dhe.at_default + ("" if o.dhe.at_default == "accepted" else f"; at security level 0: {o.dhe.at_level0}"
                                  + (f" ({o.dhe.cipher})" if o.dhe.cipher else ""))
    lines.append(("dhe", f"DHE only (TLS 1.2, no ffdhe group offered): {dhe}"))
    lines.append(("alpn", f"offering http/1.1 only: {o.alpn.http1_only}; offering h2: {o.alpn.h2}"
                  + (f" (selected {o.alpn.h2_selected})" if o.alpn.h2_selected
                     else " (the server selects no protocol)" if o.alpn.h2 == "accepted" else "")))
    if o.ending.how:
        how = {"close_notify": "close_notify, then the close", "eof": "a TCP close WITHOUT close_notify",
               "reset": "a TCP reset (no close_notify)", "open": "the server kept the connection open"}[o.ending.how]
        lines.append(("close", f"the GET ended with {how}; the body is delimited by "
                      + ("the close (no Content-Length)" if o.ending.delimited_by_close else "its length")))
    ca = o.client_auth
    if ca.requested:
        lines.append(("client-cert", "the server asks for a client certificate"
                      + (f" from {'; '.join(ca.ca_names)}" if ca.ca_names else "")
                      + f"; without one: {ca.without_cert}"
                      + (f"; with the given one: {ca.with_cert}" + (f" ({ca.with_cert_raw})" if ca.with_cert != 'ok' else "")
                         if ca.given else "")))
    else:
        lines.append(("client-cert", "no client certificate asked for"))
    lines.append(("ocsp", f"staple: {o.staple.status}: {o.staple.message}"))
    if o.clock_offset_days:
        lines.append(("clock", f"judged by the client's clock {o.now:%Y-%m-%d %H:%M}Z "
                      f"({o.clock_offset_days:+g} days from this machine's)"))
    return lines
