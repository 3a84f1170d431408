"""The OCSP responder over real HTTP on 127.0.0.1, and the response check, against each other and `openssl ocsp`.

Every answer the scenarios rely on is produced here by the real responder and judged by
:func:`lab.ocsp.check_response`; the `openssl ocsp` tests make sure an outside validator
reads the same answers the same way (good and revoked verify; a blackhole is bounded).
"""

from __future__ import annotations

import datetime as dt
import http.client
import socket
import subprocess
import time
from urllib.parse import urlsplit

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from lab.ocsp import (SLOW_DELAY, ResponderPolicy, check_response, openssl_ocsp_command, query,
                      query_lab_certificate, run_responder)
from lab.pki import Pki
from lab.specs import OcspNetwork, OcspWindow, ResponderStatus
from lab.symptoms import normalise

from conftest import require_tool


def _ask(pki: Pki, name: str, policy: ResponderPolicy = ResponderPolicy(), *, at: dt.datetime | None = None):  # type: ignore[no-untyped-def]
    cert, issuer = pki.cert(name), pki.cert(pki.entry(name).issuer or name)
    with run_responder(pki, policy) as responder:
        result = query(responder.url, cert, issuer, timeout=2.0)
    assert result.der is not None, result.error
    verdict = check_response(result.der, cert, issuer, at)
    assert normalise(verdict.message) == verdict.symptom or verdict.ok, "the message must read as its symptom"
    return verdict


def test_good(pki: Pki) -> None:
    verdict = _ask(pki, "ocsp-server")
    assert verdict.ok and verdict.cert_status == "good"
    assert verdict.signer and "Intermediate" in verdict.signer


def test_revoked_with_reason(pki: Pki) -> None:
    verdict = _ask(pki, "ocsp-server-revoked")
    assert str(verdict.symptom) == "revocation:revoked"
    assert "keyCompromise" in verdict.message


def test_renewed_certificate_is_good(pki: Pki) -> None:
    assert _ask(pki, "ocsp-server-renewed").ok


def test_unknown_serial(pki: Pki) -> None:
    """A certificate the intermediate's key signed but the catalogue never issued: 'unknown'."""
    issuer = pki.cert("intermediate")
    key = serialization.load_pem_private_key(pki.key_pem("intermediate"), None)
    subject_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    stray = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stray.lab.test")]))
             .issuer_name(issuer.subject).public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
             .sign(key, hashes.SHA256()))  # type: ignore[arg-type]
    with run_responder(pki) as responder:
        result = query(responder.url, stray, issuer, timeout=2.0)
    assert result.der is not None
    verdict = check_response(result.der, stray, issuer)
    assert str(verdict.symptom) == "revocation:unknown" and verdict.cert_status == "unknown"


def test_foreign_issuer_is_unauthorized(pki: Pki) -> None:
    ca = trustme.CA()
    leaf = x509.load_pem_x509_certificate(ca.issue_cert("x.example").cert_chain_pems[0].bytes())
    issuer = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    with run_responder(pki) as responder:
        result = query(responder.url, leaf, issuer, timeout=2.0)
    assert result.der is not None
    assert ocsp.load_der_ocsp_response(result.der).response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


@pytest.mark.parametrize("status", [s for s in ResponderStatus if s is not ResponderStatus.SUCCESSFUL])
def test_error_statuses(pki: Pki, status: ResponderStatus) -> None:
    verdict = _ask(pki, "ocsp-server", ResponderPolicy(status=status))
    assert str(verdict.symptom) == "revocation:responder-error"
    assert status.value in verdict.message


@pytest.mark.parametrize("window, expected", [
    (OcspWindow.FRESH, "ok"), (OcspWindow.STALE, "ok"),
    (OcspWindow.EXPIRED, "revocation:expired-response"),
    (OcspWindow.NOT_YET_VALID, "revocation:not-yet-valid-response"),
])
def test_windows(pki: Pki, window: OcspWindow, expected: str) -> None:
    assert str(_ask(pki, "ocsp-server", ResponderPolicy(window=window)).symptom) == expected


def test_clock_decides_the_window(pki: Pki) -> None:
    """The same fresh answer is expired three days later and not yet valid a day earlier."""
    now = dt.datetime.now(dt.timezone.utc)
    assert str(_ask(pki, "ocsp-server", at=now + dt.timedelta(days=3)).symptom) == "revocation:expired-response"
    assert str(_ask(pki, "ocsp-server", at=now - dt.timedelta(days=1)).symptom) == "revocation:not-yet-valid-response"


@pytest.mark.parametrize("signer, expected, words", [
    ("intermediate", "ok", "Intermediate"),
    ("ocsp-responder", "ok", "OCSP Responder"),
    ("ocsp-responder-expired", "revocation:untrusted-signer", "expired"),
    ("ocsp-responder-not-authorised", "revocation:untrusted-signer", "id-kp-OCSPSigning"),
    ("ocsp-responder-other-ca", "revocation:untrusted-signer", "not authorised"),
    ("root", "revocation:untrusted-signer", "not authorised"),  # a CA, but not the leaf's issuer
])
def test_signers(pki: Pki, signer: str, expected: str, words: str) -> None:
    verdict = _ask(pki, "ocsp-server", ResponderPolicy(signer=signer))
    assert str(verdict.symptom) == expected
    assert words in verdict.message


def test_tampered_signature_is_rejected(pki: Pki) -> None:
    cert, issuer = pki.cert("ocsp-server"), pki.cert("intermediate")
    with run_responder(pki) as responder:
        der = query(responder.url, cert, issuer, timeout=2.0).der
    assert der is not None
    tampered = der[:-1] + bytes([der[-1] ^ 0x01])  # the signature is the last field
    assert str(check_response(tampered, cert, issuer).symptom) == "revocation:untrusted-signer"
    assert str(check_response(b"not der", cert, issuer).symptom) == "revocation:malformed"
    assert str(check_response(der, pki.cert("ocsp-server-renewed"), issuer).symptom) == "revocation:unknown"


def test_get_method_and_nonce(pki: Pki) -> None:
    """RFC 6960 A.1 GET (base64 in the path) works, and a request nonce is echoed."""
    import base64
    cert, issuer = pki.cert("ocsp-server"), pki.cert("intermediate")
    nonce = b"0123456789abcdef"
    req = (ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
           .add_extension(x509.OCSPNonce(nonce), critical=False).build().public_bytes(serialization.Encoding.DER))
    with run_responder(pki) as responder:
        url = urlsplit(responder.url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=2)
        conn.request("GET", "/" + base64.b64encode(req).decode())
        body = conn.getresponse().read()
        conn.close()
    resp = ocsp.load_der_ocsp_response(body)
    assert resp.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_malformed_request(pki: Pki) -> None:
    with run_responder(pki) as responder:
        url = urlsplit(responder.url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=2)
        conn.request("POST", "/", body=b"garbage", headers={"Content-Type": "application/ocsp-request"})
        body = conn.getresponse().read()
        conn.close()
    assert ocsp.load_der_ocsp_response(body).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_blocked_is_bounded_by_the_timeout(pki: Pki) -> None:
    """The firewall case: the server's path accepts the connection and never answers."""
    cert, issuer = pki.cert("ocsp-server"), pki.cert("intermediate")
    with run_responder(pki, ResponderPolicy(network=OcspNetwork.BLOCKED)) as responder:
        started = time.monotonic()
        result = query(responder.server_url, cert, issuer, timeout=0.5)
        took = time.monotonic() - started
        assert result.der is None and result.error and "did not answer within 0.5s" in result.error
        assert 0.4 < took < 5, "bounded by the client's timeout, not hanging"
        assert str(normalise(result.error)) == "revocation:unavailable"
        # the responder itself is fine: only the server's path is blocked
        assert query(responder.url, cert, issuer, timeout=2.0).der is not None


def test_down_is_refused_at_once(pki: Pki) -> None:
    cert, issuer = pki.cert("ocsp-server"), pki.cert("intermediate")
    with run_responder(pki, ResponderPolicy(network=OcspNetwork.DOWN)) as responder:
        result = query(responder.url, cert, issuer, timeout=2.0)
        assert result.der is None and result.error and "refused" in result.error  # refused, not timed out
        assert responder.url == responder.server_url


def test_slow_answers_late(pki: Pki) -> None:
    cert, issuer = pki.cert("ocsp-server"), pki.cert("intermediate")
    with run_responder(pki, ResponderPolicy(network=OcspNetwork.SLOW)) as responder:
        result = query(responder.url, cert, issuer, timeout=2.0)
        assert result.der is not None and result.elapsed >= SLOW_DELAY
        too_short = query(responder.url, cert, issuer, timeout=SLOW_DELAY / 3)
        assert too_short.der is None and "did not answer" in (too_short.error or "")


def test_responder_stops_with_its_context(pki: Pki) -> None:
    with run_responder(pki, ResponderPolicy(network=OcspNetwork.BLOCKED)) as responder:
        ports = [urlsplit(u).port for u in (responder.url, responder.server_url)]
        held = socket.create_connection(("127.0.0.1", ports[1]), timeout=1)  # a connection the blackhole holds
    with held:
        held.settimeout(2)
        try:  # dropped on stop (reset or closed), not left hanging until the timeout
            assert held.recv(1) == b""
        except ConnectionResetError:
            pass
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


# --- the same answers through an outside validator --------------------------------------------

@pytest.mark.parametrize("name, status", [("ocsp-server", "good"), ("ocsp-server-revoked", "revoked")])
def test_openssl_ocsp_agrees(pki: Pki, name: str, status: str) -> None:
    require_tool("openssl")
    with run_responder(pki, ResponderPolicy(signer="ocsp-responder")) as responder:
        argv = openssl_ocsp_command(pki, name, responder.url, 2)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    out = done.stdout + done.stderr
    assert f"{name}.pem: {status}" in out
    assert "Response verify OK" in out


def test_openssl_ocsp_rejects_an_expired_signer(pki: Pki) -> None:
    require_tool("openssl")
    with run_responder(pki, ResponderPolicy(signer="ocsp-responder-expired")) as responder:
        done = subprocess.run(openssl_ocsp_command(pki, "ocsp-server", responder.url, 2),
                              capture_output=True, text=True, timeout=10)
    assert "Response Verify Failure" in done.stdout + done.stderr


def test_openssl_ocsp_blackhole_is_bounded(pki: Pki) -> None:
    """The document's diagnosis, `openssl ocsp -url`, hangs on a firewall: the lab bounds it with -timeout."""
    require_tool("openssl")
    with run_responder(pki, ResponderPolicy(network=OcspNetwork.BLOCKED)) as responder:
        started = time.monotonic()
        done = subprocess.run(openssl_ocsp_command(pki, "ocsp-server", responder.server_url, 1),
                              capture_output=True, text=True, timeout=10)
        took = time.monotonic() - started
    assert done.returncode != 0 and took < 4
    assert "Timeout" in done.stderr or "timeout" in done.stderr.lower()


def test_query_lab_certificate(pki: Pki) -> None:
    q = query_lab_certificate(pki, "ocsp-server-revoked")
    assert q.aia_url == "http://ocsp.lab.test/" and q.url.startswith("http://127.0.0.1:")
    assert q.verdict is not None and q.verdict.cert_status == "revoked"
    assert query_lab_certificate(pki, "ocsp-server", clock_offset_days=3).verdict.symptom.detail == "expired-response"  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        query_lab_certificate(pki, "root")
