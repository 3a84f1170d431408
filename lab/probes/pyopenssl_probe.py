"""pyOpenSSL (the OpenSSL that ships inside cryptography): the TLS stack of Twisted and the lab gateway."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from typing import TypeVar

from OpenSSL import SSL
from service_identity import CertificateError, VerificationError
from service_identity.pyopenssl import verify_hostname

from lab.contexts import client_context
from lab.probes.base import MAX_RESPONSE, ClientFiles, Outcome, ProbeBase, Target, http_request, outcome_from_error, outcome_from_response
from lab.specs import ClientSpec
from lab.symptoms import X509_VERIFY_ERRORS

T = TypeVar("T")


def _pump(conn: SSL.Connection, sock: socket.socket, op: Callable[[], T], deadline: float) -> T:
    """Run a pyOpenSSL operation on a non-blocking socket until it completes or time runs out."""
    while True:
        try:
            return op()
        except (SSL.WantReadError, SSL.WantWriteError) as want:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out waiting for the server") from None
            readable = isinstance(want, SSL.WantReadError)
            select.select([sock] if readable else [], [] if readable else [sock], [], remaining)


def fetch(target: Target, spec: ClientSpec, files: ClientFiles, client: str = "pyopenssl") -> Outcome:
    """One HTTPS exchange with a spec-built pyOpenSSL context (also the gateway's upstream client)."""
    started = time.monotonic()
    deadline = started + spec.timeout
    verify_errors: list[tuple[int, int]] = []
    try:
        ctx, verify_errors = client_context(spec, files)
        sock = socket.create_connection((target.host, target.port), timeout=spec.timeout)
    except (OSError, SSL.Error) as exc:
        return outcome_from_error(client, f"{type(exc).__name__}: {exc}", started)
    with sock:
        sock.setblocking(False)
        conn = SSL.Connection(ctx, sock)
        if spec.sni:
            conn.set_tlsext_host_name(target.servername.encode("idna"))
        conn.set_connect_state()
        try:
            _pump(conn, sock, conn.do_handshake, deadline)
            verify_hostname(conn, target.servername)
            request = http_request(target.servername)
            _pump(conn, sock, lambda: conn.sendall(request), deadline)
            response = b""
            while len(response) < MAX_RESPONSE:
                try:
                    chunk = _pump(conn, sock, lambda: conn.recv(16384), deadline)
                except SSL.ZeroReturnError:
                    break
                except SSL.SysCallError as exc:
                    if exc.args and exc.args[0] == -1 and response:  # EOF without close_notify after the body
                        break
                    raise
                if not chunk:
                    break
                response += chunk
            cipher = conn.get_cipher_name()
            return outcome_from_response(client, response, started, protocol=conn.get_protocol_version_name(),
                                         cipher=cipher)
        except (VerificationError, CertificateError) as exc:
            return outcome_from_error(client, f"hostname mismatch: {exc}", started)
        except (SSL.Error, OSError) as exc:
            raw = f"{type(exc).__name__}: {exc}"
            if verify_errors:
                num, depth = verify_errors[0]
                raw += f"; verify error:num={num}:{X509_VERIFY_ERRORS.get(num, 'unknown')} at depth {depth}"
            return outcome_from_error(client, raw, started)


class PyOpenSslProbe(ProbeBase):
    name = "pyopenssl"
    description = f"pyOpenSSL ({SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()})"

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        return fetch(target, spec, files, self.name)
