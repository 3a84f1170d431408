"""The lab's certificate authorities, server leaves and client certificates, generated and cached.

Every certificate is built with the cryptography x509 builders (trustme's CAs cannot carry name
constraints and live until the year 3000), so every CA the lab makes is *name-constrained*
(critical): trusting one of them by mistake cannot endanger a real site.

* **Server CAs** (the lab root -> intermediate -> server leaves; the "other" CA of the
  "unknown" and "wrong intermediate" faults) are constrained to the names the lab serves:
  ``lab.test``, ``localhost``, 127.0.0.0/8 and ::1.
* **Client CAs** are constrained to the client names they issue: DNS names and e-mail
  addresses under ``lab.test``, subjects under ``O=tlslab``.
* CAs live a year, leaves 90 days, and the cache renews everything 14 days before a "valid"
  leaf would expire. Leaves look like real ones (non-critical subjectAltName), so strict
  outside validators judge them fairly.

**Generations.** Material is written into a new directory (``certs/gen-<time>-<id>/``), complete
before anyone sees it, then switched in by one atomic rename of the ``certs/current`` symlink.
A :class:`Pki` keeps the generation it started with (every path it hands out is inside it), and
:meth:`Pki.ensure` holds a shared lock on that generation for the life of the process, so
``tlslab certs --regenerate`` never changes material under a running ``up`` or ``run``. Old
generations are removed by a later :meth:`Pki.ensure` (or ``tlslab down``) once no live process
holds them. Keys are mode 0600. ``certs/<name>.pem`` (and ``.key``, ``-fullchain.pem``) are
stable symlinks into ``certs/current/`` for people and scripts. Nothing that expires is committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from lab import material
from lab.errors import EnvironmentError_
from lab.tempdirs import make_owned_dir, sweep_orphans

Validity = Literal["valid", "expired", "not-yet-valid"]
Role = Literal["root", "intermediate", "server", "client", "ocsp-responder"]
RevocationReason = Literal["keyCompromise", "cACompromise", "affiliationChanged", "superseded",
                           "cessationOfOperation", "certificateHold"]

LAB_DOMAIN = "lab.test"
PERMITTED_DNS = (LAB_DOMAIN, "localhost")
PERMITTED_NETS = ("127.0.0.0/8", "::1/128")
ORGANIZATION = "tlslab"  # every subject the lab makes starts O=tlslab (the client CAs' dirName constraint)
OCSP_AIA_URL = "http://ocsp.lab.test/"  # baked into OCSP-enabled leaves; the live responder URL is given explicitly
EMPTY_BUNDLE = "empty-ca-bundle.pem"  # what ClientSpec.trust = "" resolves to
SCHEMA_VERSION = 3  # bump when generation logic changes in a way the catalogue text does not show


@dataclass(frozen=True)
class CertEntry:
    """One certificate in the catalogue, by name: what scenarios refer to."""

    name: str
    role: Role
    issuer: str | None  # catalogue name of the issuing CA (None: self-signed root)
    common_name: str
    names: tuple[str, ...] = ()  # subjectAltName: DNS names and IP addresses
    validity: Validity = "valid"
    description: str = ""
    ocsp: bool = False  # server leaf: Authority Information Access names the lab's OCSP responder
    must_staple: bool = False  # server leaf: TLS Feature status_request (RFC 7633 "must-staple")
    revoked: RevocationReason | None = None  # the lab responder answers "revoked" with this reason
    ocsp_signing: bool = True  # ocsp-responder role: carries id-kp-OCSPSigning (False: not authorised)
    key: Literal["rsa", "ec"] = "rsa"  # EC P-256: the other and client CAs, client certificates (cheap to sign)
    # --- field faults: what makes a certificate unacceptable to a modern client ---
    key_size: int = 2048  # RSA modulus bits (1024: refused at OpenSSL security level 2)
    signature: Literal["sha256", "sha1"] = "sha256"  # the issuer's signature hash (sha1: "ca md too weak")
    san: bool = True  # server leaf: subjectAltName present (False: the name only in the CN)
    server_auth: bool = True  # server leaf: EKU serverAuth (False: clientAuth only, the wrong purpose)
    key_of: str | None = None  # reuse this entry's key pair (a cross-signed CA: another issuer, the same key)


CATALOGUE: tuple[CertEntry, ...] = (
    CertEntry("root", "root", None, "tlslab Root CA", description="the lab's trust anchor"),
    CertEntry("intermediate", "intermediate", "root", "tlslab Intermediate CA", description="issues every lab server leaf"),
    CertEntry("server", "server", "intermediate", "api.lab.test", ("api.lab.test", "localhost", "127.0.0.1"),
              description="a valid server certificate"),
    CertEntry("server-expired", "server", "intermediate", "api.lab.test", ("api.lab.test", "localhost", "127.0.0.1"),
              validity="expired", description="the same names, expired yesterday"),
    CertEntry("server-not-yet-valid", "server", "intermediate", "api.lab.test", ("api.lab.test", "localhost", "127.0.0.1"),
              validity="not-yet-valid", description="the same names, valid only from next month"),
    CertEntry("default", "server", "intermediate", "default.lab.test", ("default.lab.test",),
              description="what an SNI server sends to a Client Hello without server_name"),
    CertEntry("something", "server", "intermediate", "something.domain.lab.test", ("something.domain.lab.test",),
              description="CN=something.domain.lab.test: wrong for myorg.domain.lab.test"),
    CertEntry("wildcard", "server", "intermediate", "*.domain.lab.test", ("*.domain.lab.test",),
              description="CN=*.domain.lab.test: the wildcard fix"),
    CertEntry("something-san", "server", "intermediate", "something.domain.lab.test",
              ("something.domain.lab.test", "myorg.domain.lab.test"),
              description="the same CN with myorg.domain.lab.test added as subject alternative name"),
    CertEntry("other-root", "root", None, "tlslab Other Root CA",
              key="ec", description="an unrelated CA nobody trusts"),
    CertEntry("other-intermediate", "intermediate", "other-root", "tlslab Other Intermediate CA",
              key="ec", description="an intermediate that issued none of the lab's leaves"),
    CertEntry("client-root", "root", None, "tlslab Client CA",
              key="ec", description="issues client certificates for 2-way TLS"),
    CertEntry("client", "client", "client-root", "client.lab.test", ("client.lab.test",),
              key="ec", description="a valid client certificate"),
    CertEntry("client-expired", "client", "client-root", "client.lab.test", ("client.lab.test",), validity="expired",
              key="ec", description="an expired client certificate"),
    CertEntry("client-unknown-root", "root", None, "tlslab Unknown Client CA",
              key="ec", description="a client CA the server does not trust"),
    CertEntry("client-unknown", "client", "client-unknown-root", "client.lab.test", ("client.lab.test",),
              key="ec", description="a client certificate from a CA the server does not know"),
    # --- OCSP: leaves whose AIA names the lab responder, and delegated responder certificates ---
    CertEntry("ocsp-server", "server", "intermediate", "api.lab.test", ("api.lab.test", "localhost", "127.0.0.1"),
              ocsp=True, description="a valid server certificate whose AIA names the OCSP responder"),
    CertEntry("ocsp-server-must-staple", "server", "intermediate", "api.lab.test",
              ("api.lab.test", "localhost", "127.0.0.1"), ocsp=True, must_staple=True,
              description="the same, with the TLS Feature (must-staple) extension"),
    CertEntry("ocsp-server-revoked", "server", "intermediate", "api.lab.test",
              ("api.lab.test", "localhost", "127.0.0.1"), ocsp=True, revoked="keyCompromise",
              description="an OCSP-enabled server certificate the CA has revoked (keyCompromise)"),
    CertEntry("ocsp-server-renewed", "server", "intermediate", "api.lab.test",
              ("api.lab.test", "localhost", "127.0.0.1"), ocsp=True,
              description="a newly issued replacement for the revoked certificate"),
    CertEntry("ocsp-responder", "ocsp-responder", "intermediate", "tlslab OCSP Responder",
              description="a delegated OCSP responder certificate (id-kp-OCSPSigning, issued by the intermediate)"),
    CertEntry("ocsp-responder-expired", "ocsp-responder", "intermediate", "tlslab OCSP Responder",
              validity="expired", description="the delegated responder certificate, expired yesterday"),
    CertEntry("ocsp-responder-not-authorised", "ocsp-responder", "intermediate", "tlslab OCSP Responder",
              ocsp_signing=False, description="issued by the intermediate but without id-kp-OCSPSigning"),
    CertEntry("ocsp-responder-other-ca", "ocsp-responder", "other-intermediate", "tlslab OCSP Responder",
              description="an OCSP signing certificate from another CA (not the leaf's issuer)"),
    # --- field scenarios: certificates real clients refuse, a proxy CA, an expired cross-sign ---
    CertEntry("server-rsa1024", "server", "intermediate", "api.lab.test", ("api.lab.test", "localhost", "127.0.0.1"),
              key_size=1024, description="a 1024-bit RSA server key (refused at OpenSSL security level 2)"),
    CertEntry("server-sha1", "server", "intermediate", "api.lab.test", ("api.lab.test", "localhost", "127.0.0.1"),
              signature="sha1", description="a server certificate signed with SHA-1 (refused at security level 1+)"),
    CertEntry("server-cn-only", "server", "intermediate", "api.lab.test", (), san=False,
              description="CN=api.lab.test and no subjectAltName: the name only in the legacy Common Name"),
    CertEntry("server-client-eku", "server", "intermediate", "api.lab.test", ("api.lab.test", "localhost", "127.0.0.1"),
              server_auth=False, description="extended key usage clientAuth only: not for a TLS server"),
    CertEntry("proxy-root", "root", None, "tlslab Intercepting Proxy CA",
              description="the TLS-intercepting proxy's CA (name-constrained), which re-signs every site"),
    CertEntry("proxy-server", "server", "proxy-root", "api.lab.test", ("api.lab.test", "localhost", "127.0.0.1"),
              description="what the intercepting proxy presents for api.lab.test, signed by its own CA"),
    CertEntry("xs-old-root", "root", None, "tlslab Old Root CA X3", validity="expired",
              description="an old root that expired yesterday (DST Root CA X3 in 2021)"),
    CertEntry("xs-new-root", "root", None, "tlslab New Root X1",
              description="the new root that replaced it (ISRG Root X1)"),
    CertEntry("xs-new-root-cross", "root", "xs-old-root", "tlslab New Root X1", key_of="xs-new-root",
              description="the new root cross-signed by the expired old root (served at the end of the long chain)"),
    CertEntry("xs-intermediate", "intermediate", "xs-new-root", "tlslab Issuing CA R3",
              description="the new root's issuing CA (R3)"),
    CertEntry("xs-server", "server", "xs-intermediate", "api.lab.test", ("api.lab.test", "localhost", "127.0.0.1"),
              description="a valid leaf from R3: long chain + cross-sign, or short chain to the new root"),
)

VALID_DAYS = 90
CA_VALID_DAYS = 365  # CAs outlive the leaves they sign; the cache renews long before either expires
RENEW_BEFORE_DAYS = 14
CURRENT = "current"  # symlink to the generation new readers get
GENERATION_PREFIX = "gen-"
STAGING_PREFIX = ".staging-"
IN_USE = ".in-use"  # in each generation: processes using it hold a shared flock on this file
MATERIAL_SUFFIXES = (".pem", ".key", "-fullchain.pem")


def _catalogue_fingerprint() -> str:
    text = repr((SCHEMA_VERSION, CATALOGUE))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _window(validity: Validity, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    day = dt.timedelta(days=1)
    if validity == "expired":
        return now - 60 * day, now - day
    if validity == "not-yet-valid":
        return now + 30 * day, now + 120 * day
    return now - day, now + VALID_DAYS * day


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only (created 0600, never widened)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    general: list[x509.GeneralName] = []
    for name in names:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(general)


def _end_entity_usage(key_encipherment: bool) -> x509.KeyUsage:
    """Signing only (an OCSP responder, a client), or signing + RSA key transport (a TLS server leaf)."""
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=key_encipherment,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                         encipher_only=False, decipher_only=False)


def _issues_clients(name: str) -> bool:
    """Whether the CA `name` (a root) issues client certificates (it then gets the client constraints)."""
    return any(e.role == "client" and e.issuer == name for e in CATALOGUE)


def name_constraints(ca: str) -> x509.NameConstraints:
    """The critical name constraints of the root `ca`: the names its part of the lab serves or issues.

    Server CAs: DNS ``lab.test`` and ``localhost``, 127.0.0.0/8 and ::1. Client CAs: DNS and
    e-mail under ``lab.test``, subjects under ``O=tlslab``.
    """
    if _issues_clients(ca):
        return x509.NameConstraints(permitted_subtrees=[
            x509.DNSName(LAB_DOMAIN), x509.RFC822Name(LAB_DOMAIN),
            x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)])),
        ], excluded_subtrees=None)
    return x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(d) for d in PERMITTED_DNS]
        + [x509.IPAddress(ipaddress.ip_network(n)) for n in PERMITTED_NETS],
        excluded_subtrees=None,
    )


class _Builder:
    """Builds every certificate of the catalogue with the cryptography x509 builders."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def build(
        self, entry: CertEntry, issuer: tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None,
        constraints: x509.NameConstraints | None = None,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    ) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
        key = key or (
            ec.generate_private_key(ec.SECP256R1()) if entry.key == "ec"
            else rsa.generate_private_key(public_exponent=65537, key_size=entry.key_size))
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, entry.common_name),
        ])
        not_before, not_after = _window(entry.validity, self.now)
        if entry.role in ("root", "intermediate") and entry.validity == "valid":  # CAs outlive their leaves
            not_after = self.now + dt.timedelta(days=CA_VALID_DAYS)
        issuer_cert, issuer_key = issuer if issuer else (None, key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_cert.subject if issuer_cert else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if issuer_cert is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        if entry.role in ("root", "intermediate"):
            builder = builder.add_extension(
                x509.BasicConstraints(ca=True, path_length=None if entry.role == "root" else 0), critical=True
            ).add_extension(
                x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                              encipher_only=False, decipher_only=False),
                critical=True,
            )
            if entry.role == "root":
                builder = builder.add_extension(constraints or name_constraints(entry.name), critical=True)
        elif entry.role == "ocsp-responder":
            eku = [ExtendedKeyUsageOID.OCSP_SIGNING] if entry.ocsp_signing else [ExtendedKeyUsageOID.SERVER_AUTH]
            builder = (
                builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_end_entity_usage(key_encipherment=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
                .add_extension(x509.OCSPNoCheck(), critical=False)  # RFC 6960 4.2.2.2.1: don't check the checker
            )
        elif entry.role == "client":
            builder = (
                builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_end_entity_usage(key_encipherment=entry.key == "rsa"), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(_san(entry.names), critical=False)
            )
        else:
            purpose = ExtendedKeyUsageOID.SERVER_AUTH if entry.server_auth else ExtendedKeyUsageOID.CLIENT_AUTH
            builder = (
                builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_end_entity_usage(key_encipherment=True), critical=True)
                .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
            )
            if entry.san:
                builder = builder.add_extension(_san(entry.names), critical=False)
            if entry.ocsp:
                builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(OCSP_AIA_URL))]),
                    critical=False)
            if entry.must_staple:
                builder = builder.add_extension(x509.TLSFeature([x509.TLSFeatureType.status_request]),
                                                critical=False)
        cert = builder.sign(issuer_key, hashes.SHA256())
        if entry.signature == "sha1":
            cert = _resign_sha1(cert, issuer_key)
        return cert, key


_SHA256_RSA = bytes.fromhex("2a864886f70d01010b")  # the OID 1.2.840.113549.1.1.11, DER content
_SHA1_RSA = bytes.fromhex("2a864886f70d010105")  # 1.2.840.113549.1.1.5: the same length


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + body


def _resign_sha1(cert: x509.Certificate, issuer_key: CertificateIssuerPrivateKeyTypes) -> x509.Certificate:
    """The same certificate signed with SHA-1, as a 2015 CA would have issued it.

    cryptography (since 48) refuses SHA-1 for new signatures, so the TBS is re-signed by hand:
    the two signature OIDs have the same DER length, so swapping them keeps every length valid.
    """
    from cryptography.hazmat.primitives.asymmetric import padding

    assert isinstance(issuer_key, rsa.RSAPrivateKey), "the lab's CAs are RSA"
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(_SHA256_RSA) == 1
    tbs = tbs.replace(_SHA256_RSA, _SHA1_RSA)
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    algorithm = _der(0x30, _der(0x06, _SHA1_RSA) + b"\x05\x00")
    return x509.load_der_x509_certificate(_der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature)))


def build_certificate(
    entry: CertEntry, issuer: tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None, now: dt.datetime, *,
    constraints: x509.NameConstraints | None = None,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
    """One catalogue-shaped certificate, built exactly as the catalogue's are (``tlslab workshop``
    re-issues the catalogue for the room's names): a root gets `constraints` (default: the lab's),
    and `key` lets many leaves share one key (RSA key generation is the slow part)."""
    return _Builder(now).build(entry, issuer, constraints, key)


def write_private(path: Path, data: bytes) -> None:
    """Write a private key owner-only (0600)."""
    _write_private(path, data)


def _generate(directory: Path, now: dt.datetime) -> None:
    """Generate the whole catalogue into `directory` (an empty staging directory)."""
    builder = _Builder(now)
    material: dict[str, tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]] = {}
    for entry in CATALOGUE:  # issuers come before what they issue
        reuse = material[entry.key_of][1] if entry.key_of else None  # a cross-sign: the same key, another issuer
        cert, key = builder.build(entry, material[entry.issuer] if entry.issuer else None,
                                  key=reuse)  # type: ignore[arg-type]
        material[entry.name] = (cert, key)
        (directory / f"{entry.name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private(directory / f"{entry.name}.key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (directory / EMPTY_BUNDLE).write_bytes(b"")  # trust = "": a client with no CA bundle at all

    by_name = {e.name: e for e in CATALOGUE}
    for entry in CATALOGUE:  # leaf + every intermediate up to (not including) the root
        parts = [(directory / f"{entry.name}.pem").read_bytes()]
        issuer = entry.issuer
        while issuer and by_name[issuer].issuer:
            parts.append((directory / f"{issuer}.pem").read_bytes())
            issuer = by_name[issuer].issuer
        (directory / f"{entry.name}-fullchain.pem").write_bytes(b"".join(parts))
    manifest = {
        "fingerprint": _catalogue_fingerprint(),
        "generated": now.isoformat(),
        "renew_after": (now + dt.timedelta(days=VALID_DAYS - RENEW_BEFORE_DAYS)).isoformat(),
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


# -- generations ----------------------------------------------------------------------------
_HELD: dict[Path, IO[bytes]] = {}  # generation -> open file with our shared lock (kept for the process's life)


def current_generation(base: Path) -> Path | None:
    """The generation ``base/current`` points at, or None when there is none yet.

    A ``current`` that is a directory, not a link (a certs directory copied without keeping its
    links: ``cp -r``, ``shutil.copytree``), is a generation too.
    """
    current = base / CURRENT
    if current.is_dir() and not current.is_symlink():
        return current
    try:
        target = os.readlink(current)
    except OSError:
        return None
    generation = base / target
    return generation if generation.is_dir() else None


def _hold(generation: Path) -> None:
    """Take a shared lock on `generation` for the rest of this process: collectors leave it alone."""
    if generation in _HELD:
        return
    try:
        fh = open(generation / IN_USE, "rb")
    except FileNotFoundError:
        return  # not made by this version: nothing collects it either
    fcntl.flock(fh, fcntl.LOCK_SH)
    _HELD[generation] = fh


def _in_use(generation: Path) -> bool:
    try:
        with open(generation / IN_USE, "rb") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


def _collect(base: Path, keep: Path | None) -> list[Path]:
    """Remove abandoned staging directories and the generations no live process holds.

    Call with ``base/.lock`` held: only a lock holder generates or switches generations, so a
    generation is either `keep`, held by a reader (shared flock), or garbage.
    """
    removed = sweep_orphans(base, STAGING_PREFIX + "*")
    for generation in sorted(base.glob(GENERATION_PREFIX + "*")):
        if generation == keep or generation in _HELD or generation.is_symlink() or _in_use(generation):
            continue
        shutil.rmtree(generation, ignore_errors=True)
        if not generation.exists():
            removed.append(generation)
    return removed


def _new_generation(base: Path) -> Path:
    """Generate into a staging directory, rename it into place, then switch ``current`` to it."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    staging = make_owned_dir(STAGING_PREFIX, base)
    try:
        _generate(staging, now)
        (staging / IN_USE).touch(mode=0o600)
        generation = base / f"{GENERATION_PREFIX}{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        os.rename(staging, generation)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    current = base / CURRENT
    if current.is_dir() and not current.is_symlink():  # a copied generation: keep it as one, by name
        os.rename(current, base / f"{GENERATION_PREFIX}copied-{secrets.token_hex(3)}")
    link = base / f".{CURRENT}-{secrets.token_hex(4)}"
    os.symlink(generation.name, link)
    os.replace(link, current)  # the one atomic step readers can observe
    return generation


def _link_stable_names(base: Path) -> None:
    """``base/<name>.pem`` etc. -> ``current/<name>.pem``: paths that stay valid across generations."""
    for entry in CATALOGUE:
        for suffix in MATERIAL_SUFFIXES:
            path = base / f"{entry.name}{suffix}"
            target = f"{CURRENT}/{entry.name}{suffix}"
            if path.is_symlink() and os.readlink(path) == target:
                continue
            if path.exists() or path.is_symlink():  # material of the single-directory layout (< 0.3)
                path.unlink()
            os.symlink(target, path)
    for legacy in ("manifest.json", "pkcs12"):  # likewise
        path = base / legacy
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()


def sweep_certs(base: Path) -> list[Path]:
    """``tlslab down``: what :meth:`Pki.ensure` would collect, unless a generation is under way."""
    if not (base / CURRENT).is_symlink() and not any(base.glob(STAGING_PREFIX + "*")):
        return []
    try:
        with _locked(base / ".lock", blocking=False):
            return _collect(base, current_generation(base))
    except (BlockingIOError, OSError):
        return []


class Pki:
    """One generation of the catalogue: paths and parsed objects by catalogue name.

    `directory` is a generation (what :meth:`ensure` returns), or a base directory whose
    ``current`` generation is then taken once, here, and kept.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = current_generation(directory) or directory
        self._certs: dict[str, x509.Certificate] = {}
        self._by_name = {e.name: e for e in CATALOGUE}

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def ensure(
        cls, directory: Path, *, regenerate: bool = False, on_generate: Callable[[str], None] | None = None
    ) -> "Pki":
        """The current generation in `directory`, generating a new one first when missing, stale or asked to.

        Safe against concurrent callers (a lock file), interrupted runs (a generation is complete
        before ``current`` points at it) and running readers (this process keeps the generation it
        gets; a regeneration elsewhere switches ``current`` but never touches a held generation).
        A directory this process cannot write (a read-only mount, a shared cache) is used as it is
        when its current generation is complete and fresh; otherwise EnvironmentError_ names it.
        """
        directory = directory.absolute()
        if (directory / IN_USE).exists():  # given a generation (e.g. --certs certs/current): use its base
            directory = directory.resolve().parent
        try:
            return cls._ensure_writable(directory, regenerate=regenerate, on_generate=on_generate)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise EnvironmentError_(f"the certificate directory {directory}: {exc.strerror}; "
                                        "point TLSLAB_CERTS or --certs at a writable directory") from None
            reason = "--regenerate was asked for" if regenerate else cls.stale_reason(directory)
            if reason is None:
                return cls(directory)  # read-only, complete and fresh: nothing to write
            raise EnvironmentError_(f"the certificate directory {directory} is read-only ({exc.strerror}) and "
                                    f"the lab must write it: {reason}. Make it writable, or point TLSLAB_CERTS "
                                    "or --certs at a writable directory") from None

    @classmethod
    def _ensure_writable(
        cls, directory: Path, *, regenerate: bool, on_generate: Callable[[str], None] | None
    ) -> "Pki":
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory / ".lock"):
            generation = current_generation(directory)
            reason = "--regenerate" if regenerate else (
                cls.stale_reason(generation) if generation else "no certificates generated yet")
            if reason:
                if on_generate:
                    on_generate(reason)
                generation = _new_generation(directory)
            assert generation is not None
            _hold(generation)
            _link_stable_names(directory)
            _collect(directory, generation)
        return cls(generation)

    @staticmethod
    def stale_reason(directory: Path) -> str | None:
        """Why the material in `directory` (a generation, or a base with ``current``) must be regenerated."""
        directory = current_generation(directory) or directory
        manifest_path = directory / "manifest.json"
        if not manifest_path.exists():
            return "no certificates generated yet"
        try:
            manifest = json.loads(manifest_path.read_text())
            renew_after = dt.datetime.fromisoformat(manifest["renew_after"])
        except (ValueError, KeyError):
            return "manifest.json is unreadable"
        if manifest.get("fingerprint") != _catalogue_fingerprint():
            return "the certificate catalogue changed"
        if dt.datetime.now(dt.timezone.utc) >= renew_after:
            return "certificates are close to expiry"
        for entry in CATALOGUE:
            for suffix in MATERIAL_SUFFIXES:
                if not (directory / f"{entry.name}{suffix}").exists():
                    return f"{entry.name}{suffix} is missing"
        return None

    # -- access ---------------------------------------------------------------------------
    # Every accessor also takes the path of a team's own PEM file (lab.material): the file is
    # used where it is, its first certificate is the leaf and the rest is its chain.
    def entry(self, name: str) -> CertEntry:
        if material.is_path(name):
            leaf = material.certificates(name)[0]
            cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            return CertEntry(name, "server", None, str(cns[0].value) if cns else "", description="your own certificate")
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no certificate named {name!r}; known: {', '.join(self._by_name)}") from None

    def cert_path(self, name: str) -> Path:
        if material.is_path(name):
            return Path(name)
        self.entry(name)
        return self.directory / f"{name}.pem"

    def key_path(self, name: str, key: str | None = None) -> Path:
        """The key of `name`; for an own certificate file, `key` (the spec's ``key`` field)."""
        if material.is_path(name):
            if not key:
                raise material.MaterialError(name, "is a certificate file without a key: give its key")
            return Path(key)
        self.entry(name)
        return self.directory / f"{name}.key"

    def trust_path(self, name: str) -> Path:
        """The CA bundle a client trusts: a catalogue certificate, or (name ``""``) an empty bundle,
        the trust store of a slim container or an empty Java cacerts."""
        if name:
            return self.cert_path(name)
        path = self.directory / EMPTY_BUNDLE
        if not path.exists():
            path.write_bytes(b"")
        return path

    def dh_path(self, group: str) -> Path:
        """The PEM DH parameters of a published group (:mod:`lab.dhparams`), written beside the certificates."""
        from lab.dhparams import DH_GROUPS

        path = self.directory / f"dh-{group}.pem"
        if not path.exists() or path.read_bytes() != DH_GROUPS[group]:
            path.write_bytes(DH_GROUPS[group])
        return path

    def fullchain_path(self, name: str) -> Path:
        if material.is_path(name):
            return Path(name)  # an own certificate file is leaf + chain already
        self.entry(name)
        return self.directory / f"{name}-fullchain.pem"

    def cert(self, name: str) -> x509.Certificate:
        if material.is_path(name):
            return material.certificates(name)[0]
        if name not in self._certs:
            self._certs[name] = x509.load_pem_x509_certificate(self.cert_path(name).read_bytes())
        return self._certs[name]

    def certs(self, name: str) -> tuple[x509.Certificate, ...]:
        """Every certificate `name` stands for: one catalogue entry, or all in an own file (a chain, CAs)."""
        return material.certificates(name) if material.is_path(name) else (self.cert(name),)

    def pem(self, name: str) -> bytes:
        """The PEM text of :meth:`certs` (certificates only: never a key that shares the file)."""
        return material.pem(name) if material.is_path(name) else self.cert_path(name).read_bytes()

    def key_pem(self, name: str, key: str | None = None) -> bytes:
        return self.key_path(name, key).read_bytes()


def catalogue_names() -> tuple[str, ...]:
    return tuple(e.name for e in CATALOGUE)


@contextlib.contextmanager
def _locked(path: Path, blocking: bool = True) -> Iterator[None]:
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
