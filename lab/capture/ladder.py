"""The handshake as the documents draw it: numbered messages, who sent each, what it said.

``#1 C->S ClientHello TLSv1.2, no server_name, 31 cipher suites`` then
``#2 S->C Alert fatal handshake_failure``: the lines a support engineer compares with the
customer's Wireshark view. Lines are plain text that fits 80 columns; the CLI prints them.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from typing import Any

from lab.capture.handshake import Handshake, symptoms
from lab.capture.tls import suite_name, version_name

WIDTH = 80
_INDENT = " " * 9  # under the text: "#12 C->S " is nine columns


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def ladder_lines(h: Handshake, width: int = WIDTH) -> list[str]:
    """One handshake: a heading, each message numbered, then what the client saw."""
    when = datetime.fromtimestamp(h.time, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"{address(*h.client)} -> {address(*h.server)}  {when}"]
    if h.refused:
        lines.append(" #1 S->C TCP reset: connection refused")
    for m in h.messages:
        head = f"{'#' + str(m.number):>3} {'C->S' if m.from_client else 'S->C'} "
        lines += textwrap.wrap(m.text, width, initial_indent=head, subsequent_indent=_INDENT) or [head]
        for d in m.detail:
            lines += textwrap.wrap(d, width, initial_indent=_INDENT + "  ", subsequent_indent=_INDENT + "      ")
    if not h.messages and not h.refused:
        lines.append(_INDENT + "no TLS records")
    lines.append(f"{_INDENT}[connection ended: {h.ended_by}]")
    for note in h.notes:
        lines += textwrap.wrap("note: " + note, width, initial_indent=_INDENT, subsequent_indent=_INDENT + "      ")
    if h.failed:
        seen = " or ".join(map(str, symptoms(h))) or "?"
        lines += textwrap.wrap(f"failed: the client saw {seen} ({h.evidence})", width,
                               initial_indent="=> ", subsequent_indent="   ")
    else:
        lines.append("=> handshake completed" + (", the server answered" if h.answered else ""))
    return lines


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def handshake_json(h: Handshake) -> dict[str, Any]:
    """A handshake for ``--json``: what was offered, what was answered, how it ended, the symptom."""
    ch, sh = h.client_hello, h.server_hello
    return {
        "client": address(*h.client), "server": address(*h.server),
        "time": datetime.fromtimestamp(h.time, timezone.utc).isoformat(),
        "failed": h.failed, "completed": h.completed, "answered": h.answered, "ended_by": h.ended_by,
        "refused": h.refused, "decrypted": h.decrypted,
        "client_hello": None if ch is None else {
            "versions": [version_name(v) for v in ch.versions], "cipher_suites": [suite_name(s) for s in ch.cipher_suites],
            "server_name": ch.server_name, "alpn": list(ch.alpn), "status_request": ch.status_request,
        },
        "server_hello": None if sh is None else {
            "version": version_name(sh.version), "cipher_suite": suite_name(sh.cipher_suite), "alpn": sh.alpn,
            "hello_retry_request": sh.retry,
        },
        "certificates": [{"subject": c.subject, "issuer": c.issuer, "not_before": _dt(c.not_before),
                          "not_after": _dt(c.not_after), "dns_names": list(c.dns_names), "error": c.error}
                         for c in h.certificates],
        "ocsp": None if h.ocsp is None else {"status": h.ocsp.status, "this_update": _dt(h.ocsp.this_update),
                                             "next_update": _dt(h.ocsp.next_update), "error": h.ocsp.error},
        "alerts": [{"from": "client" if a.from_client else "server", "level": a.level,
                    "description": a.description, "decrypted": a.decrypted} for a in h.alerts],
        "symptoms": [str(s) for s in symptoms(h)], "evidence": h.evidence if h.failed else None,
        "messages": [{"number": m.number, "frame": m.frame, "direction": "C->S" if m.from_client else "S->C",
                      "kind": m.kind, "text": m.text, "detail": list(m.detail), "encrypted": m.encrypted}
                     for m in h.messages],
        "notes": list(h.notes),
    }
