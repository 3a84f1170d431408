"""``tlslab diagnose HOST:PORT``: probe a live TLS endpoint and name the catalog cause(s).

    battery.py   the client configurations tried (real pyOpenSSL handshakes, in parallel)
    observe.py   what they saw, as frozen facts (chain, links, versions, suites, SNI, staple, ...)
    rules.py     facts -> catalog causes with evidence and the documented fix

:func:`diagnose` runs the three; it never prints (the CLI does). Bad input raises
:class:`~lab.errors.UserInputError` naming the flag or file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import ipaddress
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.diagnose.battery import DEFAULT_TIMEOUT, Client, Run, run_battery
from lab.diagnose.observe import Observed, load_pem_certificates, observation_lines, observe
from lab.diagnose.rules import CLIENT_SIDE, Cause, causes
from lab.errors import UserInputError
from lab.scenario import Catalog

SCHEMA = "tlslab.diagnose/1"


@dataclass(frozen=True)
class Diagnosis:
    target: str
    observed: Observed
    causes: tuple[Cause, ...]
    run: Run

    @property
    def reached(self) -> bool:
        return self.observed.reached

    @property
    def healthy(self) -> bool:
        return self.reached and not self.causes

    @property
    def client_side(self) -> tuple[tuple[str, str], ...]:
        """The catalog causes a probe of the server cannot see, with why: (id, reason).

        Relevant when the server looks healthy (a client that still fails has one of these);
        client-clock-behind is left out once the client's clock offset was given (then it is judged).
        """
        named = {c.scenario for c in self.causes}
        return tuple((sid, why) for sid, why in CLIENT_SIDE.items()
                     if sid not in named and not (sid == "client-clock-behind" and self.observed.clock_offset_days))

    def as_json(self) -> dict[str, Any]:
        o = self.observed
        return {
            "schema": SCHEMA, "target": self.target, "servername": o.servername,
            "ca_file": str(o.ca_file) if o.ca_file else None, "reached": o.reached, "healthy": self.healthy,
            # the lab's rules name causes; each attempt's outcome is the client's (OpenSSL's) own verdict
            "causes": [{"scenario": c.scenario, "title": c.title, "evidence": list(c.evidence), "fix": c.fix or None,
                        "judged_by": "lab"} for c in self.causes],
            # declared, not judged: causes in the client that no probe of the server can see
            "client_side": [{"scenario": sid, "reason": why, "observable": False} for sid, why in self.client_side],
            "observations": [{"topic": t, "text": text} for t, text in observation_lines(o)],
            "facts": _jsonable(dataclasses.asdict(o)),
            "attempts": [{"name": r.attempt.name, "completed": r.completed, "server_answered": r.server_answered,
                          "protocol": r.protocol, "cipher": r.cipher, "certificates": len(r.chain),
                          "symptom": (str(r.symptom) if r.symptom else "ok") if not r.attempt.raw_hello else None,
                          "raw": r.raw, "judged_by": "client", "alpn": r.alpn, "ending": r.ending or None,
                          **({"reply_head": r.reply_head[:64].decode("latin-1")} if r.attempt.raw_hello else {}),
                          "elapsed": round(r.elapsed, 3)} for r in self.run.results],
            "elapsed": round(self.run.elapsed, 3),
        }


def _jsonable(value: Any) -> Any:
    """asdict() output made JSON-ready: datetimes as ISO 8601, enums by value, paths as strings."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


def parse_target(text: str) -> tuple[str, int]:
    """'host:port', '[v6]:port' -> (host, port); UserInputError saying what is wrong."""
    raw = text.strip()
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if not sep:
            raise UserInputError(f"HOST:PORT {text!r}: unclosed '[' in an IPv6 address; write e.g. [::1]:443")
    else:
        host, _, port_text = raw.rpartition(":")
    if not host or not port_text:
        raise UserInputError(f"HOST:PORT {text!r}: give a host and a port, e.g. 127.0.0.1:8443 or api.example.com:443")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UserInputError(f"HOST:PORT {text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def _read_certs(path: Path, flag: str) -> list[x509.Certificate]:
    try:
        return load_pem_certificates(path)
    except OSError as exc:
        raise UserInputError(f"{flag} {path}: cannot be read ({exc.strerror}); give a readable PEM file") from None
    except ValueError:
        raise UserInputError(f"{flag} {path}: holds no PEM certificate; give it in PEM form "
                             "(-----BEGIN CERTIFICATE-----)") from None


def _check_key(cert_path: Path, key_path: Path) -> None:
    cert = _read_certs(cert_path, "--client-cert")[0]
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    except OSError as exc:
        raise UserInputError(f"--client-key {key_path}: cannot be read ({exc.strerror})") from None
    except (ValueError, TypeError):
        raise UserInputError(f"--client-key {key_path}: not an unencrypted PEM private key") from None
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise UserInputError(f"--client-key {key_path}: does not belong to the certificate in {cert_path}")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def default_anchors() -> list[x509.Certificate]:
    """The system trust store (what OpenSSL's default verify file holds), for the chain analysis."""
    path = ssl.get_default_verify_paths().openssl_cafile
    try:
        with warnings.catch_warnings():  # some distributions' bundles hold certificates cryptography frowns on
            warnings.simplefilter("ignore")
            return load_pem_certificates(Path(path)) if path else []
    except (OSError, ValueError):
        return []


def make_client(target: str, servername: str | None = None, ca_file: Path | None = None,
                client_cert: Path | None = None, client_key: Path | None = None,
                timeout: float = DEFAULT_TIMEOUT, clock_offset_days: float = 0.0,
                ) -> tuple[Client, list[x509.Certificate]]:
    """Validate the user's input into a :class:`Client` and its trust anchors."""
    host, port = parse_target(target)
    if (client_cert is None) != (client_key is None):
        raise UserInputError("--client-cert and --client-key go together: give both or neither")
    anchors = _read_certs(ca_file, "--ca-file") if ca_file else default_anchors()
    if client_cert and client_key:
        _check_key(client_cert, client_key)
    if servername is None and not _is_ip(host):
        servername = host  # a named host is the name a browser would send and verify
    if servername is not None:
        servername = servername.strip().rstrip(".")
        if _is_ip(servername):
            raise UserInputError(f"--servername {servername!r}: SNI carries a DNS name, not an IP address; "
                                 "leave --servername out to check the certificate against the address")
        if not servername:
            raise UserInputError("--servername: empty name")
    if not 0 < timeout <= 60:
        raise UserInputError("--timeout must be between 0 and 60 seconds")
    if abs(clock_offset_days) > 36500:
        raise UserInputError("--clock-offset-days must be within 100 years")
    return Client(host, port, servername, ca_file, client_cert, client_key, timeout, clock_offset_days), anchors


def diagnose(client: Client, anchors: list[x509.Certificate], catalog: Catalog,
             now: dt.datetime | None = None) -> Diagnosis:
    run = run_battery(client)
    observed = observe(run, anchors, now or client.clock())
    found = causes(observed, catalog) if observed.reached else ()
    return Diagnosis(observed.target, observed, found, run)
