"""The room's certificates: the lab's catalogue re-issued for the names the instructor gives.

One source of truth: every entry of :data:`lab.pki.CATALOGUE` is re-issued with the same role,
validity and extensions (an expired leaf stays expired, a wrong name stays wrong), only its
names mapped onto the room (:func:`map_names`) and its subject made neutral, so a certificate
never names the fault (``CN=exercise-07.lab.example`` rather than ``CN=something.domain``).

* The CAs are made once per room and kept across restarts (students trusted that root), in
  ``DIR/ca/``; every root is name-constrained (critical) to exactly the room's DNS names and
  addresses plus loopback (the lab's own checks): trusting it risks nothing else.
* Each exercise gets a directory of the whole catalogue's leaves for its own name, so the lab's
  :class:`lab.pki.Pki` (and every backend) reads it as it reads the lab's own generation.
  Leaves share one RSA (and one EC) key: key generation is the slow part, the room's start fast.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from lab.errors import UserInputError
from lab.pki import CA_VALID_DAYS, CATALOGUE, ORGANIZATION, RENEW_BEFORE_DAYS, CertEntry, Pki, build_certificate, \
    write_private

CA_ROLES = ("root", "intermediate", "ocsp-responder")  # made once per room, shared by every exercise
LOOPBACK = ("127.0.0.1",)  # the lab's own checks reach every server here
CA_FILE = "workshop-ca.pem"

Material = tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]


@dataclass(frozen=True)
class Room:
    """The names and addresses students use: what the certificates and the root's constraints cover."""

    dns: tuple[str, ...]
    ips: tuple[str, ...]

    @classmethod
    def of(cls, names: Iterable[str], bind: str) -> "Room":
        dns: list[str] = []
        ips: list[str] = list(LOOPBACK)
        for name in list(names) + ([bind] if bind not in ("0.0.0.0", "::", "") else []):
            name = name.strip().rstrip(".").lower()
            try:
                ip = str(ipaddress.ip_address(name))
            except ValueError:
                if not name or name.startswith("*") or any(not part for part in name.split(".")) \
                        or not all(c.isalnum() or c in "-." for c in name):
                    raise UserInputError(f"--name {name!r}: not a DNS name or an IP address "
                                         "(e.g. --name lab.example.internal or --name 192.0.2.10)") from None
                if name not in dns:
                    dns.append(name)
                continue
            if ip not in ips:
                ips.append(ip)
        return cls(tuple(dns) or ("localhost",), tuple(ips))

    def as_json(self) -> dict[str, list[str]]:
        return {"dns": list(self.dns), "ips": list(self.ips)}


def host_name(label: str, room: Room) -> str:
    """The name an exercise is served under: ``exercise-07.<first name>``."""
    return f"{label}.{room.dns[0]}"


def server_constraints(room: Room) -> x509.NameConstraints:
    return x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(d) for d in room.dns]
        + [x509.IPAddress(ipaddress.ip_network(ip)) for ip in room.ips],  # each address alone (/32, /128)
        excluded_subtrees=None)


def client_constraints(room: Room) -> x509.NameConstraints:
    return x509.NameConstraints(permitted_subtrees=[x509.DNSName(d) for d in room.dns] + [
        x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)]))],
        excluded_subtrees=None)


def _issues_clients(name: str) -> bool:
    return any(e.role == "client" and e.issuer == name for e in CATALOGUE)


def _lab_names() -> list[str]:
    """Every DNS name the catalogue uses, in a fixed order (for neutral aliases)."""
    seen: list[str] = []
    for e in CATALOGUE:
        for n in (*e.names, e.common_name):
            if "." in n and not n.startswith("*.") and n not in seen:
                try:
                    ipaddress.ip_address(n)
                except ValueError:
                    seen.append(n)
    return seen


def map_names(names: Iterable[str], servername: str, label: str, room: Room) -> tuple[str, ...]:
    """A catalogue entry's names for exercise `label`, whose scenario's own name is `servername`.

    The scenario's name becomes the exercise's (under each room name), the loopback address the
    room's addresses, a wildcard that covered the scenario's name one that covers the exercise's;
    any other name an unrelated neutral one (``host-07-3.<room name>``). ``localhost`` is dropped.
    """
    number = label.rsplit("-", 1)[-1]
    out: list[str] = []
    aliases = _lab_names()
    for n in names:
        if n == servername:
            mapped = [f"{label}.{d}" for d in room.dns]
        elif n == "localhost":
            mapped = []
        elif n == "127.0.0.1":
            mapped = list(room.ips)
        elif n.startswith("*."):
            covers = servername.split(".", 1)[-1] == n[2:]
            mapped = [f"*.{d}" if covers else f"*.zone-{number}.{d}" for d in room.dns]
        else:
            index = aliases.index(n) + 1 if n in aliases else len(aliases) + 1
            mapped = [f"host-{number}-{index}.{d}" for d in room.dns]
        out += [m for m in mapped if m not in out]
    return tuple(out)


class _Issuer:
    """Builds the room's CAs (kept) and each exercise's leaves (re-issued at every start)."""

    def __init__(self, directory: Path, room: Room) -> None:
        self.directory = directory
        self.room = room
        self.now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        self.material: dict[str, Material] = {}
        self.leaf_keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] = {"rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
                          "ec": ec.generate_private_key(ec.SECP256R1())}

    @property
    def ca_dir(self) -> Path:
        return self.directory / "ca"

    def ensure_cas(self) -> bool:
        """Load the room's CAs, or make them when missing, for other names, or close to expiry."""
        manifest = self.ca_dir / "manifest.json"
        try:
            data = json.loads(manifest.read_text())
            fresh = dt.datetime.fromisoformat(data["renew_after"]) > self.now
            if data["room"] == self.room.as_json() and fresh:
                for e in CATALOGUE:
                    if e.role in CA_ROLES:
                        cert = x509.load_pem_x509_certificate((self.ca_dir / f"{e.name}.pem").read_bytes())
                        key = serialization.load_pem_private_key((self.ca_dir / f"{e.name}.key").read_bytes(), None)
                        self.material[e.name] = (cert, key)  # type: ignore[assignment]
                return False
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.material.clear()
        shutil.rmtree(self.ca_dir, ignore_errors=True)
        self.ca_dir.mkdir(parents=True, mode=0o700)
        for number, e in enumerate((e for e in CATALOGUE if e.role in CA_ROLES), start=1):
            neutral = "Workshop Root CA" if e.name == "root" else f"Workshop CA {number}"
            constraints = None
            if e.role == "root":
                constraints = client_constraints(self.room) if _issues_clients(e.name) else server_constraints(self.room)
            entry = dataclasses.replace(e, common_name=neutral)
            # CAs and OCSP responders get keys of their own (a responder sharing the leaves' key would be
            # found as the leaf by a client matching the response's responder id)
            self._issue(entry, self.ca_dir, constraints=constraints)
        renew = self.now + dt.timedelta(days=CA_VALID_DAYS - RENEW_BEFORE_DAYS)
        manifest.write_text(json.dumps({"room": self.room.as_json(), "generated": self.now.isoformat(),
                                        "renew_after": renew.isoformat()}, indent=2) + "\n")
        shutil.copyfile(self.ca_dir / "root.pem", self.directory / CA_FILE)
        return True

    def _issue(self, entry: CertEntry, directory: Path, *, constraints: x509.NameConstraints | None = None,
               key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None) -> None:
        issuer = self.material[entry.issuer] if entry.issuer else None
        cert, private = build_certificate(entry, issuer, self.now, constraints=constraints, key=key)
        self.material[entry.name] = (cert, private)
        (directory / f"{entry.name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        write_private(directory / f"{entry.name}.key", private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    def exercise(self, label: str, servername: str) -> Pki:
        """Every catalogue entry for exercise `label` in ``DIR/<label>/``, read back as a :class:`Pki`."""
        directory = self.directory / label
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, mode=0o700)
        for e in CATALOGUE:
            if e.role in CA_ROLES:
                for suffix in (".pem", ".key"):
                    shutil.copyfile(self.ca_dir / f"{e.name}{suffix}", directory / f"{e.name}{suffix}")
                (directory / f"{e.name}.key").chmod(0o600)
                continue
            names = map_names(e.names, servername, label, self.room)
            cn = map_names((e.common_name,), servername, label, self.room)
            entry = dataclasses.replace(e, names=names, common_name=cn[0] if cn else f"{label}.{self.room.dns[0]}")
            # the shared key, unless the fault is in the key itself (a 1024-bit leaf keeps its own)
            shared = e.key == "ec" or getattr(e, "key_size", 2048) == 2048
            self._issue(entry, directory, key=self.leaf_keys[e.key] if shared else None)
        by_name = {e.name: e for e in CATALOGUE}
        for e in CATALOGUE:  # leaf + every intermediate up to (not including) the root, as lab.pki does
            parts = [(directory / f"{e.name}.pem").read_bytes()]
            issuer = e.issuer
            while issuer and by_name[issuer].issuer:
                parts.append((directory / f"{issuer}.pem").read_bytes())
                issuer = by_name[issuer].issuer
            (directory / f"{e.name}-fullchain.pem").write_bytes(b"".join(parts))
        return Pki(directory)


class WorkshopPki:
    """The room's material under `directory`: ``workshop-ca.pem`` for students, a Pki per exercise."""

    def __init__(self, directory: Path, room: Room) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory = directory
        self.room = room
        self._issuer = _Issuer(directory, room)
        self.new_root = self._issuer.ensure_cas()
        self.ca_file = directory / CA_FILE
        if not self.ca_file.exists():
            shutil.copyfile(self._issuer.ca_dir / "root.pem", self.ca_file)

    def exercise(self, label: str, servername: str) -> Pki:
        return self._issuer.exercise(label, servername)

    def fingerprint(self) -> str:
        cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        return cert.fingerprint(hashes.SHA256()).hex(":").upper()
