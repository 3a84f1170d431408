"""What a server and a client are configured to do: the data a scenario's fault and fixes change.

A resolution is a patch to one of these (``dataclasses.replace``), so every backend and
probe realises the same spec, and the CLI can show exactly which field a fix changed.
Certificates are named by their entry in :mod:`lab.pki`'s catalogue, or by the path of a team's
own PEM file (see :mod:`lab.material`).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Any

from lab.tls import Protocol, check_cipher_string


class SniPolicy(enum.Enum):
    """How the server treats a Client Hello that carries no (or another) ``server_name``."""

    IGNORE = "ignore"  # serve `certificate` to everyone
    REQUIRE = "require"  # abort the handshake (handshake_failure), as an SNI-only backend does
    DEFAULT_CERTIFICATE = "default-certificate"  # serve `default_certificate` instead


class RevocationMode(enum.Enum):
    """How a client checks the server certificate's revocation status (OCSP).

    A probe declares the modes it can realise (:attr:`lab.probes.base.ProbeBase.revocation_modes`);
    a probe asked for another mode is reported *not applicable*, never silently passed.
    """

    NONE = "none"  # no revocation checking (Python's ssl, most HTTP clients by default)
    STAPLE = "staple"  # ask for a staple and reject a bad one; no staple is fine unless the leaf is must-staple
    REQUIRE_STAPLE = "require-staple"  # a valid staple is mandatory (curl --cert-status, a strict policy)


class OcspWindow(enum.Enum):
    """The thisUpdate/nextUpdate window the responder puts in its answers, relative to the real clock."""

    FRESH = "fresh"  # thisUpdate 1 h ago, nextUpdate in 1 day
    STALE = "stale"  # thisUpdate 6 days ago, nextUpdate in 1 day: old but still valid
    EXPIRED = "expired"  # nextUpdate yesterday
    NOT_YET_VALID = "not-yet-valid"  # thisUpdate tomorrow


class OcspNetwork(enum.Enum):
    """What stands between the server (the stapler) and the OCSP responder."""

    OPEN = "open"  # the responder answers at once
    BLOCKED = "blocked"  # a firewall drops the server's requests: the TCP connection opens, no answer ever comes
    DOWN = "down"  # the responder is not running: connection refused, for everyone
    SLOW = "slow"  # the responder answers, after a delay shorter than the fetch timeout


class ResponderStatus(enum.Enum):
    """The OCSPResponseStatus the responder answers with (RFC 6960 4.2.1); anything but
    ``successful`` carries no certificate status at all."""

    SUCCESSFUL = "successful"
    MALFORMED_REQUEST = "malformedRequest"
    INTERNAL_ERROR = "internalError"
    TRY_LATER = "tryLater"
    SIG_REQUIRED = "sigRequired"
    UNAUTHORIZED = "unauthorized"


SCHEMES = ("https", "http")
_CHOICES: dict[str, tuple[str, ...]] = {"scheme": SCHEMES, "dh_params": ("dh1024", "ffdhe2048")}

_ENUM_FIELDS: dict[str, type[enum.Enum]] = {
    "revocation": RevocationMode, "ocsp_window": OcspWindow, "ocsp_network": OcspNetwork,
    "ocsp_response_status": ResponderStatus,
}


@dataclass(frozen=True)
class ServerSpec:
    """A TLS server (Edge Router northbound, backend southbound)."""

    certificate: str = "server"
    chain: tuple[str, ...] = ("intermediate",)  # served after the leaf, in this order
    min_protocol: Protocol | None = None
    max_protocol: Protocol | None = None
    ciphers: str | None = None  # OpenSSL cipher string for TLS <= 1.2
    sni: SniPolicy = SniPolicy.IGNORE
    default_certificate: str | None = None  # with sni = default-certificate
    default_chain: tuple[str, ...] = ("intermediate",)
    client_auth: bool = False  # 2-way TLS: require and verify a client certificate
    client_cas: tuple[str, ...] = ()  # trust anchors for client certificates
    # --- OCSP stapling; each field is one nginx directive so the nginx backend renders them 1:1 ---
    ocsp_stapling: bool = False  # ssl_stapling on: fetch the leaf's OCSP response and staple it
    ocsp_stapling_verify: bool = False  # ssl_stapling_verify on: staple only a response that verifies
    ocsp_trusted: tuple[str, ...] = ()  # ssl_trusted_certificate: where the issuer (and signer's CA) may be found
    ocsp_stapling_file: bool = False  # ssl_stapling_file: a response fetched out of band at deploy, served as is
    # --- the OCSP responder run by the leaf's CA (nginx: ssl_stapling_responder <the live URL>) ---
    ocsp_signer: str | None = None  # certificate that signs responses; None: the leaf's issuing CA itself
    ocsp_window: OcspWindow = OcspWindow.FRESH
    ocsp_response_status: ResponderStatus = ResponderStatus.SUCCESSFUL
    ocsp_network: OcspNetwork = OcspNetwork.OPEN
    # --- a team's own material (lab.material): the key of a `certificate` given as a path, and
    # their own nginx server {} block (nginx backend only; see lab.nginx.own) ---
    key: str | None = None
    nginx_conf: str | None = None
    # --- field faults (the failures users report outside the two documents) ---
    scheme: str = "https"  # "http": a plain-HTTP listener where the client expects TLS
    alpn: tuple[str, ...] = ()  # ALPN protocols the server accepts; a hello offering none of them is refused
    close_notify: bool = True  # False: close after the response without TLS close_notify (body delimited by close)
    dh_params: str | None = None  # finite-field DHE group for TLS <= 1.2 DHE suites (lab.dhparams)
    intercepted: bool = False  # a TLS-intercepting proxy (re-signing with the proxy CA) sits in front


@dataclass(frozen=True)
class ClientSpec:
    """A TLS client (a probe northbound; the gateway, and probes standing in for it, southbound)."""

    min_protocol: Protocol | None = None
    max_protocol: Protocol | None = None
    ciphers: str | None = None  # OpenSSL cipher string for TLS <= 1.2
    sni: bool = True  # send server_name
    trust: str = "root"  # the trust anchor (a CA in the catalogue)
    certificate: str | None = None  # client certificate for 2-way TLS
    timeout: float = 5.0  # seconds for connect + handshake + response
    revocation: RevocationMode = RevocationMode.NONE  # OCSP checking of the server certificate
    clock_offset_days: float = 0.0  # the client's clock runs this far ahead (negative: behind) of the real one
    key: str | None = None  # the private key of a `certificate` given as a path (lab.material)
    scheme: str = "https"  # "http": the client sends plain HTTP (no TLS at all)
    alpn: tuple[str, ...] = ()  # ALPN protocols offered, in order; () offers no ALPN extension
    ignore_unexpected_eof: bool = False  # SSL_OP_IGNORE_UNEXPECTED_EOF: accept an EOF without close_notify


# Numbers a probe can actually use: a timeout past 5 minutes is a typo, and a clock offset past
# a century overflows every date library the probes use (and faketime).
NUMBER_LIMITS: dict[str, tuple[float, float, str]] = {
    "timeout": (0.0, 300.0, "must be a number > 0 and <= 300 (seconds)"),
    "clock_offset_days": (-36500.0, 36500.0, "must be a number of days between -36500 and 36500"),
}


def _number(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(NUMBER_LIMITS[name][2] if name in NUMBER_LIMITS else "must be a number")
    number = float(value)
    low, high, problem = NUMBER_LIMITS.get(name, (-math.inf, math.inf, "must be a finite number"))
    if not math.isfinite(number) or not low <= number <= high or (name == "timeout" and number <= low):
        raise ValueError(problem)
    return number


def _coerce(spec_type: type, name: str, value: Any) -> Any:
    """Turn a TOML value into the field's type, or raise ValueError naming what is allowed."""
    if name in ("min_protocol", "max_protocol"):
        if not isinstance(value, str):
            raise ValueError(f"must be a string, one of {', '.join(p.value for p in Protocol)}")
        return Protocol.parse(value)
    if name == "ciphers":
        if not isinstance(value, str):
            raise ValueError("must be a string: an OpenSSL cipher list such as 'ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA'")
        check_cipher_string(value)
        return value
    if name in _ENUM_FIELDS:
        enum_type = _ENUM_FIELDS[name]
        try:
            return enum_type(value)
        except ValueError:
            raise ValueError(f"must be one of {', '.join(str(m.value) for m in enum_type)}") from None
    if name == "sni" and spec_type is ServerSpec:
        try:
            return SniPolicy(value)
        except ValueError:
            raise ValueError(f"must be one of {', '.join(p.value for p in SniPolicy)}") from None
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError(f"must be one of {', '.join(_CHOICES[name])}")
    f = {f.name: f for f in dataclasses.fields(spec_type)}[name]
    if f.type in ("tuple[str, ...]",):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of certificate names, e.g. [\"intermediate\"] ([] for none)")
        return tuple(value)
    if f.type == "bool":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if f.type == "float":
        return _number(name, value)
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def spec_problems(spec: "ServerSpec | ClientSpec") -> list[tuple[str, str]]:
    """(field, problem) for combinations no server or client can realise (each field alone is valid)."""
    low, high = spec.min_protocol, spec.max_protocol
    if low is not None and high is not None and high < low:
        return [("min_protocol", f"{low.value} is above max_protocol {high.value}: no version is left to negotiate")]
    return []


def spec_fields(spec_type: type) -> list[str]:
    return [f.name for f in dataclasses.fields(spec_type)]


def parse_patch(spec_type: type, table: dict[str, Any]) -> dict[str, Any]:
    """Validate a TOML table of field overrides; raises KeyError/ValueError with the field name."""
    allowed = spec_fields(spec_type)
    patch: dict[str, Any] = {}
    for key, value in table.items():
        if key not in allowed:
            raise KeyError(key)
        try:
            patch[key] = _coerce(spec_type, key, value)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return patch


def describe_value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    if value is None:
        return "(default)"
    return str(value).lower() if isinstance(value, bool) else str(value)


def spec_diff(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """(field, old, new) for every field that differs: what a resolution changed."""
    return [
        (f.name, describe_value(getattr(before, f.name)), describe_value(getattr(after, f.name)))
        for f in dataclasses.fields(before)
        if getattr(before, f.name) != getattr(after, f.name)
    ]


def spec_as_dict(spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


__all__ = ["ServerSpec", "ClientSpec", "SniPolicy", "RevocationMode", "OcspWindow", "OcspNetwork", "ResponderStatus", "parse_patch", "spec_diff", "spec_as_dict", "field"]
