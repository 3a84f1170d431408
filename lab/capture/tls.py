"""A minimal TLS dissector: records, the handshake messages that decide a failure, alerts.

It reads what the documents read in Wireshark (ClientHello, ServerHello, Certificate,
CertificateStatus, Alert) and no more: no TLS 1.2 decryption, no session resumption
logic, no extensions beyond server_name, ALPN, status_request and supported_versions.
With a key log (from the file's Decryption Secrets Block or beside it) TLS 1.3's
encrypted handshake is decrypted with the handshake and first application traffic
secrets, so the served chain and an encrypted alert are readable; without one they are
reported as encrypted, never guessed.

Every length is checked: a customer's capture is untrusted input, and a malformed
message ends the dissection of its direction with a note, never an exception.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.x509 import ocsp

from lab.symptoms import ALERT_NAMES

VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
HANDSHAKE_TYPES = {
    0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 5: "EndOfEarlyData",
    8: "EncryptedExtensions", 11: "Certificate", 12: "ServerKeyExchange", 13: "CertificateRequest",
    14: "ServerHelloDone", 15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished",
    22: "CertificateStatus", 24: "KeyUpdate",
}
# The suites clients commonly offer (IANA names, as Wireshark shows them); others print as hex.
SUITES = {
    0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384", 0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256", 0x1305: "TLS_AES_128_CCM_8_SHA256",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA", 0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x5600: "TLS_FALLBACK_SCSV",
}
_HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
_GREASE = {0x0A0A + 0x1010 * i for i in range(16)}


def version_name(v: int) -> str:
    return VERSIONS.get(v, f"0x{v:04x}")


def suite_name(s: int) -> str:
    return SUITES.get(s, f"0x{s:04X}")


class _Short(Exception):
    """A length field points past its message: the message is malformed."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise _Short
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u24(self) -> int:
        return int.from_bytes(self.take(3), "big")

    def vec(self, width: int) -> bytes:
        return self.take(int.from_bytes(self.take(width), "big"))

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class ClientHello:
    legacy_version: int
    random: bytes
    versions: tuple[int, ...]  # supported_versions if present, else (legacy_version,)
    cipher_suites: tuple[int, ...]  # GREASE values dropped
    server_name: str | None
    alpn: tuple[str, ...]
    status_request: bool

    @property
    def highest(self) -> int:
        return max(self.versions) if self.versions else self.legacy_version

    def describe(self) -> str:
        versions = sorted(set(self.versions))
        shown = version_name(versions[-1]) if len(versions) == 1 else (
            f"{version_name(versions[0])}-{version_name(versions[-1]).removeprefix('TLSv')}"
            if versions == list(range(versions[0], versions[-1] + 1)) else "/".join(map(version_name, versions)))
        parts = [f"ClientHello {shown}",
                 f"server_name {self.server_name}" if self.server_name else "no server_name",
                 f"{len(self.cipher_suites)} cipher suites"]
        if self.alpn:
            parts.append("ALPN " + ",".join(self.alpn))
        if self.status_request:
            parts.append("status_request")
        return ", ".join(parts)


@dataclass(frozen=True)
class ServerHello:
    version: int  # the negotiated version (supported_versions when present)
    cipher_suite: int
    alpn: str | None = None
    retry: bool = False  # a HelloRetryRequest

    def describe(self) -> str:
        name = "HelloRetryRequest" if self.retry else "ServerHello"
        return f"{name} {version_name(self.version)}, {suite_name(self.cipher_suite)}" + (
            f", ALPN {self.alpn}" if self.alpn else "")


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    not_before: datetime | None = None
    not_after: datetime | None = None
    dns_names: tuple[str, ...] = ()
    error: str | None = None  # the DER did not parse

    @property
    def self_issued(self) -> bool:
        return self.subject == self.issuer


@dataclass(frozen=True)
class OcspInfo:
    status: str  # "good", "revoked", "unknown", or the response status ("tryLater", "malformed", ...)
    this_update: datetime | None = None
    next_update: datetime | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.error:
            return f"OCSP response unreadable ({self.error})"
        text = f"OCSP {self.status}"
        if self.this_update:
            text += f", this update {self.this_update:%Y-%m-%d %H:%M}"
        if self.next_update:
            text += f", next update {self.next_update:%Y-%m-%d %H:%M}"
        return text


@dataclass(frozen=True)
class Alert:
    from_client: bool
    level: str  # "fatal", "warning", or "encrypted" when it could not be read
    description: str  # RFC 8446 name, e.g. handshake_failure; "" when encrypted
    decrypted: bool = False

    @property
    def fatal(self) -> bool:
        return self.level == "fatal" or (self.level == "warning" and self.description != "close_notify"
                                         and self.description != "user_canceled")


@dataclass(frozen=True)
class Message:
    """One line of the ladder: a handshake message, an alert, a change-cipher-spec or application data."""

    number: int
    frame: int  # the capture's frame number that carried its first byte
    time: float
    from_client: bool
    kind: str  # ClientHello, ServerHello, Certificate, CertificateStatus, Alert, ChangeCipherSpec, ApplicationData, ...
    text: str
    detail: tuple[str, ...] = ()  # indented lines under it (the chain, the OCSP status)
    encrypted: bool = False  # it travelled encrypted (shown as such, or decrypted with the key log)


@dataclass
class _State:
    """Dissection state for one connection: what each direction has said so far."""

    messages: list[Message] = field(default_factory=list)
    client_hello: ClientHello | None = None
    server_hello: ServerHello | None = None
    certificates: tuple[CertInfo, ...] = ()
    ocsp: OcspInfo | None = None
    alerts: list[Alert] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ccs: dict[bool, bool] = field(default_factory=lambda: {True: False, False: False})
    finished: dict[bool, bool] = field(default_factory=lambda: {True: False, False: False})
    app_records: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    encrypted_records: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    decrypted: bool = False
    not_tls: bool = False
    close_notify: dict[bool, int] = field(default_factory=dict)  # side -> frame of its first close_notify
    protected_sizes: dict[bool, list[int]] = field(default_factory=lambda: {True: [], False: []})  # unread records


# ---------------------------------------------------------------------------- parsing
def parse_client_hello(body: bytes) -> ClientHello:
    r = _Reader(body)
    legacy = r.u16()
    random = r.take(32)
    r.vec(1)  # session id
    suites_raw = r.vec(2)
    suites = tuple(s for (s,) in struct.iter_unpack("!H", suites_raw[:len(suites_raw) // 2 * 2]) if s not in _GREASE)
    r.vec(1)  # compression
    server_name: str | None = None
    alpn: tuple[str, ...] = ()
    versions: tuple[int, ...] = ()
    status = False
    if r.left >= 2:
        for ext, data in _extensions(r.vec(2)):
            e = _Reader(data)
            if ext == 0 and data:
                names = _Reader(e.vec(2))
                while names.left:
                    kind, name = names.u8(), names.vec(2)
                    if kind == 0:
                        server_name = name.decode("ascii", "replace")
            elif ext == 16 and data:
                protos = _Reader(e.vec(2))
                alpn_list = []
                while protos.left:
                    alpn_list.append(protos.vec(1).decode("ascii", "replace"))
                alpn = tuple(alpn_list)
            elif ext == 5:
                status = True
            elif ext == 43 and data:
                raw = e.vec(1)
                versions = tuple(v for (v,) in struct.iter_unpack("!H", raw[:len(raw) // 2 * 2]) if v not in _GREASE)
    return ClientHello(legacy, random, versions or (legacy,), suites, server_name, alpn, status)


def parse_server_hello(body: bytes) -> ServerHello:
    r = _Reader(body)
    version = r.u16()
    random = r.take(32)
    r.vec(1)
    suite = r.u16()
    r.u8()
    alpn = None
    if r.left >= 2:
        for ext, data in _extensions(r.vec(2)):
            if ext == 43 and len(data) >= 2:
                version = int.from_bytes(data[:2], "big")
            elif ext == 16 and data:
                e = _Reader(_Reader(data).vec(2))
                alpn = e.vec(1).decode("ascii", "replace")
    return ServerHello(version, suite, alpn, random == _HRR_RANDOM)


def _extensions(data: bytes) -> list[tuple[int, bytes]]:
    r, out = _Reader(data), []
    while r.left >= 4:
        ext = r.u16()
        out.append((ext, r.vec(2)))
    return out


def cert_info(der: bytes) -> CertInfo:
    try:
        cert = x509.load_der_x509_certificate(der)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = tuple(san.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            names = ()
        return CertInfo(cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(),
                        cert.not_valid_before_utc, cert.not_valid_after_utc, names)
    except Exception as exc:  # noqa: BLE001 - any malformed DER is reported, never raised
        return CertInfo("(unreadable)", "(unreadable)", error=type(exc).__name__)


def parse_certificates(body: bytes, tls13: bool) -> tuple[tuple[CertInfo, ...], bytes | None]:
    """The chain in a Certificate message, and (TLS 1.3) the OCSP response stapled to the leaf."""
    r = _Reader(body)
    if tls13:
        r.vec(1)  # certificate_request_context
    chain = _Reader(r.vec(3))
    certs: list[CertInfo] = []
    staple = None
    while chain.left:
        certs.append(cert_info(chain.vec(3)))
        if tls13:
            for ext, data in _extensions(chain.vec(2)):
                if ext == 5 and len(certs) == 1 and data[:1] == b"\x01":
                    staple = _Reader(data[1:]).vec(3)
    return tuple(certs), staple


def ocsp_info(der: bytes) -> OcspInfo:
    try:
        resp = ocsp.load_der_ocsp_response(der)
        if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return OcspInfo(resp.response_status.name.lower())
        return OcspInfo(resp.certificate_status.name.lower(), resp.this_update_utc, resp.next_update_utc)
    except Exception as exc:  # noqa: BLE001
        return OcspInfo("malformed", error=type(exc).__name__)


# ---------------------------------------------------------------------------- TLS 1.3 keys
_AEADS: dict[int, tuple[Any, int, Callable[[], hashes.HashAlgorithm]]] = {
    0x1301: (AESGCM, 16, hashes.SHA256), 0x1302: (AESGCM, 32, hashes.SHA384),
    0x1303: (ChaCha20Poly1305, 32, hashes.SHA256), 0x1304: (AESCCM, 16, hashes.SHA256)}


def _expand_label(secret: bytes, label: bytes, length: int, hash_: Callable[[], hashes.HashAlgorithm]) -> bytes:
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + b"\0"
    return HKDFExpand(hash_(), length, info).derive(secret)


class _Decrypter:
    """One direction's TLS 1.3 record protection: handshake keys, then application keys."""

    def __init__(self, suite: int, secrets: list[bytes]) -> None:
        aead, keylen, hash_ = _AEADS[suite]
        self.keys = [(aead(_expand_label(s, b"key", keylen, hash_)), _expand_label(s, b"iv", 12, hash_))
                     for s in secrets]
        self.index, self.seq = 0, 0

    def open(self, header: bytes, fragment: bytes) -> tuple[int, bytes] | None:
        for index in range(self.index, len(self.keys)):
            seq = self.seq if index == self.index else 0
            cipher, iv = self.keys[index]
            nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big")))
            try:
                plain = cipher.decrypt(nonce, fragment, header)
            except Exception:  # noqa: BLE001 - wrong key (the next secret applies) or not ours
                continue
            self.index, self.seq = index, seq + 1
            inner = plain.rstrip(b"\0")
            return (inner[-1], inner[:-1]) if inner else None
        return None


def parse_keylog(lines: list[bytes]) -> dict[bytes, dict[str, bytes]]:
    """NSS key log lines -> client_random -> label -> secret."""
    out: dict[bytes, dict[str, bytes]] = {}
    for line in lines:
        parts = line.strip().split()
        if len(parts) != 3 or parts[0].startswith(b"#"):
            continue
        try:
            out.setdefault(bytes.fromhex(parts[1].decode()), {})[parts[0].decode()] = bytes.fromhex(parts[2].decode())
        except ValueError:
            continue
    return out


# ---------------------------------------------------------------------------- the connection
@dataclass(frozen=True)
class Record:
    from_client: bool
    frame: int
    time: float
    content_type: int
    header: bytes
    fragment: bytes


def records(data: bytes, from_client: bool, locate: object) -> tuple[list[Record], bool]:
    """The TLS records in one direction's bytes; False when the bytes are not TLS at all."""
    out: list[Record] = []
    pos = 0
    while pos + 5 <= len(data):
        ctype, major, length = data[pos], data[pos + 1], int.from_bytes(data[pos + 3:pos + 5], "big")
        if ctype not in (20, 21, 22, 23, 24) or major != 3 or length > 18432:
            return out, bool(out)
        if pos + 5 + length > len(data):
            break  # the rest was not captured
        packet = locate(pos)  # type: ignore[operator]
        out.append(Record(from_client, packet.number if packet else 0, packet.time if packet else 0.0,
                          ctype, data[pos:pos + 5], data[pos + 5:pos + 5 + length]))
        pos += 5 + length
    return out, True


class Dissector:
    """Walks one connection's records in capture order and builds the ladder."""

    def __init__(self, keylog: dict[bytes, dict[str, bytes]], capture_time: float) -> None:
        self.keylog = keylog
        self.capture_time = capture_time
        self.s = _State()
        self.buffers: dict[bool, bytes] = {True: b"", False: b""}
        self.decrypters: dict[bool, _Decrypter] = {}
        self.tls13 = False

    def feed(self, rec: Record) -> None:
        s, side = self.s, rec.from_client
        if rec.content_type == 20:
            s.ccs[side] = True
            self._add(rec, "ChangeCipherSpec", "ChangeCipherSpec")
        elif rec.content_type == 21:
            if s.ccs[side] and not self.tls13:
                s.alerts.append(Alert(side, "encrypted", ""))
                self._add(rec, "Alert", "Alert (encrypted)", encrypted=True)
            else:
                self._alert(rec, rec.fragment, decrypted=False)
        elif rec.content_type == 22:
            if s.ccs[side] and not self.tls13:
                s.finished[side] = True
                self._add(rec, "Finished", "Finished (encrypted handshake message)", encrypted=True)
            else:
                self._handshake(rec, rec.fragment, encrypted=False)
        elif rec.content_type == 23:
            self._protected(rec)

    def _protected(self, rec: Record) -> None:
        s, side = self.s, rec.from_client
        dec = self.decrypters.get(side)
        opened = dec.open(rec.header, rec.fragment) if dec else None
        if opened is None:
            s.protected_sizes[side].append(len(rec.fragment))
            if self.tls13 and not (s.finished[side] or s.app_records[side]):
                s.encrypted_records[side] += 1
            s.app_records[side] += 1
            self._add(rec, "ApplicationData", "Application Data" if not self.tls13 or dec or not s.encrypted_records[side]
                      else "Application Data (encrypted; no key log for this connection)", encrypted=True)
            return
        s.decrypted = True
        inner, payload = opened
        if inner == 22:
            self._handshake(rec, payload, encrypted=True)
        elif inner == 21:
            self._alert(rec, payload, decrypted=True)
        else:
            s.app_records[side] += 1
            self._add(rec, "ApplicationData", "Application Data", encrypted=True)

    def _alert(self, rec: Record, body: bytes, decrypted: bool) -> None:
        if len(body) < 2:
            self.s.notes.append(f"frame {rec.frame}: a malformed alert")
            return
        level = {1: "warning", 2: "fatal"}.get(body[0], f"level {body[0]}")
        desc = ALERT_NAMES.get(body[1], f"alert {body[1]}")
        self.s.alerts.append(Alert(rec.from_client, level, desc, decrypted))
        if desc == "close_notify":
            self.s.close_notify.setdefault(rec.from_client, rec.frame)
        self._add(rec, "Alert", f"Alert {level} {desc}" + (" (decrypted)" if decrypted else ""), encrypted=decrypted)

    def _handshake(self, rec: Record, data: bytes, encrypted: bool) -> None:
        side = rec.from_client
        buf = self.buffers[side] + data
        while len(buf) >= 4:
            length = int.from_bytes(buf[1:4], "big")
            if len(buf) < 4 + length:
                break
            self._message(rec, buf[0], buf[4:4 + length], encrypted)
            buf = buf[4 + length:]
        self.buffers[side] = buf

    def _message(self, rec: Record, kind: int, body: bytes, encrypted: bool) -> None:
        s, name = self.s, HANDSHAKE_TYPES.get(kind, f"handshake type {kind}")
        suffix = " (decrypted)" if encrypted else ""
        try:
            if kind == 1:
                s.client_hello = parse_client_hello(body)
                self._add(rec, name, s.client_hello.describe())
            elif kind == 2:
                s.server_hello = parse_server_hello(body)
                self.tls13 = s.server_hello.version == 0x0304
                if self.tls13 and not s.server_hello.retry:
                    self._keys(s.server_hello.cipher_suite)
                self._add(rec, name, s.server_hello.describe())
            elif kind == 11:
                certs, staple = parse_certificates(body, self.tls13)
                if rec.from_client:
                    self._add(rec, name, f"Certificate (client), {len(certs)} certificate{'s' * (len(certs) != 1)}"
                              + suffix, self._chain_lines(certs), encrypted)
                    return
                s.certificates = certs
                lines = self._chain_lines(certs)
                if staple is not None:
                    s.ocsp = ocsp_info(staple)
                    lines += ("stapled " + s.ocsp.describe(),)
                self._add(rec, name, f"Certificate, {len(certs)} certificate{'s' * (len(certs) != 1)}" + suffix,
                          lines, encrypted)
            elif kind == 22:
                r = _Reader(body)
                r.u8()
                s.ocsp = ocsp_info(r.vec(3))
                self._add(rec, name, "CertificateStatus" + suffix, (s.ocsp.describe(),), encrypted)
            else:
                if kind == 20:
                    s.finished[rec.from_client] = True
                self._add(rec, name, name + suffix, encrypted=encrypted)
        except _Short:
            s.notes.append(f"frame {rec.frame}: a malformed {name}")
            self._add(rec, name, f"{name} (malformed)", encrypted=encrypted)

    def _keys(self, suite: int) -> None:
        hello = self.s.client_hello
        secrets = self.keylog.get(hello.random) if hello else None
        if not secrets or suite not in _AEADS:
            return
        for side, labels in ((True, ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0")),
                             (False, ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"))):
            found = [secrets[label] for label in labels if label in secrets]
            if found:
                self.decrypters[side] = _Decrypter(suite, found)

    def _chain_lines(self, certs: tuple[CertInfo, ...]) -> tuple[str, ...]:
        when = datetime.fromtimestamp(self.capture_time, timezone.utc) if self.capture_time else None
        lines = []
        for i, c in enumerate(certs):
            if c.error:
                lines.append(f"[{i}] unreadable certificate ({c.error})")
                continue
            validity = ""
            if when and c.not_after and c.not_after < when:
                validity = f"  EXPIRED {c.not_after:%Y-%m-%d}"
            elif when and c.not_before and c.not_before > when:
                validity = f"  NOT YET VALID (from {c.not_before:%Y-%m-%d})"
            lines.append(f"[{i}] subject {c.subject}")
            lines.append(f"    issuer  {c.issuer}{validity}")
        return tuple(lines)

    def _add(self, rec: Record, kind: str, text: str, detail: tuple[str, ...] = (), encrypted: bool = False) -> None:
        msgs = self.s.messages
        last = msgs[-1] if msgs else None
        if kind == "ApplicationData" and last and last.kind == kind and last.from_client == rec.from_client \
                and last.text.startswith(text.split(" (")[0]):
            count = int(last.detail[0].split()[0]) + 1 if last.detail else 2
            msgs[-1] = Message(last.number, last.frame, last.time, last.from_client, kind, last.text,
                               (f"{count} records",), True)
            return
        msgs.append(Message(len(msgs) + 1, rec.frame, rec.time, rec.from_client, kind, text, detail, encrypted))
