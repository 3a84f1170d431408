"""Python's ``ssl`` module (the system OpenSSL): what most Python services and scripts use."""

from __future__ import annotations

import os
import socket
import ssl
import time
import warnings

from service_identity import CertificateError, VerificationError
from service_identity.cryptography import verify_certificate_hostname
from cryptography import x509

from lab.probes.base import (LAB, MAX_RESPONSE, ClientFiles, Outcome, ProbeBase, Target, http_request, outcome_from_error,
                             outcome_from_response, plain_http_exchange, setup_failed)
from lab.specs import ClientSpec
from lab.symptoms import http_symptom
from lab.tls import Protocol, client_handshake

_VERSIONS = {
    Protocol.TLSv1_0: ssl.TLSVersion.TLSv1,
    Protocol.TLSv1_1: ssl.TLSVersion.TLSv1_1,
    Protocol.TLSv1_2: ssl.TLSVersion.TLSv1_2,
    Protocol.TLSv1_3: ssl.TLSVersion.TLSv1_3,
}


def ssl_context(spec: ClientSpec, files: ClientFiles) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Without SNI, ssl cannot check the name during the handshake; we check it right after.
    ctx.check_hostname = spec.sni
    if not files.trusts_nothing:  # an empty bundle: a context with no CA at all, as with no CA file
        ctx.load_verify_locations(cafile=str(files.ca_file))
    # Versions and cipher list always set: a python.org build starts from CPython's own list,
    # Debian's from OpenSSL's, and the verdict must not depend on which Python runs the lab.
    handshake = client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers)
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated, and reproducing them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = _VERSIONS[handshake.min_protocol]
        ctx.maximum_version = _VERSIONS[handshake.max_protocol]
    ctx.set_ciphers(handshake.ciphers)
    if os.environ.get("SSLKEYLOGFILE"):  # as ssl.create_default_context does; captures read it
        ctx.keylog_filename = os.environ["SSLKEYLOGFILE"]
    if spec.alpn:
        ctx.set_alpn_protocols(list(spec.alpn))
    if spec.ignore_unexpected_eof:
        ctx.options |= ssl.OP_IGNORE_UNEXPECTED_EOF
    if files.cert_file and files.key_file:
        ctx.load_cert_chain(str(files.cert_file), str(files.key_file))
    return ctx


def _h2_exchange(client: str, tls: ssl.SSLSocket, target: Target, started: float) -> Outcome:
    """ALPN chose h2: the request in HTTP/2, as an h2-capable Python client (httpx) would send it."""
    from lab.probes.h2client import H2Get

    get = H2Get(target.servername)
    tls.sendall(get.start())
    while not get.done:
        data = tls.recv(65535)
        if not data:
            break
        if out := get.feed(data):
            tls.sendall(out)
    if get.status is None:
        return outcome_from_error(client, get.error or "HTTP/2: connection closed without a response", started)
    return Outcome(client, http_symptom(get.status), f"HTTP/2 {get.status}", http_status=get.status,
                   protocol=tls.version(), elapsed=time.monotonic() - started)


class PythonSslProbe(ProbeBase):
    name = "python-ssl"
    description = f"Python ssl module ({ssl.OPENSSL_VERSION})"
    revocation_note = "Python's ssl module has no OCSP API (it can neither request nor read a staple)"
    plain_http = True  # http.client's plain socket, as a Python script with an http:// URL
    alpn = True
    eof_flag = True  # ssl.OP_IGNORE_UNEXPECTED_EOF

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        if spec.scheme == "http":
            return plain_http_exchange(self.name, target, spec)
        started = time.monotonic()
        try:
            ctx = ssl_context(spec, files)
        except (OSError, ssl.SSLError) as exc:  # unreadable or mismatched lab material
            return setup_failed(self.name, exc, started)
        try:
            with socket.create_connection((target.host, target.port), timeout=spec.timeout) as sock:
                with ctx.wrap_socket(sock, server_hostname=target.servername if spec.sni else None) as tls:
                    if not spec.sni:
                        der = tls.getpeercert(binary_form=True)
                        assert der is not None
                        verify_certificate_hostname(x509.load_der_x509_certificate(der), target.servername)
                    if tls.selected_alpn_protocol() == "h2":
                        return _h2_exchange(self.name, tls, target, started)
                    tls.sendall(http_request(target.servername))
                    response = b""
                    while len(response) < MAX_RESPONSE:
                        chunk = tls.recv(16384)
                        if not chunk:
                            break
                        response += chunk
                    return outcome_from_response(self.name, response, started, protocol=tls.version(),
                                                 cipher=(tls.cipher() or ("",))[0])
        except (VerificationError, CertificateError) as exc:  # the lab's own check, after a no-SNI handshake
            return outcome_from_error(self.name, f"hostname mismatch: {exc}", started, judged_by=LAB)
        except (OSError, ssl.SSLError) as exc:  # SSLError is an OSError; timeouts and refusals too
            return outcome_from_error(self.name, f"{type(exc).__name__}: {exc}", started)
