"""Asking a responder directly: a bounded OCSP request, and ``tlslab ocsp query``'s teaching helper."""

from __future__ import annotations

import datetime as dt
import http.client
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509

from lab.ocsp.check import Verdict, check_response
from lab.ocsp.common import MAX_REQUEST, request_der, utcnow
from lab.ocsp.responder import ResponderPolicy, run_responder
from lab.pki import Pki

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
