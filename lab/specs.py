"""What a server and a client are configured to do: the data a scenario's fault and fixes change.

A resolution is a patch to one of these (``dataclasses.replace``), so every backend and
probe realises the same spec, and the CLI can show exactly which field a fix changed.
Certificates are named by their entry in :mod:`lab.pki`'s catalogue, never by path.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

from lab.tls import Protocol


class SniPolicy(enum.Enum):
    """How the server treats a Client Hello that carries no (or another) ``server_name``."""

    IGNORE = "ignore"  # serve `certificate` to everyone
    REQUIRE = "require"  # abort the handshake (handshake_failure), as an SNI-only backend does
    DEFAULT_CERTIFICATE = "default-certificate"  # serve `default_certificate` instead


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


def _coerce(spec_type: type, name: str, value: Any) -> Any:
    """Turn a TOML value into the field's type, or raise ValueError naming what is allowed."""
    if name in ("min_protocol", "max_protocol"):
        return None if value is None else Protocol.parse(str(value))
    if name == "sni" and spec_type is ServerSpec:
        try:
            return SniPolicy(value)
        except ValueError:
            raise ValueError(f"must be one of {', '.join(p.value for p in SniPolicy)}") from None
    f = {f.name: f for f in dataclasses.fields(spec_type)}[name]
    if f.type in ("tuple[str, ...]",):
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of names")
        return tuple(value)
    if f.type == "bool":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if f.type == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError("must be a number")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


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


__all__ = ["ServerSpec", "ClientSpec", "SniPolicy", "parse_patch", "spec_diff", "spec_as_dict", "field"]
