"""A team's own certificates, keys and CA files: named by path wherever a catalogue name fits.

Every certificate field of a spec (``certificate``, ``chain``, ``trust``, ``client_cas``, ...)
holds either a catalogue name (``"server"``, see :mod:`lab.pki`) or a path to a PEM file; a
path is anything with a ``/`` in it or ending in ``.pem``/``.crt``/``.cer``. Scenario files
give paths relative to the file; the loader makes them absolute.

* A certificate file (``certificate = "ours/fullchain.pem"``) holds the leaf first, then the
  chain to serve, as nginx's ``ssl_certificate`` does; its key is the spec's ``key`` field.
* A CA file (``trust``, ``client_cas``) holds one or more CA certificates.

Material is checked when it is named, before anything starts: unreadable, not PEM, a CA file
with no certificate, an encrypted key, or a key that does not belong to the certificate is a
:class:`MaterialError` naming the file. The lab reads these files where they are and never
widens a key's permissions; a copy it makes (an nginx config directory) is mode 0600.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.errors import UserInputError

_PATH_SUFFIXES = (".pem", ".crt", ".cer", ".key")
# Spec fields that name one certificate (with a key where it is an identity), or lists of them.
CERT_FIELDS = ("certificate", "default_certificate", "ocsp_signer", "trust")
CERT_LIST_FIELDS = ("chain", "default_chain", "client_cas", "ocsp_trusted")


class MaterialError(UserInputError):
    """A certificate, key or CA file the user named cannot be used; the message names the file."""

    def __init__(self, path: Path | str, problem: str, where: str = "") -> None:
        super().__init__(f"{where + ': ' if where else ''}{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


def is_path(name: str | None) -> bool:
    """Whether a spec value names a file (``ours/leaf.pem``) rather than a catalogue entry (``server``)."""
    return name is not None and ("/" in name or name.lower().endswith(_PATH_SUFFIXES))


def label(name: str) -> str:
    """A file-name-safe label: the catalogue name itself, or the file's stem plus a hash of its path."""
    if not is_path(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{Path(name).stem}-{digest}"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise MaterialError(path, "no such file") from None
    except IsADirectoryError:
        raise MaterialError(path, "is a directory, not a PEM file") from None
    except OSError as exc:
        raise MaterialError(path, f"cannot be read: {exc.strerror}") from None


@functools.lru_cache(maxsize=256)
def _certs_cached(path: str, mtime_ns: int, size: int) -> tuple[x509.Certificate, ...]:
    data = _read(Path(path))
    if b"-----BEGIN" not in data:
        raise MaterialError(path, "is not PEM (no '-----BEGIN' line); convert DER with "
                                  "'openssl x509 -inform der -in FILE -out FILE.pem'")
    try:
        certs = tuple(x509.load_pem_x509_certificates(data))
    except ValueError as exc:
        if b"CERTIFICATE-----" not in data:
            raise MaterialError(path, "holds no certificate (no 'BEGIN CERTIFICATE' block)") from None
        raise MaterialError(path, f"holds a certificate that cannot be parsed: {exc}") from None
    return certs


def certificates(path: str | Path) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM file, in order; raises MaterialError naming the file."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        _read(p)  # raises the precise error
        raise
    return _certs_cached(str(p), st.st_mtime_ns, st.st_size)


def pem(path: str | Path) -> bytes:
    """The certificates of a file as PEM, and nothing else (no keys, no comments)."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates(path))


def load_key(path: str | Path) -> Any:
    """The private key in a PEM file; raises MaterialError for a missing, encrypted or non-key file."""
    data = _read(Path(path))
    if b"PRIVATE KEY-----" not in data:
        raise MaterialError(path, "holds no private key (no 'BEGIN ... PRIVATE KEY' block)")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise MaterialError(path, "is encrypted; the lab needs an unencrypted key "
                                  "('openssl pkey -in KEY -out plain.key')") from None
    except ValueError as exc:
        raise MaterialError(path, f"is not a usable private key: {exc}") from None


def _public_der(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,  # type: ignore[no-any-return]
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def check_identity(cert_path: str | Path, key_path: str | Path | None, where: str = "") -> None:
    """A certificate file and the key that belongs to its first (leaf) certificate."""
    leaf = certificates(cert_path)[0]
    if key_path is None:
        raise MaterialError(cert_path, "is a certificate file without a key: give the key too "
                                       "(field 'key', or --server-key/--client-key)", where)
    key = load_key(key_path)
    if _public_der(key.public_key()) != _public_der(leaf.public_key()):
        raise MaterialError(key_path, f"does not belong to the certificate in {cert_path} "
                                      f"(subject {leaf.subject.rfc4514_string()}): the public keys differ", where)


def check_ca_file(path: str | Path, where: str = "") -> None:
    if not certificates(path):
        raise MaterialError(path, "holds no certificate", where)


def check_spec(spec: Any, where: str = "") -> None:
    """Every file a server or client spec names exists and is usable (keys match their certificates)."""
    names = {f.name for f in dataclasses.fields(spec)}
    for field_name in CERT_FIELDS:
        value = getattr(spec, field_name, None) if field_name in names else None
        if value is None or not is_path(value):
            continue
        if field_name == "certificate":
            check_identity(value, getattr(spec, "key", None), where)
        elif field_name in ("default_certificate", "ocsp_signer"):
            raise MaterialError(value, f"{field_name} takes a catalogue name only (tlslab certs)", where)
        else:
            check_ca_file(value, where)
    for field_name in CERT_LIST_FIELDS:
        for value in getattr(spec, field_name, ()) if field_name in names else ():
            if is_path(value):
                check_ca_file(value, where)
    key = getattr(spec, "key", None)
    if key and not is_path(getattr(spec, "certificate", None)):
        raise MaterialError(key, "a key is given but the certificate is a catalogue name; "
                                 "give your certificate file too", where)


@dataclass(frozen=True)
class OwnMaterial:
    """What a user brought on the command line; each path absolute. Becomes the ``own-material`` phase."""

    server_cert: Path | None = None
    server_key: Path | None = None
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    client_ca: Path | None = None  # 2-way TLS: the CA(s) the server trusts for client certificates
    nginx_conf: Path | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in dataclasses.fields(self))

    @classmethod
    def from_options(cls, **paths: Path | None) -> "OwnMaterial":
        """Absolute paths from command-line values, checked now (exit 2 naming the file and flag)."""
        own = cls(**{k: (Path(v).expanduser().resolve() if v else None) for k, v in paths.items()})
        pairs = (("--server-cert", own.server_cert, "--server-key", own.server_key),
                 ("--client-cert", own.client_cert, "--client-key", own.client_key))
        for cert_flag, cert, key_flag, key in pairs:
            if cert and not key:
                raise UserInputError(f"{cert_flag} {cert} needs {key_flag} (the certificate's private key)")
            if key and not cert:
                raise UserInputError(f"{key_flag} {key} needs {cert_flag} (the certificate it belongs to)")
            if cert:
                check_identity(cert, key, key_flag)
        if own.ca_file:
            check_ca_file(own.ca_file, "--ca-file")
        if own.client_ca:
            check_ca_file(own.client_ca, "--client-ca")
        if own.nginx_conf:
            _read(own.nginx_conf)
        return own

    def server_patch(self) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        if self.server_cert:
            # The file carries its chain (leaf first), as nginx's ssl_certificate does.
            patch.update(certificate=str(self.server_cert), key=str(self.server_key), chain=())
        if self.client_ca:
            patch["client_cas"] = (str(self.client_ca),)
        if self.nginx_conf:
            patch["nginx_conf"] = str(self.nginx_conf)
        return patch

    def client_patch(self) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        if self.ca_file:
            patch["trust"] = str(self.ca_file)
        if self.client_cert:
            patch.update(certificate=str(self.client_cert), key=str(self.client_key))
        return patch

    def describe(self) -> str:
        parts = [f"{f.name.replace('_', '-')} {getattr(self, f.name)}" for f in dataclasses.fields(self)
                 if getattr(self, f.name)]
        return "your material: " + ", ".join(parts)


OWN_PHASE = "own-material"  # the phase (a resolution) that puts a user's own material in place
