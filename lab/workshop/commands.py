"""The client command lines a student tries against an endpoint, from the exercise's client spec.

The spec is the reported client's configuration (versions, ciphers, SNI, a client certificate,
OCSP checking, a skewed clock), so the commands reproduce what the report describes; they name
the room's CA file and the endpoint, never the cause.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from lab.probes.curl import CURL_ALPN
from lab.specs import ClientSpec, RevocationMode
from lab.tls import Protocol

CURL_VERSION = {Protocol.TLSv1_0: "--tlsv1.0", Protocol.TLSv1_1: "--tlsv1.1", Protocol.TLSv1_2: "--tlsv1.2",
                Protocol.TLSv1_3: "--tlsv1.3"}
CURL_MAX = {Protocol.TLSv1_0: "1.0", Protocol.TLSv1_1: "1.1", Protocol.TLSv1_2: "1.2", Protocol.TLSv1_3: "1.3"}
OPENSSL_VERSION = {Protocol.TLSv1_0: "tls1", Protocol.TLSv1_1: "tls1_1", Protocol.TLSv1_2: "tls1_2",
                   Protocol.TLSv1_3: "tls1_3"}


@dataclass(frozen=True)
class Where:
    scheme: str
    address: str  # what the student connects to (an IP, or the name when DNS knows it)
    port: int
    servername: str | None
    path: str = "/"


def _clock(spec: ClientSpec) -> list[str]:
    return ["faketime", "-f", f"{spec.clock_offset_days:+g}d"] if spec.clock_offset_days else []


def curl(where: Where, spec: ClientSpec | None, ca_file: str, client_files: tuple[str, str] | None) -> str:
    if where.scheme == "http":
        return shlex.join(["curl", "-sS", f"http://{where.address}:{where.port}{where.path}"])
    assert spec is not None
    if spec.scheme == "http":  # the client's mistake: plain HTTP to a TLS port
        return shlex.join(["curl", "-sS", f"http://{where.address}:{where.port}{where.path}"])
    args = [*_clock(spec), "curl", "-sS", "--cacert", ca_file, *(CURL_ALPN[spec.alpn] if spec.alpn else [])]
    if spec.min_protocol:
        args.append(CURL_VERSION[spec.min_protocol])
    if spec.max_protocol:
        args += ["--tls-max", CURL_MAX[spec.max_protocol]]
    if spec.ciphers:
        args += ["--ciphers", spec.ciphers]
    if client_files:
        args += ["--cert", client_files[0], "--key", client_files[1]]
    if spec.revocation is not RevocationMode.NONE:
        args.append("--cert-status")
    if spec.sni and where.servername:
        if where.address != where.servername:
            args += ["--resolve", f"{where.servername}:{where.port}:{where.address}"]
        args.append(f"https://{where.servername}:{where.port}{where.path}")
    else:
        args.append(f"https://{where.address}:{where.port}{where.path}")  # an IP address: no SNI sent
    return shlex.join(args)


def openssl(where: Where, spec: ClientSpec | None, ca_file: str, client_files: tuple[str, str] | None) -> str | None:
    if where.scheme == "http" or spec is None:
        return None
    args = [*_clock(spec), "openssl", "s_client", "-connect", f"{where.address}:{where.port}", "-CAfile", ca_file]
    if spec.sni and where.servername:
        args += ["-servername", where.servername, "-verify_hostname", where.servername]
    else:
        args.append("-noservername")
    if spec.min_protocol and spec.min_protocol == spec.max_protocol:
        args.append("-" + OPENSSL_VERSION[spec.min_protocol])
    elif spec.max_protocol:
        args += ["-max_protocol", spec.max_protocol.value]
    if spec.ciphers:
        args += ["-cipher", spec.ciphers]
    if client_files:
        args += ["-cert", client_files[0], "-key", client_files[1]]
    if spec.revocation is not RevocationMode.NONE:
        args.append("-status")
    return shlex.join(args) + " </dev/null"
