"""The lab PKI: caching, key permissions, validity windows, and the name-constrained root."""

from __future__ import annotations

import datetime as dt
import json
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from lab.pki import CATALOGUE, Pki

from conftest import require_tool


def test_keys_are_owner_only(pki: Pki) -> None:
    for entry in CATALOGUE:
        mode = stat.S_IMODE(pki.key_path(entry.name).stat().st_mode)
        assert mode == 0o600, f"{entry.name}.key is {oct(mode)}"


def test_cached_then_regenerated_when_stale(tmp_path: Path) -> None:
    reasons: list[str] = []
    Pki.ensure(tmp_path, on_generate=reasons.append)
    first = (tmp_path / "server.pem").read_bytes()
    Pki.ensure(tmp_path, on_generate=reasons.append)
    assert reasons == ["no certificates generated yet"]
    assert (tmp_path / "server.pem").read_bytes() == first
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["renew_after"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).isoformat()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    Pki.ensure(tmp_path, on_generate=reasons.append)
    assert reasons[-1] == "certificates are close to expiry"
    assert (tmp_path / "server.pem").read_bytes() != first
    (tmp_path / "client.key").unlink()
    assert Pki.stale_reason(tmp_path) == "client.key is missing"


def test_validity_windows(pki: Pki) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    assert pki.cert("server-expired").not_valid_after_utc < now
    assert pki.cert("client-expired").not_valid_after_utc < now
    assert pki.cert("server-not-yet-valid").not_valid_before_utc > now
    assert pki.cert("server").not_valid_before_utc < now < pki.cert("server").not_valid_after_utc


def test_server_leaves_look_real(pki: Pki) -> None:
    """Non-critical SAN and serverAuth EKU, so strict validators judge them fairly."""
    for name in ("server", "wildcard", "something-san", "default"):
        san = pki.cert(name).extensions.get_extension_for_class(x509.SubjectAlternativeName)
        assert not san.critical


def test_chain_verifies_with_openssl(pki: Pki) -> None:
    require_tool("openssl")
    d = pki.directory
    result = subprocess.run(["openssl", "verify", "-CAfile", d / "root.pem", "-untrusted", d / "intermediate.pem",
                             d / "server.pem", d / "wildcard.pem", d / "something-san.pem"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_root_cannot_vouch_for_real_sites(pki: Pki, tmp_path: Path) -> None:
    """Even with the lab's intermediate key, a leaf for a real name fails: the root's name constraints."""
    require_tool("openssl")
    constraints = pki.cert("root").extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    issuer_key = serialization.load_pem_private_key(pki.key_pem("intermediate"), None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com")]))
        .issuer_name(pki.cert("intermediate").subject)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.example.com")]), critical=False)
        .sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    path = tmp_path / "forged.pem"
    path.write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    d = pki.directory
    result = subprocess.run(["openssl", "verify", "-CAfile", d / "root.pem", "-untrusted", d / "intermediate.pem", path],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "subtree violation" in (result.stdout + result.stderr)


@pytest.mark.parametrize("name", ["root", "intermediate"])
def test_lab_cas_are_cas(pki: Pki, name: str) -> None:
    assert pki.cert(name).extensions.get_extension_for_class(x509.BasicConstraints).value.ca
