"""The normalisation table, on raw messages seen from real clients (OpenSSL 3.0 and 4.0, curl, Java)."""

from __future__ import annotations

import pytest

from lab.symptoms import Symptom, normalise

CASES = [
    ("[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure (_ssl.c:1006)", "alert:handshake_failure"),
    ("[('SSL routines', '', 'tls alert handshake failure')]", "alert:handshake_failure"),
    ("40A7:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../ssl/record/rec_layer_s3.c:1584:SSL alert number 40", "alert:handshake_failure"),
    ("javax.net.ssl.SSLHandshakeException: Received fatal alert: handshake_failure", "alert:handshake_failure"),
    ("curl: (35) OpenSSL/3.0.19: error:0A00042E:SSL routines::tlsv1 alert protocol version", "alert:protocol_version"),
    ("curl: (56) OpenSSL SSL_read: OpenSSL/3.0.19: error:0A000415:SSL routines::sslv3 alert certificate expired, errno 0", "alert:certificate_expired"),
    ("[('SSL routines', '', 'tls alert certificate expired')]", "alert:certificate_expired"),
    ("[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:2580)", "alert:unknown_ca"),
    ("[('SSL routines', '', 'tlsv13 alert certificate required')]", "alert:certificate_required"),
    ("curl: (35) OpenSSL/3.0.19: error:0A000458:SSL routines::tlsv1 unrecognized name", "alert:unrecognized_name"),
    ("curl: (60) SSL certificate problem: unable to get local issuer certificate", "verify:unknown-issuer"),
    ("verify error:num=20:unable to get local issuer certificate | error:0A000086:...:certificate verify failed", "verify:unknown-issuer"),
    ("PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target", "verify:unknown-issuer"),
    ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)", "verify:expired"),
    ("curl: (60) SSL: no alternative certificate subject name matches target host name 'myorg.domain.lab.test'", "verify:hostname-mismatch"),
    ("certificate verify failed: Hostname mismatch, certificate is not valid for 'x'", "verify:hostname-mismatch"),
    ("hostname mismatch: VerificationError(errors=[DNSMismatch(mismatched_id=DNS_ID(hostname=b'x'))])", "verify:hostname-mismatch"),
    ("[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol (_ssl.c:1006)", "negotiation:protocol-version"),
    ("[SSL: NO_CIPHERS_AVAILABLE] no ciphers available", "negotiation:no-ciphers"),
    ("TimeoutError: timed out", "timeout"),
    ("ConnectionRefusedError: [Errno 111] Connection refused", "refused"),
    ("SSLEOFError: EOF occurred in violation of protocol (_ssl.c:1006)", "closed"),
    ("something nobody has seen before", "error:unclassified"),
]


@pytest.mark.parametrize("raw, expected", CASES)
def test_table(raw: str, expected: str) -> None:
    assert str(normalise(raw)) == expected


def test_verification_reason_wins_over_the_alert_it_triggers() -> None:
    raw = "verify error:num=10:certificate has expired | error:0A000086:SSL routines::certificate verify failed | SSL alert number 45"
    assert normalise(raw) == Symptom.parse("verify:expired")


def test_parse_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown symptom kind"):
        Symptom.parse("boom:x")
