"""The one OCSP response check every part of the lab shares.

:func:`check_response` judges a DER response for one certificate against a clock: signature,
signer authorisation (issuer itself, or a delegate it issued with id-kp-OCSPSigning, valid at
that time), time window, certificate status. The pyOpenSSL probe, the Twisted stapler
(``ssl_stapling_verify``) and the query command all use it, so "valid staple" means one thing
in the lab. Its messages are worded to fall into the ``revocation:*`` rows of :mod:`lab.symptoms`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from lab.ocsp.common import LEEWAY, issuer_hashes, utcnow
from lab.symptoms import OK, Kind, Symptom

_STATUS_NAMES = {
    ocsp.OCSPResponseStatus.SUCCESSFUL: "successful", ocsp.OCSPResponseStatus.MALFORMED_REQUEST: "malformedRequest",
    ocsp.OCSPResponseStatus.INTERNAL_ERROR: "internalError", ocsp.OCSPResponseStatus.TRY_LATER: "tryLater",
    ocsp.OCSPResponseStatus.SIG_REQUIRED: "sigRequired", ocsp.OCSPResponseStatus.UNAUTHORIZED: "unauthorized",
}



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
                   and (r.issuer_name_hash, r.issuer_key_hash) == issuer_hashes(issuer, r.hash_algorithm)), None)
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


