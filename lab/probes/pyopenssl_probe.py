"""pyOpenSSL (the OpenSSL that ships inside cryptography): the TLS stack of Twisted and the lab gateway."""

from __future__ import annotations

import datetime as dt
import socket
import time
from typing import TypeVar

from OpenSSL import SSL
from service_identity import CertificateError, VerificationError
from service_identity.pyopenssl import verify_hostname

from lab.contexts import client_context
from lab.tlsio import pump
from lab.ocsp import check_response, must_staple
from lab.probes.base import (CLIENT, LAB, MAX_RESPONSE, ClientFiles, Outcome, ProbeBase, Target, http_request,
                             outcome_from_error, outcome_from_response, setup_failed)
from lab.specs import ClientSpec, RevocationMode
from lab.symptoms import LAB_PREFIX, X509_VERIFY_ERRORS, http_symptom, lab_message

T = TypeVar("T")


def client_clock(spec: ClientSpec) -> dt.datetime:
    """The time as this client believes it to be (the real clock plus the spec's offset)."""
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=spec.clock_offset_days)


class StapleCheck:
    """The OCSP client callback: judges the staple during the handshake, by the client's clock.

    Runs after OpenSSL verified the chain, so the issuer is the verified chain's second
    certificate. Returning False aborts the handshake (bad_certificate_status_response); the
    reason is kept for the outcome's raw text.
    """

    def __init__(self, mode: RevocationMode, now: dt.datetime) -> None:
        self.mode = mode
        self.now = now
        self.rejection: str | None = None

    def __call__(self, conn: SSL.Connection, staple: bytes, data: object) -> bool:
        chain = conn.get_verified_chain(as_cryptography=True) or conn.get_peer_cert_chain(as_cryptography=True) or []
        if not chain:
            self.rejection = lab_message("the staple check found no verified chain to check the staple against")
            return False
        leaf = chain[0]
        if not staple:
            if self.mode is RevocationMode.REQUIRE_STAPLE:
                self.rejection = "no OCSP response was stapled, and this client requires one"
            elif must_staple(leaf):
                self.rejection = "no OCSP response was stapled for a must-staple certificate (TLS Feature status_request)"
            return self.rejection is None
        if len(chain) < 2:
            self.rejection = lab_message("the staple check found no issuer in the chain to check the staple against")
            return False
        verdict = check_response(staple, leaf, chain[1], self.now)
        if verdict.ok or (self.mode is RevocationMode.STAPLE and verdict.symptom.detail == "responder-error"):
            return True  # soft-fail: an error status carries no certificate status either way
        self.rejection = verdict.message
        return False


def fetch(target: Target, spec: ClientSpec, files: ClientFiles, client: str = "pyopenssl") -> Outcome:
    """One HTTPS exchange with a spec-built pyOpenSSL context (also the gateway's upstream client)."""
    started = time.monotonic()
    deadline = started + spec.timeout
    verify_errors: list[tuple[int, int]] = []
    staple_check: StapleCheck | None = None
    try:
        ctx, verify_errors = client_context(spec, files)
        if spec.clock_offset_days:
            store = ctx.get_cert_store()
            assert store is not None
            store.set_time(client_clock(spec))
        if spec.revocation is not RevocationMode.NONE:
            staple_check = StapleCheck(spec.revocation, client_clock(spec))
            ctx.set_ocsp_client_callback(staple_check)
    except (OSError, SSL.Error) as exc:  # unreadable or mismatched lab material
        return setup_failed(client, exc, started)
    # The lab's staple check decides every OCSP phase; pyOpenSSL checks no host name itself.
    lab_checked = LAB if staple_check is not None else CLIENT
    try:
        sock = socket.create_connection((target.host, target.port), timeout=spec.timeout)
    except (OSError, SSL.Error) as exc:
        return outcome_from_error(client, f"{type(exc).__name__}: {exc}", started)
    with sock:
        sock.setblocking(False)
        conn = SSL.Connection(ctx, sock)
        if staple_check is not None:
            conn.request_ocsp()
        if spec.sni:
            conn.set_tlsext_host_name(target.servername.encode("idna"))
        conn.set_connect_state()
        try:
            pump(conn, sock, conn.do_handshake, deadline)
            verify_hostname(conn, target.servername)
            if conn.get_alpn_proto_negotiated() == b"h2":
                return _h2_exchange(client, conn, sock, target, started, deadline, lab_checked)
            request = http_request(target.servername)
            pump(conn, sock, lambda: conn.sendall(request), deadline)
            response = b""
            while len(response) < MAX_RESPONSE:
                try:
                    chunk = pump(conn, sock, lambda: conn.recv(16384), deadline)
                except SSL.ZeroReturnError:
                    break
                except SSL.SysCallError as exc:
                    # EOF without close_notify after the body: an error, unless the spec tolerates it (the
                    # OpenSSL flag makes it a clean close; an older OpenSSL reports it here instead)
                    if exc.args and exc.args[0] == -1 and response and spec.ignore_unexpected_eof:
                        break
                    raise
                if not chunk:
                    break
                response += chunk
            cipher = conn.get_cipher_name()
            return outcome_from_response(client, response, started, protocol=conn.get_protocol_version_name(),
                                         cipher=cipher, judged_by=lab_checked)
        except (VerificationError, CertificateError) as exc:  # service_identity: the lab's host name check
            return outcome_from_error(client, f"hostname mismatch: {exc}", started, judged_by=LAB)
        except (SSL.Error, OSError) as exc:
            raw = f"{type(exc).__name__}: {exc}"
            judged_by = CLIENT
            if staple_check is not None and staple_check.rejection:
                judged_by = LAB
                rejection = staple_check.rejection
                raw = f"{rejection}; {raw}" if rejection.startswith(LAB_PREFIX) else f"OCSP staple rejected: {rejection}; {raw}"
            if verify_errors:
                num, depth = verify_errors[0]
                raw += f"; verify error:num={num}:{X509_VERIFY_ERRORS.get(num, 'unknown')} at depth {depth}"
            return outcome_from_error(client, raw, started, judged_by=judged_by)


def _h2_exchange(client: str, conn: SSL.Connection, sock: socket.socket, target: Target, started: float,
                 deadline: float, judged_by: str) -> Outcome:
    """ALPN chose h2: the request in HTTP/2 (Twisted's own HTTP/2 client side would do the same)."""
    from lab.probes.h2client import H2Get

    get = H2Get(target.servername)
    first = get.start()
    pump(conn, sock, lambda: conn.sendall(first), deadline)
    while not get.done:
        try:
            data = pump(conn, sock, lambda: conn.recv(65535), deadline)
        except SSL.ZeroReturnError:
            break
        if not data:
            break
        if out := get.feed(data):
            pump(conn, sock, lambda: conn.sendall(out), deadline)
    if get.status is None:
        return outcome_from_error(client, get.error or "HTTP/2: connection closed without a response", started)
    return Outcome(client, http_symptom(get.status), f"HTTP/2 {get.status}", http_status=get.status,
                   protocol=conn.get_protocol_version_name(), elapsed=time.monotonic() - started, judged_by=judged_by)


class PyOpenSslProbe(ProbeBase):
    name = "pyopenssl"
    description = f"pyOpenSSL ({SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()})"
    revocation_modes = frozenset(RevocationMode)  # the staple is checked in-process with cryptography
    plain_http_note = "pyOpenSSL is a TLS library: a plain-HTTP client is not pyOpenSSL"
    alpn = True  # set_alpn_protos; HTTP/2 through the h2 library when h2 is chosen
    eof_flag = True  # SSL_OP_IGNORE_UNEXPECTED_EOF

    def clock_offset_reason(self) -> str | None:
        return None  # in-process: the verify store's time and the staple check use the skewed clock

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        return fetch(target, spec, files, self.name)
