"""What every part of the lab's OCSP shares: timing constants, the clock, and CertID hashing."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

LEEWAY = dt.timedelta(minutes=5)  # clock tolerance on thisUpdate/nextUpdate (curl and nginx use 300 s)
SLOW_DELAY = 0.3  # seconds a "slow" responder waits before answering (below STAPLE_FETCH_TIMEOUT)
STAPLE_FETCH_TIMEOUT = 1.0  # seconds a server waits for the responder when fetching its staple
MAX_REQUEST = 64 * 1024
CONTENT_TYPE = "application/ocsp-response"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def issuer_hashes(ca: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of a CA as an OCSP CertID carries them.

    The key hash comes from a request built with `ca` as issuer; the name hash is computed here
    because a request takes it from the *subject certificate's* issuer field, not from `ca`.
    """
    req = ocsp.OCSPRequestBuilder().add_certificate(ca, ca, algorithm).build()
    digest = hashes.Hash(algorithm)
    digest.update(ca.subject.public_bytes())
    return digest.finalize(), req.issuer_key_hash



def request_der(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    return ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)

