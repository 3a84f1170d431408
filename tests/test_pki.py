"""The lab PKI: caching, key permissions, validity windows, and the name-constrained root."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from lab.pki import CATALOGUE, Pki, sweep_certs

from conftest import require_tool


def test_keys_are_owner_only(pki: Pki) -> None:
    for entry in CATALOGUE:
        mode = stat.S_IMODE(pki.key_path(entry.name).stat().st_mode)
        assert mode == 0o600, f"{entry.name}.key is {oct(mode)}"


def test_cached_then_regenerated_when_stale(tmp_path: Path) -> None:
    reasons: list[str] = []
    generation = Pki.ensure(tmp_path, on_generate=reasons.append).directory
    first = (tmp_path / "server.pem").read_bytes()
    assert Pki.ensure(tmp_path, on_generate=reasons.append).directory == generation
    assert reasons == ["no certificates generated yet"]
    assert (tmp_path / "server.pem").read_bytes() == first == (generation / "server.pem").read_bytes()
    manifest = json.loads((generation / "manifest.json").read_text())
    manifest["renew_after"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).isoformat()
    (generation / "manifest.json").write_text(json.dumps(manifest))
    renewed = Pki.ensure(tmp_path, on_generate=reasons.append).directory
    assert reasons[-1] == "certificates are close to expiry"
    assert renewed != generation
    assert (tmp_path / "server.pem").read_bytes() != first  # the stable name follows `current`
    (renewed / "client.key").unlink()
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


# --- every CA the lab makes is name-constrained and short-lived --------------------------------
CAS = [e for e in CATALOGUE if e.role in ("root", "intermediate")]


def _root_of(name: str) -> str:
    by_name = {e.name: e for e in CATALOGUE}
    while by_name[name].issuer:
        name = by_name[name].issuer  # type: ignore[assignment]
    return name


def _verify(pki: Pki, leaf: Path, ca: str, *extra: str) -> subprocess.CompletedProcess[str]:
    root = _root_of(ca)
    untrusted = ["-untrusted", str(pki.cert_path(ca))] if ca != root else []
    return subprocess.run(["openssl", "verify", *extra, "-CAfile", str(pki.cert_path(root)), *untrusted, str(leaf)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("ca", [e.name for e in CAS])
def test_every_ca_refuses_an_outside_name(pki: Pki, ca: str, tmp_path: Path) -> None:
    """A www.example.com leaf signed with the CA's own key must not verify against its root."""
    require_tool("openssl")
    constraints = pki.cert(_root_of(ca)).extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com")]))
        .issuer_name(pki.cert(ca).subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.example.com")]), critical=False)
        .sign(serialization.load_pem_private_key(pki.key_pem(ca), None), hashes.SHA256())  # type: ignore[arg-type]
    )
    path = tmp_path / "forged.pem"
    path.write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    result = _verify(pki, path, ca)
    assert result.returncode != 0, result.stdout
    assert "subtree violation" in (result.stdout + result.stderr)


@pytest.mark.parametrize("leaf", ["client", "client-unknown", "ocsp-responder-other-ca", "server"])
def test_constrained_cas_still_vouch_for_their_own(pki: Pki, leaf: str) -> None:
    """The negative control of the test above: what each CA issued itself verifies."""
    require_tool("openssl")
    entry = pki.entry(leaf)
    assert entry.issuer
    purpose = ["-purpose", "sslclient"] if entry.role == "client" else []
    result = _verify(pki, pki.cert_path(leaf), entry.issuer, *purpose)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lifetimes_are_sane(pki: Pki) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    for entry in CATALOGUE:
        cert = pki.cert(entry.name)
        days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
        limit = 400 if entry.role in ("root", "intermediate") else 121
        assert days <= limit, f"{entry.name} lives {days} days"
        assert cert.not_valid_after_utc < now + dt.timedelta(days=400)


# --- generations: a regeneration never changes material under a running reader ----------------
HOLDER = """
import sys, time
from pathlib import Path
from lab.pki import Pki
print(Pki.ensure(Path(sys.argv[1])).directory, flush=True)
time.sleep(120)
"""


def _holder(base: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(base)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_regeneration_switches_current_but_keeps_held_generations(tmp_path: Path) -> None:
    first = Pki.ensure(tmp_path)
    served = (first.directory / "server.pem").read_bytes()
    holder, held = _holder(tmp_path)
    try:
        assert held == first.directory
        second = Pki.ensure(tmp_path, regenerate=True)
        assert second.directory != first.directory
        assert os.readlink(tmp_path / "current") == second.directory.name
        # The reader's generation is whole and unchanged: its certificate still matches its key.
        assert (first.directory / "server.pem").read_bytes() == served
        cert = x509.load_pem_x509_certificate(first.cert_path("server").read_bytes())
        key = serialization.load_pem_private_key(first.key_pem("server"), None)
        assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
        for entry in CATALOGUE:
            mode = stat.S_IMODE(second.key_path(entry.name).stat().st_mode)
            assert mode == 0o600, f"{entry.name}.key is {oct(mode)}"
    finally:
        holder.kill()
        holder.wait()
    # This process still holds the first generation; a fresh process collects it once nobody does.
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from lab.pki import Pki; "
                    "Pki.ensure(Path(sys.argv[1]))", str(tmp_path)], check=True,
                   cwd=Path(__file__).resolve().parent.parent)
    assert first.directory.exists(), "collected while this process still holds it"


def test_generations_nobody_holds_are_collected(tmp_path: Path) -> None:
    holder, held = _holder(tmp_path)
    holder.kill()  # SIGKILL: no cleanup ran, the kernel dropped its lock
    holder.wait()
    staging = tmp_path / ".staging-killed"
    staging.mkdir()
    (staging / ".tlslab-owner").write_text(json.dumps({"pid": holder.pid, "start": "1"}))
    (staging / "server.key").write_bytes(b"half-written")
    removed = sweep_certs(tmp_path)
    assert staging in removed and not staging.exists()
    assert held not in removed, "the current generation is never collected"
    Pki.ensure(tmp_path, regenerate=True)
    assert not held.exists()


def test_certs_command_names_the_generation(tmp_path: Path) -> None:
    env = dict(os.environ, TLSLAB_CERTS=str(tmp_path))
    run = [sys.executable, "-m", "lab", "certs", "--json"]
    repo = Path(__file__).resolve().parent.parent
    first = json.loads(subprocess.run(run, env=env, cwd=repo, capture_output=True, text=True, check=True).stdout)
    again = json.loads(subprocess.run([*run, "--regenerate"], env=env, cwd=repo, capture_output=True, text=True,
                                      check=True).stdout)
    assert first["generation"] != again["generation"]
    assert os.readlink(tmp_path / "current") == Path(again["generation"]).name
    root = next(c for c in again["certificates"] if c["name"] == "root")
    assert Path(root["cert"]).parent == Path(again["generation"])


def test_a_generation_given_as_the_directory_is_left_intact(tmp_path: Path) -> None:
    """``--certs certs/current`` must not turn a generation into a base (and rewrite its files)."""
    generation = Pki.ensure(tmp_path).directory
    again = Pki.ensure(tmp_path / "current")
    assert again.directory == generation.resolve()
    assert not (generation / "server.pem").is_symlink() and not (generation / "current").exists()
