"""PKCS12 trust and key stores built from the lab's PEM files, for the clients that cannot read PEM.

The Java probe reads them as its truststore/keystore; the browser probe imports the client
certificate into its profile's NSS database from them. Cached beside the PEM files they come
from, so inside that certificate generation (``certs/gen-*/pkcs12/``, removed with it), and
rebuilt when a PEM is newer. Keys are written 0600 (``mkstemp``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from lab.material import label
from lab.paths import default_certs_dir
from lab.probes.base import ClientFiles

STORE_PASSWORD = "tlslab"  # lab material only; Java's PKCS12 loader wants some password
STORE_FORMAT = "v2"  # in the cached stores' names: bump when their encoding changes


def _is_lab_material(path: Path) -> bool:
    return (path.parent / "manifest.json").exists()  # the lab's generated certs/ directory


def _store_dir(files: ClientFiles) -> Path:
    """Beside the lab's certificates; a team's own files get theirs in the lab's cache, never beside them."""
    base = files.ca_file.parent if _is_lab_material(files.ca_file) else default_certs_dir() / "own"
    path = base / "pkcs12"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _stem(path: Path) -> str:
    """The store's name: the file's stem, plus a hash of its path for own files (two teams' root.pem)."""
    return path.stem if _is_lab_material(path) else label(str(path.resolve()))


def _fresh(store: Path, *sources: Path) -> bool:
    return store.exists() and all(store.stat().st_mtime >= s.stat().st_mtime for s in sources)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".p12-", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def pkcs12_stores(files: ClientFiles) -> tuple[Path, Path | None]:
    """PKCS12 truststore (the trust anchor) and keystore (client certificate + chain), cached."""
    directory = _store_dir(files)
    # 3DES/SHA-1, the PKCS12 flavour of the Java 8 era: a JVM under crypto.policy=limited cannot
    # decrypt AES-256-protected stores (InvalidKeyException: Illegal key size).
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder()
                  .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
                  .hmac_hash(hashes.SHA1()).build(STORE_PASSWORD.encode()))
    trust = directory / f"{_stem(files.ca_file)}-truststore-{STORE_FORMAT}.p12"
    if files.trusts_nothing:  # PKCS12 cannot hold zero certificates; TlsProbe.java reads an empty file as an empty store
        trust = files.ca_file
    elif not _fresh(trust, files.ca_file):
        certs = x509.load_pem_x509_certificates(files.ca_file.read_bytes())
        _write_atomic(trust, pkcs12.serialize_java_truststore(
            [pkcs12.PKCS12Certificate(c, f"tlslab-{i}".encode()) for i, c in enumerate(certs)], encryption))
    if not (files.cert_file and files.key_file):
        return trust, None
    keystore = directory / f"{_stem(files.key_file)}-keystore-{STORE_FORMAT}.p12"
    if not _fresh(keystore, files.cert_file, files.key_file):
        chain = x509.load_pem_x509_certificates(files.cert_file.read_bytes())
        key = serialization.load_pem_private_key(files.key_file.read_bytes(), password=None)
        _write_atomic(keystore, pkcs12.serialize_key_and_certificates(
            b"tlslab-client", key, chain[0], chain[1:], encryption))  # type: ignore[arg-type]
    return trust, keystore
