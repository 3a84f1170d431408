"""What every probe shares: the target, the files a client needs, the outcome, the protocol."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from lab.pki import EMPTY_BUNDLE, Pki
from lab.specs import ClientSpec, RevocationMode, ServerSpec
from lab.symptoms import LAB_ERROR, Kind, Symptom, http_symptom, lab_message, normalise

MAX_RESPONSE = 64 * 1024


@dataclass(frozen=True)
class Target:
    """Where a client connects, and the name it should send (SNI) and verify."""

    host: str
    port: int
    servername: str


@dataclass(frozen=True)
class ClientFiles:
    """The PEM files a client spec resolves to (CLI tools need paths, not objects)."""

    ca_file: Path
    cert_file: Path | None = None  # client certificate + its chain
    key_file: Path | None = None

    @classmethod
    def for_spec(cls, spec: ClientSpec, pki: Pki) -> "ClientFiles":
        if spec.certificate:
            return cls(pki.trust_path(spec.trust), pki.fullchain_path(spec.certificate),
                       pki.key_path(spec.certificate, spec.key))
        return cls(pki.trust_path(spec.trust))

    @property
    def trusts_nothing(self) -> bool:
        """The trust store is empty (``trust = ""``): a client with no CA bundle at all. Known by the
        bundle's name, so a command can be rendered for a copy that does not exist here (compose export)."""
        return self.ca_file.name == EMPTY_BUNDLE


CLIENT = "client"  # the client tool itself failed or succeeded; the lab only normalised its words
LAB = "lab"  # the lab decided: its own check, or its reading of what a tool printed while itself succeeding


@dataclass(frozen=True)
class Outcome:
    """What one client saw: a normalised symptom and the raw words it used, and who judged it."""

    client: str
    symptom: Symptom
    raw: str
    http_status: int | None = None
    protocol: str | None = None  # negotiated version, when the handshake completed
    cipher: str | None = None
    elapsed: float = 0.0
    upstream: Symptom | None = None  # southbound: what the gateway's own TLS client saw
    upstream_raw: str | None = None
    judged_by: str = CLIENT  # CLIENT or LAB
    # How, when it is not the probe's own TLS stack saying so: a command probe is judged by its exit
    # status, and its symptom read from its words by the lab (lab.probes.command).
    judged_how: str | None = None

    @property
    def ok(self) -> bool:
        return self.symptom.ok


def http_request(servername: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: {servername}\r\nUser-Agent: tlslab\r\nConnection: close\r\n\r\n".encode()


def parse_status(response: bytes) -> int | None:
    line = response.split(b"\r\n", 1)[0].split()
    if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
        return int(line[1])
    return None


def outcome_from_response(client: str, response: bytes, started: float, *, protocol: str | None = None,
                          cipher: str | None = None, judged_by: str = CLIENT) -> Outcome:
    """A completed TLS exchange: the HTTP status decides (200 is success)."""
    elapsed = time.monotonic() - started
    status = parse_status(response)
    if status is None:
        raw = "connection closed without an HTTP response" if not response else (
            "not an HTTP response: " + response[:60].decode("latin-1"))
        symptom = Symptom(Kind.CLOSED) if not response else Symptom(Kind.ERROR, "not-http")
        return Outcome(client, symptom, raw, protocol=protocol, cipher=cipher, elapsed=elapsed, judged_by=judged_by)
    first_line = response.split(b"\r\n", 1)[0].decode("latin-1")
    return Outcome(client, http_symptom(status), first_line, http_status=status, protocol=protocol,
                   cipher=cipher, elapsed=elapsed, judged_by=judged_by)


def plain_http_exchange(client: str, target: Target, spec: ClientSpec) -> Outcome:
    """``http://`` instead of ``https://``: one HTTP/1.1 request over plain TCP, what the server answers."""
    import socket

    started = time.monotonic()
    try:
        with socket.create_connection((target.host, target.port), timeout=spec.timeout) as sock:
            sock.sendall(http_request(target.servername))
            response = b""
            while len(response) < MAX_RESPONSE:
                chunk = sock.recv(16384)
                if not chunk:
                    break
                response += chunk
    except OSError as exc:
        return outcome_from_error(client, f"{type(exc).__name__}: {exc}", started)
    if response and parse_status(response) is None:  # TLS bytes (an alert) back to a plain request
        return Outcome(client, Symptom(Kind.CLOSED), "not an HTTP response: " + response[:16].hex(" "),
                       elapsed=time.monotonic() - started)
    return outcome_from_response(client, response, started)


def outcome_from_error(client: str, raw: str, started: float, *, judged_by: str = CLIENT) -> Outcome:
    return Outcome(client, normalise(raw), raw.strip(), elapsed=time.monotonic() - started, judged_by=judged_by)


def setup_failed(client: str, exc: BaseException, started: float) -> Outcome:
    """The lab could not build this client (its files, its key): the lab's failure, never a symptom."""
    raw = lab_message(f"{client} set-up failed (the lab's material, not the server): {type(exc).__name__}: {exc}")
    return Outcome(client, LAB_ERROR, raw, elapsed=time.monotonic() - started, judged_by=LAB)


def which(tool: str) -> str | None:
    return shutil.which(tool, path=os.environ.get("PATH"))


class Probe:
    """A client. ``run`` never raises for a TLS failure: that is the outcome.

    The lifecycle is a no-op by default; probes that keep a process (a JVM, a browser)
    start it in ``__enter__`` and stop it in ``__exit__``. The harness enters every probe
    once per run.

    A probe declares what it can realise of a client spec: the revocation modes it can check
    (:attr:`revocation_modes`) and whether it can run with a skewed clock
    (:meth:`clock_offset_reason`). For anything else :meth:`unsupported_reason` says why, and
    the harness reports the probe "not applicable" for that phase, never as a pass.
    """

    name = "probe"
    description = ""
    revocation_modes: frozenset[RevocationMode] = frozenset({RevocationMode.NONE})
    revocation_note = "it has no API to check OCSP"  # why the other modes are missing
    plain_http = False  # it can also send plain HTTP (ClientSpec.scheme = "http")
    plain_http_note = "this probe has no plain-HTTP mode"
    alpn = False  # it can offer the spec's ALPN list and speak what it negotiates
    alpn_note = "this probe does not set a chosen ALPN list"
    eof_flag = False  # it has SSL_OP_IGNORE_UNEXPECTED_EOF (or its equivalent) to set
    eof_note = "it has no such switch"

    def unavailable_reason(self) -> str | None:
        """Why this probe cannot run on this machine (e.g. a missing tool), or None."""
        return None

    def clock_offset_reason(self) -> str | None:
        """Why this probe cannot run with a clock offset (None: it can)."""
        return "it cannot run with a clock other than the machine's"

    def unsupported_reason(self, spec: ClientSpec) -> str | None:
        """Why this probe cannot realise `spec` (a revocation mode, a skewed clock), or None."""
        if spec.revocation not in self.revocation_modes:
            modes = ", ".join(sorted(m.value for m in self.revocation_modes))
            return (f"{self.name} cannot check revocation as '{spec.revocation.value}': "
                    f"{self.revocation_note} (supports: {modes})")
        if spec.clock_offset_days:
            why = self.clock_offset_reason()
            if why:
                return f"{self.name} cannot skew its clock by {spec.clock_offset_days:+g} days: {why}"
        if spec.scheme == "http" and not self.plain_http:
            return f"{self.name} cannot play a plain-HTTP client: {self.plain_http_note}"
        if spec.alpn and not self.alpn:
            return f"{self.name} cannot offer ALPN {', '.join(spec.alpn)}: {self.alpn_note}"
        if spec.ignore_unexpected_eof and not self.eof_flag:
            return f"{self.name} cannot be told to ignore an EOF without close_notify: {self.eof_note}"
        return None

    def server_unsupported_reason(self, server: ServerSpec) -> str | None:
        """Why this client cannot take part against `server` in any phase (e.g. a browser and a DHE-only
        server: Chromium has no DHE suites), or None. Decided from the spec, before anything runs."""
        return None

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        raise NotImplementedError

    def __enter__(self) -> "Probe":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None


ProbeBase = Probe  # the name probe modules subclass
