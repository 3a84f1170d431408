"""A team's own PKI, made with the openssl CLI (not by the lab): root -> intermediate -> leaf.

Material the lab did not make, so tests of "bring your own certificates" prove more than the
lab agreeing with itself.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from conftest import require_tool


@dataclass(frozen=True)
class TeamPki:
    root: Path  # the team's CA file
    intermediate: Path
    leaf: Path  # leaf only: an incomplete chain
    fullchain: Path  # leaf + intermediate: what fixes incomplete-chain
    key: Path  # the leaf's key (0600)
    other_key: Path  # a key that belongs to no certificate here
    client_fullchain: Path  # a client certificate (clientAuth) + the intermediate
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_team_pki(directory: Path, names: str = "DNS:api.lab.test,DNS:localhost,IP:127.0.0.1") -> TeamPki:
    require_tool("openssl", "the team's certificates are made with the openssl CLI")
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem", "-days", "30",
             "-subj", "/O=Team/CN=Team Root CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    (d / "int.ext").write_text("basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "int.key", "-out", "int.csr",
             "-subj", "/O=Team/CN=Team Intermediate CA", cwd=d)
    _openssl("x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial",
             "-out", "int.pem", "-days", "30", "-extfile", "int.ext", cwd=d)
    (d / "leaf.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                                f"extendedKeyUsage=serverAuth\nsubjectAltName={names}\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "leaf.csr",
             "-subj", "/O=Team/CN=api.lab.test", cwd=d)
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial",
             "-out", "leaf.pem", "-days", "30", "-extfile", "leaf.ext", cwd=d)
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "other.key", cwd=d)
    (d / "client.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                  "extendedKeyUsage=clientAuth\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
             "-subj", "/O=Team/CN=our-app", cwd=d)
    _openssl("x509", "-req", "-in", "client.csr", "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial",
             "-out", "client.pem", "-days", "30", "-extfile", "client.ext", cwd=d)
    (d / "client-fullchain.pem").write_bytes((d / "client.pem").read_bytes() + (d / "int.pem").read_bytes())
    (d / "fullchain.pem").write_bytes((d / "leaf.pem").read_bytes() + (d / "int.pem").read_bytes())
    for key in ("root.key", "int.key", "key.pem", "other.key", "client.key"):
        (d / key).chmod(0o600)
    return TeamPki(d / "root.pem", d / "int.pem", d / "leaf.pem", d / "fullchain.pem", d / "key.pem", d / "other.key",
                   d / "client-fullchain.pem", d / "client.key")
