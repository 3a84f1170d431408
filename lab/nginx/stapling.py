"""OCSP stapling with real nginx: the spec's stapling fields as directives, the files nginx reads,
and nginx's lazy first fetch (its first handshake after start carries no staple)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from lab.ocsp import Responder, Stapler, query
from lab.ocsp.common import STAPLE_FETCH_TIMEOUT
from lab.pki import Pki
from lab.specs import ServerSpec
from lab.tlsio import pump

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
                pump(conn, sock, conn.do_handshake, max(end, time.monotonic() + 0.5))
        except (OSError, SSL.Error):
            pass
        if seen and seen[0]:
            return seen[0]
        if time.monotonic() >= end:
            return b""
        time.sleep(0.1)
