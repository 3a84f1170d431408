"""TLS protocol versions and the cipher-string rule shared by every server and client builder."""

from __future__ import annotations

import enum
import ssl
from dataclasses import dataclass


class Protocol(enum.Enum):
    """A TLS protocol version, ordered; values are the names the documents and JSSE use."""

    TLSv1_0 = "TLSv1.0"
    TLSv1_1 = "TLSv1.1"
    TLSv1_2 = "TLSv1.2"
    TLSv1_3 = "TLSv1.3"

    @property
    def rank(self) -> int:
        return list(Protocol).index(self)

    def __lt__(self, other: "Protocol") -> bool:
        return self.rank < other.rank

    def __le__(self, other: "Protocol") -> bool:
        return self.rank <= other.rank

    @classmethod
    def parse(cls, text: str) -> "Protocol":
        """Accept 'TLSv1.2', 'tls1.2', '1.2', and 'TLSv1' for 1.0."""
        key = text.strip().lower().removeprefix("tlsv").removeprefix("tls").removeprefix("v")
        key = {"1": "1.0"}.get(key, key)
        for member in cls:
            if member.value.lower().removeprefix("tlsv") == key:
                return member
        raise ValueError(f"unknown TLS protocol {text!r}; use one of {', '.join(p.value for p in cls)}")

    @property
    def openssl_flag(self) -> str:
        """The openssl s_client flag that pins exactly this version."""
        return {"TLSv1.0": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}[self.value]

    @property
    def curl_name(self) -> str:
        return self.value.removeprefix("TLSv")  # curl: --tlsv1.2 / --tls-max 1.2


def needs_legacy_seclevel(min_protocol: Protocol | None) -> bool:
    """OpenSSL 3 refuses TLS 1.0/1.1 at its default security level (SHA-1 signatures)."""
    return min_protocol is not None and min_protocol < Protocol.TLSv1_2


# What an OpenSSL-based probe offers when the spec does not say: set explicitly, never inherited from
# the build. CPython's own build option (python.org, pyenv) starts contexts with a restricted list
# (no SHA-1 CBC suites) where Debian's Python uses OpenSSL's; OpenSSL's compiled-in security level
# (1) differs from Debian's configured one (2). Against a TLSv1.0-only server the two Pythons gave
# different verdicts; with the list and level set here they cannot.
CLIENT_CIPHERS = "DEFAULT"
CLIENT_SECLEVEL = 2
CLIENT_MIN = Protocol.TLSv1_2  # what OpenSSL 3 and every modern client allow by default
CLIENT_MAX = Protocol.TLSv1_3


@dataclass(frozen=True)
class ClientHandshake:
    """Everything an OpenSSL-based probe sets to decide its handshake: versions and cipher string."""

    min_protocol: Protocol
    max_protocol: Protocol
    ciphers: str  # TLS <= 1.2 suites, security level included (TLS 1.3 suites stay OpenSSL's defaults)


def client_handshake(min_protocol: Protocol | None, max_protocol: Protocol | None,
                     ciphers: str | None) -> ClientHandshake:
    """The explicit settings for a client spec's versions and ciphers (None: the lab's defaults above)."""
    high = max_protocol or CLIENT_MAX
    low = min_protocol or min(CLIENT_MIN, high, key=lambda p: p.rank)
    base = ciphers or CLIENT_CIPHERS
    if "@SECLEVEL" not in base:
        base = f"{base}:@SECLEVEL={0 if needs_legacy_seclevel(low) else CLIENT_SECLEVEL}"
    return ClientHandshake(low, high, base)


def effective_ciphers(ciphers: str | None, min_protocol: Protocol | None) -> str | None:
    """The cipher string a builder should set: the spec's, plus ``@SECLEVEL=0`` for legacy protocols.

    Every server and client builder goes through here so a scenario author never has to
    remember the OpenSSL 3 pitfall.
    """
    if not needs_legacy_seclevel(min_protocol):
        return ciphers
    base = ciphers or "DEFAULT"
    return base if "@SECLEVEL" in base else f"{base}:@SECLEVEL=0"


def check_cipher_string(text: str) -> None:
    """Raise ValueError unless every name in the OpenSSL cipher list selects a cipher here.

    OpenSSL accepts a list in which only some names are known and silently drops the rest, so
    a typo would leave a scenario testing a different cipher set than its author wrote: each
    plain name (not ``!X``, ``-X``, ``+X``, ``@SECLEVEL``) is checked on its own.
    """
    if not text.strip():
        raise ValueError("must be a non-empty OpenSSL cipher list (leave the field out for the default)")
    bad = sorted({c for c in text if not (c.isascii() and (c.isalnum() or c in "+!@=:,._- "))})
    if bad:
        raise ValueError(f"contains {', '.join(repr(c) for c in bad)}: an OpenSSL cipher list has names, "
                         "':' and the prefixes ! - + @ only")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for name in (part.strip() for part in text.replace(",", ":").replace(" ", ":").split(":")):
        if not name or name[0] in "!-+@":
            continue
        try:
            context.set_ciphers(f"{name}:@SECLEVEL=0")
        except ssl.SSLError:
            raise ValueError(f"{name!r} selects no cipher in this OpenSSL ({ssl.OPENSSL_VERSION}); "
                             "see 'openssl ciphers -v ALL' for the names it knows") from None
