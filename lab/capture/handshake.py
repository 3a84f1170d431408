"""One TLS connection in a capture: what each side offered and answered, and how it ended.

:func:`read_capture` turns a pcap/pcapng file into :class:`Handshake` records;
:func:`symptoms` says what the *client* of a failed handshake saw, in the lab's vocabulary
(:mod:`lab.symptoms`), so ``explain`` can name candidate scenarios from a capture the
same way it does from an error message.

Who judged what matters here: a fatal alert the server sent is what the client saw
(``alert:<name>``); a fatal alert the client sent is the client's own verdict on the
server (``certificate_expired`` -> ``verify:expired``). Without any alert the symptom is
inferred from the TCP ending and the served chain, and :attr:`Handshake.evidence` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lab.capture.pcapfile import Stream, read_packets, tcp_streams
from lab.capture.tls import (Alert, CertInfo, ClientHello, Dissector, Message, OcspInfo, ServerHello, parse_keylog,
                             records)
from lab.errors import UserInputError
from lab.symptoms import UNCLASSIFIED, Kind, Symptom


@dataclass(frozen=True)
class Handshake:
    """One TCP connection that carried (or tried to carry) a TLS handshake."""

    client: tuple[str, int]
    server: tuple[str, int]
    time: float  # the first packet's timestamp (seconds since the epoch)
    messages: tuple[Message, ...]
    client_hello: ClientHello | None
    server_hello: ServerHello | None
    certificates: tuple[CertInfo, ...]  # the chain the server sent, leaf first
    ocsp: OcspInfo | None  # the stapled OCSP response (CertificateStatus, or TLS 1.3's leaf extension)
    alerts: tuple[Alert, ...]
    completed: bool  # both sides finished the handshake and the client sent data
    answered: bool  # the server sent application data back
    ended_by: str  # "client fin", "server rst", "open" (capture ended first), ...
    refused: bool = False  # the server answered the SYN with a reset
    decrypted: bool = False  # TLS 1.3 records were decrypted with a key log
    encrypted_unread: bool = False  # TLS 1.3 records we could not read (no key log)
    notes: tuple[str, ...] = ()
    # TLS 1.3 without a key log: the client's only protected record was alert-sized (an encrypted
    # alert is 2 bytes + type + 16-byte tag = 19; its Finished is at least 49).
    client_alert_sized: bool = False

    @property
    def failed(self) -> bool:
        if self.refused:
            return True
        if self.client_hello is None:
            return False  # not a TLS connection we can judge
        if any(a.fatal for a in self.alerts) or not self.completed:
            return True
        # Completed but no answer: a failure if the connection ended so; a capture cut short is no verdict.
        return not self.answered and self.ended_by != "open"

    @property
    def fatal_alert(self) -> Alert | None:
        return next((a for a in self.alerts if a.fatal), None)

    @property
    def evidence(self) -> str:
        """Whose word a symptom rests on, in one phrase."""
        alert = self.fatal_alert
        if alert and alert.description:
            return f"the {'client' if alert.from_client else 'server'} sent a fatal {alert.description} alert"
        if self.refused:
            return "the server refused the TCP connection"
        if self.client_alert_sized:
            return ("inferred: TLS 1.3 without a key log; the client answered the server's encrypted flight "
                    "with one alert-sized record (give --keylog to read it)")
        if self.encrypted_unread:
            return f"TLS 1.3 without a key log: the chain and any alert are unreadable ({self.ended_by})"
        return f"no readable alert; inferred from how the connection ended ({self.ended_by})"


# Fatal alerts a *client* sends: its verdict on what the server sent.
CLIENT_ALERTS: dict[str, Symptom] = {
    "certificate_expired": Symptom(Kind.VERIFY, "expired"),
    "unknown_ca": Symptom(Kind.VERIFY, "unknown-issuer"),
    "bad_certificate": Symptom(Kind.VERIFY, "failed"),
    "certificate_unknown": Symptom(Kind.VERIFY, "failed"),
    "unsupported_certificate": Symptom(Kind.VERIFY, "failed"),
    "certificate_revoked": Symptom(Kind.REVOCATION, "revoked"),
    "protocol_version": Symptom(Kind.NEGOTIATION, "protocol-version"),
    "handshake_failure": Symptom(Kind.NEGOTIATION, "no-ciphers"),
    "insufficient_security": Symptom(Kind.NEGOTIATION, "no-ciphers"),
}


def symptoms(h: Handshake) -> tuple[Symptom, ...]:
    """What the client of a failed handshake saw, most likely first; () for a handshake that worked."""
    if not h.failed:
        return ()
    if h.refused:
        return (Symptom(Kind.REFUSED),)
    alert = h.fatal_alert
    if alert and alert.description and not alert.from_client:
        return (Symptom(Kind.ALERT, alert.description),)
    if alert and alert.description:
        if alert.description == "bad_certificate_status_response":
            return _ocsp_symptoms(h) or (Symptom(Kind.REVOCATION, "malformed"),)
        base = CLIENT_ALERTS.get(alert.description)
        if base is None:
            return (UNCLASSIFIED,)
        if base == Symptom(Kind.VERIFY, "failed"):
            refined = _chain_symptoms(h)
            return (*refined, base) if refined else (base,)
        return (base,)
    if h.server_hello is None:
        if h.ended_by.startswith("server"):
            return (Symptom(Kind.CLOSED),)
        return (Symptom(Kind.TIMEOUT),) if h.ended_by.startswith("client") or h.ended_by == "open" else (
            Symptom(Kind.CLOSED),)
    if h.client_alert_sized:
        return (Symptom(Kind.VERIFY, "failed"),)
    if h.ended_by.startswith("server"):
        return (Symptom(Kind.CLOSED),)
    if h.encrypted_unread:
        return (UNCLASSIFIED,)  # neither the chain nor the staple is readable: nothing to infer from
    # The client walked away after the server's hello without an alert: its own check failed.
    inferred = _ocsp_symptoms(h) + _chain_symptoms(h)
    return inferred or (Symptom(Kind.CLOSED),)


def _ocsp_symptoms(h: Handshake) -> tuple[Symptom, ...]:
    if not (h.client_hello and h.client_hello.status_request):
        return ()
    if h.ocsp is None:
        return (Symptom(Kind.REVOCATION, "no-staple"),)
    status = h.ocsp.status
    if status in ("revoked", "unknown"):
        return (Symptom(Kind.REVOCATION, status),)
    when = datetime.fromtimestamp(h.time, timezone.utc) if h.time else None
    if when is not None:  # (an unknown capture clock allows no time-based judgement)
        if h.ocsp.next_update and h.ocsp.next_update < when:
            return (Symptom(Kind.REVOCATION, "expired-response"),)
        if h.ocsp.this_update and h.ocsp.this_update > when:
            return (Symptom(Kind.REVOCATION, "not-yet-valid-response"),)
    if status not in ("good",):
        return (Symptom(Kind.REVOCATION, "malformed" if status == "malformed" else "responder-error"),)
    return ()


def _chain_symptoms(h: Handshake) -> tuple[Symptom, ...]:
    """What is visibly wrong with the served chain at capture time (expiry, name, completeness)."""
    if not h.certificates or h.certificates[0].error:
        return ()
    leaf, when = h.certificates[0], datetime.fromtimestamp(h.time, timezone.utc) if h.time else None
    out: list[Symptom] = []
    if when and leaf.not_after and leaf.not_after < when:
        out.append(Symptom(Kind.VERIFY, "expired"))
    if when and leaf.not_before and leaf.not_before > when:
        out.append(Symptom(Kind.VERIFY, "not-yet-valid"))
    name = h.client_hello.server_name if h.client_hello else None
    if name and leaf.dns_names and not any(_matches(p, name) for p in leaf.dns_names):
        out.append(Symptom(Kind.VERIFY, "hostname-mismatch"))
    if leaf.self_issued and len(h.certificates) == 1:
        out.append(Symptom(Kind.VERIFY, "self-signed"))
    elif not any(c.subject == leaf.issuer for c in h.certificates[1:]):
        out.append(Symptom(Kind.VERIFY, "unknown-issuer"))  # the issuer is not served: an incomplete chain
    return tuple(out)


def _matches(pattern: str, name: str) -> bool:
    pattern, name = pattern.lower(), name.lower()
    if pattern.startswith("*."):
        return name.count(".") == pattern.count(".") and name.endswith(pattern[1:])
    return pattern == name


def _ending(stream: Stream, close_notify: dict[bool, int]) -> str:
    """Who ended the connection first, and how: a close_notify, a FIN or a reset."""
    events = [(p.number, who, kind) for who, d in (("client", stream.to_server), ("server", stream.to_client))
              for kind, p in (("fin", d.fin), ("rst", d.rst)) if p is not None]
    events += [(frame, "client" if side else "server", "close_notify") for side, frame in close_notify.items()]
    if not events:
        return "open"
    _, who, kind = min(events)
    return f"{who} {kind}"


def handshake_of(stream: Stream, keylog: dict[bytes, dict[str, bytes]]) -> Handshake | None:
    """The TLS view of one TCP stream; None for a stream that carries no TLS at all."""
    up, up_ok = records(stream.to_server.data, True, stream.to_server.packet_at)
    down, down_ok = records(stream.to_client.data, False, stream.to_client.packet_at)
    refused = stream.syn and not stream.syn_ack and stream.to_client.rst is not None and not up
    if refused:
        return Handshake(stream.client, stream.server, stream.first.time, (), None, None, (), None, (), False,
                         False, "server rst", refused=True)
    if not up and down and down[0].fragment[:1] == b"\x01":
        # The capture started after the SYN and guessed the sides wrong: whoever sent the ClientHello is the client.
        stream.client, stream.server = stream.server, stream.client
        stream.to_server, stream.to_client = stream.to_client, stream.to_server
        return handshake_of(stream, keylog)
    if not up_ok or not up or up[0].content_type != 22:
        return None
    dissector = Dissector(keylog, stream.first.time)
    for rec in sorted(up + down, key=lambda r: (r.frame, not r.from_client)):
        dissector.feed(rec)
    s = dissector.s
    tls13 = dissector.tls13
    if tls13:
        # Without a key log the client's Finished is hidden: its second protected record is its request.
        completed = s.finished[True] or (not s.decrypted and s.app_records[True] >= 2)
    else:
        completed = s.ccs[True] and s.ccs[False]
    answered = s.app_records[False] > (0 if not tls13 or s.decrypted else 1)
    notes = list(s.notes)
    if not down_ok:
        notes.append("the server's bytes are not TLS")
    if stream.to_server.gap or stream.to_client.gap:
        notes.append("bytes missing from the capture (a gap in the TCP stream)")
    unread = tls13 and not s.decrypted and s.server_hello is not None
    sizes = s.protected_sizes[True]
    alert_sized = unread and len(sizes) == 1 and sizes[0] < 40
    if unread:
        notes.append("TLS 1.3 handshake encrypted and no key log for it: chain and late alerts unreadable")
    return Handshake(stream.client, stream.server, stream.first.time, tuple(s.messages), s.client_hello,
                     s.server_hello, s.certificates, s.ocsp, tuple(s.alerts), completed, answered,
                     _ending(stream, s.close_notify),
                     decrypted=s.decrypted, encrypted_unread=unread, notes=tuple(notes),
                     client_alert_sized=alert_sized)


def read_capture(path: str | Path, keylog: str | Path | None = None) -> tuple[Handshake, ...]:
    """Every TLS handshake in a pcap/pcapng file, in capture order.

    Key log lines come from the file's Decryption Secrets Blocks, from `keylog` when given,
    and from ``<capture>.keys`` beside the file when it exists (what ``--capture`` writes).
    """
    path = Path(path)
    capture = read_packets(path)
    lines = list(capture.keylog)
    beside = path.with_suffix(".keys")
    for source in ([Path(keylog)] if keylog else []) + ([beside] if beside.exists() and not keylog else []):
        try:
            lines += source.read_bytes().splitlines()
        except OSError as exc:
            raise UserInputError(f"{source}: cannot read the key log: {exc.strerror}") from None
    keys = parse_keylog(lines)
    out = []
    for stream in tcp_streams(capture.packets):
        h = handshake_of(stream, keys)
        if h is not None:
            out.append(h)
    return tuple(out)


def failed_handshakes(handshakes: tuple[Handshake, ...]) -> tuple[tuple[Handshake, tuple[Symptom, ...]], ...]:
    """Each failed handshake with what its client saw (most likely symptom first)."""
    return tuple((h, symptoms(h)) for h in handshakes if h.failed)
