"""The battery: the client configurations ``tlslab diagnose`` tries against one endpoint.

Each attempt is a real pyOpenSSL handshake of the lab's own, configured to answer one question
(does the server answer without server_name? does it accept TLS 1.0? AES-128 suites?). A
failed handshake is a result, never an exception. Every attempt accepts any certificate so the
served chain is always seen; OpenSSL's own verification errors (against the given trust anchor)
are recorded on the way, so "would a verifying client accept this" is still OpenSSL's verdict.

Attempts run in parallel threads with short timeouts: a diagnosis costs about as long as the
slowest single handshake.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import errno
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from OpenSSL import SSL

from lab.tlsio import pump
from lab.probes.base import MAX_RESPONSE, http_request, parse_status
from lab.symptoms import X509_VERIFY_ERRORS, Symptom, normalise
from lab.tls import Protocol

T = TypeVar("T")

DEFAULT_TIMEOUT = 2.0
LEGACY = "@SECLEVEL=0"  # OpenSSL 3+ refuses TLS 1.0/1.1 and SHA-1 suites without it
BROAD_CIPHERS = f"ALL:{LEGACY}"

_VERSIONS = {
    Protocol.TLSv1_0: SSL.TLS1_VERSION, Protocol.TLSv1_1: SSL.TLS1_1_VERSION,
    Protocol.TLSv1_2: SSL.TLS1_2_VERSION, Protocol.TLSv1_3: SSL.TLS1_3_VERSION,
}

# Cipher families, tried with TLS 1.2 at most (TLS 1.3 suites are negotiated apart from these).
# "high" is what the APIGEE document calls High Encryption: AES-256 only.
CIPHER_FAMILIES: dict[str, str] = {
    "aes256": f"AES256:!aNULL:{LEGACY}",
    "aes128": f"AES128:!aNULL:{LEGACY}",
    "chacha20": f"CHACHA20:!aNULL:{LEGACY}",
    "legacy-cbc": "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:"
                  f"AES128-SHA:AES256-SHA:DES-CBC3-SHA:{LEGACY}",
}
DHE_CIPHERS = ("DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:"
               "DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:DHE-RSA-AES128-SHA:DHE-RSA-AES256-SHA")
FAMILY_LABELS = {"aes256": "AES-256 only (\"high\")", "aes128": "AES-128", "chacha20": "CHACHA20",
                 "legacy-cbc": "legacy CBC (SHA-1)"}


@dataclass(frozen=True)
class Attempt:
    """One client configuration: what it sends and what it asks for."""

    name: str
    sni: bool = True
    min_version: Protocol | None = None  # None: this OpenSSL's default
    max_version: Protocol | None = None
    ciphers: str | None = None  # TLS <= 1.2 cipher string; None: the default list
    client_cert: bool = False
    request_staple: bool = False
    http: bool = False  # send a GET after the handshake (a 2-way server may reject only then)
    verify: bool = False  # record OpenSSL's verification against the trust anchor
    alpn: tuple[str, ...] = ()  # the ALPN list offered; () offers none
    ec_groups_only: bool = False  # supported_groups P-256 only: no RFC 7919 ffdhe group, so a DHE server
    #                              must use its own configured group (OpenSSL 3.2+ offers ffdhe2048 otherwise)
    raw_hello: bool = False  # send the Client Hello bytes and record what comes back, TLS or not


@dataclass(frozen=True)
class Result:
    """What one attempt saw. ``chain`` is what the server sent, whether or not the handshake finished."""

    attempt: Attempt
    completed: bool  # the handshake (and the HTTP exchange, when asked) finished
    raw: str  # the error text, "" on success
    symptom: Symptom | None  # normalise(raw), None on success
    refused: bool = False  # nothing listens / no TCP connection at all
    protocol: str | None = None
    cipher: str | None = None
    chain: tuple[x509.Certificate, ...] = ()
    verify_errors: tuple[tuple[int, int, str], ...] = ()  # (X509 error number, depth, text), OpenSSL's
    staple: bytes | None = None  # None: not requested, or no answer; b"": requested, none stapled
    client_ca_names: tuple[str, ...] = ()  # the CAs the server's CertificateRequest named
    http_status: int | None = None
    http_line: str = ""
    alpn: str | None = None  # the protocol the server selected, when ALPN was offered
    # How the HTTP exchange ended: "close_notify", "eof" (TCP close without close_notify), "reset",
    # "open" (still open when the client stopped waiting); "" when no GET was sent or it failed
    ending: str = ""
    delimited_by_close: bool = False  # the response had no Content-Length / chunked: its end is the close
    reply_head: bytes = b""  # raw_hello: the first bytes the port sent back to a Client Hello
    elapsed: float = 0.0

    @property
    def server_answered(self) -> bool:
        """The server got as far as sending its certificate: the version and suite were accepted."""
        return self.completed or bool(self.chain)


@dataclass(frozen=True)
class Client:
    """Who is diagnosing: the name to send and verify, the trust anchor, the client identity."""

    host: str
    port: int
    servername: str | None
    ca_file: Path | None
    client_cert: Path | None = None
    client_key: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    clock_offset_days: float = 0.0  # the client's clock, relative to this machine's (a skewed client)

    def clock(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=self.clock_offset_days)


def battery(client: Client) -> tuple[Attempt, ...]:
    """Every attempt for this client, the as-configured one first."""
    cert = client.client_cert is not None
    attempts = [
        Attempt("as-configured", sni=True, client_cert=cert, request_staple=True, http=True, verify=True),
        # early: a server that answers connections one at a time (a plain port's) meets it before the rest
        Attempt("raw-hello", raw_hello=True),
        Attempt("no-sni", sni=False, min_version=Protocol.TLSv1_0, ciphers=BROAD_CIPHERS, client_cert=cert),
    ]
    if cert:
        attempts.append(Attempt("no-client-cert", min_version=Protocol.TLSv1_0, ciphers=BROAD_CIPHERS, http=True))
    for version in Protocol:
        attempts.append(Attempt(f"version:{version.value}", min_version=version, max_version=version,
                                ciphers=BROAD_CIPHERS, client_cert=cert))
    for family, ciphers in CIPHER_FAMILIES.items():
        attempts.append(Attempt(f"cipher:{family}", min_version=Protocol.TLSv1_0, max_version=Protocol.TLSv1_2,
                                ciphers=ciphers, client_cert=cert))
    # DHE alone, at this OpenSSL's default security level (2: a >= 2048-bit group) and at level 0
    attempts.append(Attempt("dhe", max_version=Protocol.TLSv1_2, ciphers=DHE_CIPHERS, ec_groups_only=True,
                            client_cert=cert))
    attempts.append(Attempt("dhe:seclevel0", max_version=Protocol.TLSv1_2, ciphers=f"{DHE_CIPHERS}:{LEGACY}",
                            ec_groups_only=True, client_cert=cert))
    # ALPN: http/1.1 alone (what most HTTP/1 clients offer), then h2 first (what an HTTP/2 client offers)
    attempts.append(Attempt("alpn:http/1.1", alpn=("http/1.1",), client_cert=cert))
    attempts.append(Attempt("alpn:h2", alpn=("h2", "http/1.1"), client_cert=cert))
    return tuple(attempts)


def _context(client: Client, attempt: Attempt, errors: list[tuple[int, int, str]]) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    if attempt.min_version:
        ctx.set_min_proto_version(_VERSIONS[attempt.min_version])
    if attempt.max_version:
        ctx.set_max_proto_version(_VERSIONS[attempt.max_version])
    if attempt.ciphers:
        ctx.set_cipher_list(attempt.ciphers.encode())
    if attempt.verify:  # only the as-configured verdict is read; loading a system store costs ~30 ms
        if client.ca_file:
            ctx.load_verify_locations(str(client.ca_file))
        else:
            ctx.set_default_verify_paths()
            default = ssl.get_default_verify_paths().openssl_cafile
            if default and Path(default).is_file():
                ctx.load_verify_locations(default)

    def verify(conn: SSL.Connection, cert: object, errnum: int, depth: int, ok: int) -> bool:
        if not ok:
            errors.append((errnum, depth, X509_VERIFY_ERRORS.get(errnum, f"X509 error {errnum}")))
        return True  # see everything; the verdict is in `errors`

    ctx.set_verify(SSL.VERIFY_PEER, verify)
    if client.clock_offset_days:
        store = ctx.get_cert_store()
        assert store is not None
        store.set_time(client.clock())
    ctx.set_options(SSL.OP_NO_TICKET)
    if attempt.alpn:
        ctx.set_alpn_protos([p.encode() for p in attempt.alpn])
    if attempt.ec_groups_only:
        ctx.set_tmp_ecdh(ec.SECP256R1())  # on a client: supported_groups = P-256 alone
    if attempt.client_cert and client.client_cert and client.client_key:
        ctx.use_certificate_chain_file(str(client.client_cert))
        ctx.use_privatekey_file(str(client.client_key))
    return ctx


def run_attempt(client: Client, attempt: Attempt) -> Result:
    """One handshake (and GET, when asked); never raises for anything the server does."""
    started = time.monotonic()
    deadline = started + client.timeout
    errors: list[tuple[int, int, str]] = []
    staples: list[bytes] = []
    try:
        ctx = _context(client, attempt, errors)
    except SSL.Error as exc:  # e.g. this OpenSSL build has no such suite
        return Result(attempt, False, f"client configuration refused by OpenSSL: {exc}", None,
                      elapsed=time.monotonic() - started)
    if attempt.raw_hello:
        return _raw_hello(client, attempt, ctx, started, deadline)
    if attempt.request_staple:
        def on_staple(conn: SSL.Connection, staple: bytes, data: object) -> bool:
            staples.append(staple or b"")
            return True
        ctx.set_ocsp_client_callback(on_staple)
    try:
        sock = socket.create_connection((client.host, client.port), timeout=client.timeout)
    except OSError as exc:
        return Result(attempt, False, f"{type(exc).__name__}: {exc}", normalise(str(exc)), refused=True,
                      elapsed=time.monotonic() - started)
    with sock:
        sock.setblocking(False)
        conn = SSL.Connection(ctx, sock)
        if attempt.request_staple:
            conn.request_ocsp()
        if attempt.sni and client.servername:
            conn.set_tlsext_host_name(client.servername.encode("idna"))
        conn.set_connect_state()
        completed, raw, status, line = False, "", None, ""
        ending, by_close = "", False
        try:
            pump(conn, sock, conn.do_handshake, deadline)
            if attempt.http:
                request = http_request(client.servername or client.host)
                pump(conn, sock, lambda: conn.sendall(request), deadline)
                response, ending = _read_response(conn, sock, deadline)
                status = parse_status(response)
                line = response.split(b"\r\n", 1)[0].decode("latin-1")
                if status is None:
                    raise ConnectionError("connection closed without an HTTP response" if not response
                                          else f"not an HTTP response: {line[:60]}")
                by_close = _delimited_by_close(response)
            completed = True
        except (SSL.Error, OSError, ConnectionError) as exc:
            raw = _raw(exc)
        chain = tuple(conn.get_peer_cert_chain(as_cryptography=True) or ())
        ca_names = tuple(_client_ca_list(conn))
        return Result(
            attempt, completed, raw, None if completed else normalise(raw),
            protocol=conn.get_protocol_version_name() if completed else None,
            cipher=conn.get_cipher_name() if completed else None, chain=chain,
            verify_errors=tuple(errors), staple=staples[0] if staples else (None if not attempt.request_staple
                                                                              or not completed else b""),
            client_ca_names=ca_names, http_status=status, http_line=line,
            alpn=_selected_alpn(conn) if completed and attempt.alpn else None, ending=ending, delimited_by_close=by_close, elapsed=time.monotonic() - started,
        )


def _selected_alpn(conn: SSL.Connection) -> str | None:
    return conn.get_alpn_proto_negotiated().decode("latin-1") or None


_GRACE = 0.5  # seconds to wait for the close after a complete, length-delimited response


def _read_response(conn: SSL.Connection, sock: socket.socket, deadline: float) -> tuple[bytes, str]:
    """The response and how the exchange ended (we sent ``Connection: close``, so the server closes).

    A response delimited by its length is complete once that many bytes are in; the close is then
    awaited only briefly. One delimited by the close is read to the close: that is where a missing
    close_notify matters (a truncated body cannot be told from a complete one).
    """
    response = b""
    while len(response) < MAX_RESPONSE:
        if _complete(response):
            deadline = min(deadline, time.monotonic() + _GRACE)
        try:
            chunk = pump(conn, sock, lambda: conn.recv(16384), deadline)
        except SSL.ZeroReturnError:
            return response, "close_notify"
        except SSL.SysCallError as exc:
            if exc.args and exc.args[0] == -1:  # (-1, 'Unexpected EOF'): the TCP close came first
                return response, "eof"
            if response and exc.args and exc.args[0] in (errno.ECONNRESET, errno.EPIPE):
                return response, "reset"
            raise
        except SSL.Error as exc:
            if response and "unexpected eof" in _raw(exc).lower():
                return response, "eof"
            raise
        except TimeoutError:
            if response:
                return response, "open"
            raise
        except ConnectionResetError:
            if response:
                return response, "reset"
            raise
        if not chunk:
            return response, "eof"
        response += chunk
    return response, "open"


def _headers(response: bytes) -> dict[str, str] | None:
    head, sep, _ = response.partition(b"\r\n\r\n")
    if not sep:
        return None
    fields = {}
    for raw_line in head.split(b"\r\n")[1:]:
        name, _, value = raw_line.decode("latin-1").partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields


def _complete(response: bytes) -> bool:
    """The response is whole by its own framing (Content-Length, or the last chunk)."""
    fields = _headers(response)
    if fields is None:
        return False
    body = response.partition(b"\r\n\r\n")[2]
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return body.endswith(b"0\r\n\r\n")
    length = fields.get("content-length", "")
    return length.isdigit() and len(body) >= int(length)


def _delimited_by_close(response: bytes) -> bool:
    fields = _headers(response)
    if fields is None:
        return True
    return "chunked" not in fields.get("transfer-encoding", "").lower() and "content-length" not in fields


def _raw_hello(client: Client, attempt: Attempt, ctx: SSL.Context, started: float, deadline: float) -> Result:
    """The Client Hello this OpenSSL makes, sent over a plain socket: the reply's first bytes, whatever they are.

    A TLS server answers with a handshake (0x16) or alert (0x15) record; a plain-HTTP port with
    an HTTP error page; another service with its own greeting.
    """
    conn = SSL.Connection(ctx, None)  # memory BIOs: the hello's bytes, not a connection
    if client.servername:
        conn.set_tlsext_host_name(client.servername.encode("idna"))
    conn.set_connect_state()
    try:
        conn.do_handshake()
    except SSL.WantReadError:
        pass
    hello = conn.bio_read(65536)
    try:
        sock = socket.create_connection((client.host, client.port), timeout=client.timeout)
    except OSError as exc:
        return Result(attempt, False, f"{type(exc).__name__}: {exc}", normalise(str(exc)), refused=True,
                      elapsed=time.monotonic() - started)
    head, raw = b"", ""
    with sock:
        try:
            sock.sendall(hello)
            while len(head) < 256:
                if len(head) >= 5 and head[0] in (0x15, 0x16):
                    break  # a TLS record: enough said
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(256 - len(head))
                if not chunk:
                    break
                head += chunk
        except OSError as exc:
            raw = f"{type(exc).__name__}: {exc}"
    return Result(attempt, False, raw, None, reply_head=head, elapsed=time.monotonic() - started)


def _raw(exc: BaseException) -> str:
    """OpenSSL's reason strings as a client prints them ("tlsv1 alert unknown ca"), else the exception."""
    if isinstance(exc, SSL.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        reasons = [str(e[-1]) for e in exc.args[0] if isinstance(e, tuple) and e]
        if reasons:
            return "SSL error: " + "; ".join(reasons)
    return f"{type(exc).__name__}: {exc}"


def _client_ca_list(conn: SSL.Connection) -> list[str]:
    """The CA names of the server's CertificateRequest (empty: none asked, or none named)."""
    try:
        names = conn.get_client_ca_list()
    except SSL.Error:
        return []
    return [",".join(f"{k.decode()}={v.decode('utf-8', 'replace')}" for k, v in reversed(n.get_components()))
            for n in names]


@dataclass(frozen=True)
class Run:
    """Every attempt's result, in battery order."""

    client: Client
    results: tuple[Result, ...] = field(default=())
    elapsed: float = 0.0

    def get(self, name: str) -> Result | None:
        return next((r for r in self.results if r.attempt.name == name), None)


def run_battery(client: Client) -> Run:
    """All attempts at once, a thread each (each mostly waits on its socket): one timeout bounds the run."""
    started = time.monotonic()
    attempts = battery(client)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(attempts), thread_name_prefix="diagnose") as pool:
        results = tuple(pool.map(lambda a: run_attempt(client, a), attempts))
    return Run(client, results, time.monotonic() - started)
