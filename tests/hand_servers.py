"""Servers the lab did not configure: certificates made with the `openssl` CLI, served by `openssl s_server`.

Used by tests/test_diagnose.py and benchmarks/bench_diagnose.py as independent evidence: nothing
here goes through lab.pki, lab.contexts or the lab's backends. Every CA is name-constrained to
hand.test; every server binds 127.0.0.1 and is stopped by its context manager.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

NAME = "api.hand.test"

_EXT = """
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:{name}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server_ocsp]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:{name}
authorityInfoAccess = OCSP;URI:http://ocsp.hand.test/
[server_cn_only]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server_client_eku]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = DNS:{name}
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:client.hand.test
"""


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip()}")


class HandPki:
    """Certificates made the way an administrator makes them: `openssl req` and `openssl x509 -req`."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._serial = 100

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    def root(self, name: str, cn: str, when: dt.datetime | None = None, days: int = 30) -> None:
        argv = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", str(days),
                "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/O=hand/CN={cn}",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-addext", "nameConstraints=critical,permitted;DNS:hand.test"]
        if when is not None:
            argv = ["faketime", when.strftime("%Y-%m-%d %H:%M:%S"), *argv]
        _run(*argv, cwd=self.dir)

    def issue(self, name: str, cn: str, issuer: str, section: str, san: str = NAME,
              when: dt.datetime | None = None, days: int = 30, bits: int = 2048, digest: str = "sha256",
              key_of: str | None = None) -> None:
        """`key_of`: certify that entry's existing key (a cross-sign: the same CA, another issuer)."""
        self._serial += 1
        ext = self.dir / f"{name}.cnf"
        ext.write_text(_EXT.format(name=san))
        key = ["-key", f"{key_of}.key"] if key_of else ["-newkey", f"rsa:{bits}", "-nodes", "-keyout", f"{name}.key"]
        _run("openssl", "req", "-new", *key, "-out", f"{name}.csr", "-subj", f"/O=hand/CN={cn}", cwd=self.dir)
        if key_of:
            shutil.copy(self.key(key_of), self.key(name))
        argv = ["openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
                "-set_serial", str(self._serial), "-days", str(days), f"-{digest}", "-extfile", ext.name,
                "-extensions", section, "-out", f"{name}.pem"]
        if when is not None:  # libfaketime: sign as if it were `when` (an expired certificate, made for real)
            argv = ["faketime", when.strftime("%Y-%m-%d %H:%M:%S"), *argv]
        _run(*argv, cwd=self.dir)
        os.chmod(self.key(name), 0o600)

    def bundle(self, name: str, *parts: str) -> Path:
        out = self.dir / f"{name}.pem"
        out.write_text("".join(self.path(p).read_text() for p in parts))
        return out

    def ocsp_response(self, name: str, leaf: str, issuer: str, status: str, signer: str | None = None) -> Path:
        """A DER response made by `openssl ocsp` acting as the CA's responder (index.txt as `openssl ca` keeps it)."""
        serial = _serial_of(self.path(leaf))
        expiry = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).strftime("%y%m%d%H%M%SZ")
        revoked = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%y%m%d%H%M%SZ")
        flag, when = ("R", f"{revoked},keyCompromise") if status == "revoked" else ("V", "")
        index = self.dir / f"{name}-index.txt"
        index.write_text(f"{flag}\t{expiry}\t{when}\t{serial}\tunknown\t/O=hand/CN={NAME}\n")
        signer = signer or issuer
        _run("openssl", "ocsp", "-issuer", f"{issuer}.pem", "-cert", f"{leaf}.pem", "-no_nonce",
             "-reqout", f"{name}-req.der", cwd=self.dir)
        _run("openssl", "ocsp", "-index", index.name, "-rsigner", f"{signer}.pem", "-rkey", f"{signer}.key",
             "-CA", f"{issuer}.pem", "-reqin", f"{name}-req.der", "-respout", f"{name}.der", "-ndays", "1", cwd=self.dir)
        return self.dir / f"{name}.der"


def _serial_of(cert: Path) -> str:
    out = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-serial"], capture_output=True,
                         text=True, check=True).stdout
    value = out.strip().split("=", 1)[1]
    return value if len(value) % 2 == 0 else "0" + value


def build_hand_pki(directory: Path) -> HandPki:
    """root -> intermediate -> leaves; another CA; a client CA; all with the openssl CLI."""
    p = HandPki(directory)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=90)
    p.root("root", "Hand Root CA")
    p.issue("intermediate", "Hand Intermediate CA", "root", "ca")
    p.issue("leaf", NAME, "intermediate", "server")
    p.issue("leaf-expired", NAME, "intermediate", "server", when=past, days=30)
    p.issue("leaf-future", NAME, "intermediate", "server",
            when=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=10), days=30)
    p.issue("intermediate-expired", "Hand Expired Intermediate CA", "root", "ca", when=past, days=30)
    p.issue("leaf-under-expired", NAME, "intermediate-expired", "server")
    p.issue("leaf-other-name", "other.hand.test", "intermediate", "server", san="other.hand.test")
    p.issue("leaf-ocsp", NAME, "intermediate", "server_ocsp")
    p.root("other-root", "Hand Other Root CA")
    p.issue("other-intermediate", "Hand Other Intermediate CA", "other-root", "ca")
    p.issue("other-leaf", NAME, "other-intermediate", "server")
    # SNI servers: s_server sends no chain for -cert2, so these leaves come straight from the root.
    p.issue("sni-leaf", NAME, "root", "server")
    p.issue("sni-default", "default.hand.test", "root", "server", san="default.hand.test")
    p.root("client-root", "Hand Client CA")
    p.issue("client", "client.hand.test", "client-root", "client")
    p.issue("client-expired", "client.hand.test", "client-root", "client", when=past, days=30)
    p.root("client-unknown-root", "Hand Unknown Client CA")
    p.issue("client-unknown", "client.hand.test", "client-unknown-root", "client")
    p.bundle("leaf-chain", "intermediate")
    # --- field faults, each made the way an administrator makes it
    p.issue("leaf-rsa1024", NAME, "intermediate", "server", bits=1024)  # `openssl req -newkey rsa:1024`
    p.issue("leaf-sha1", NAME, "intermediate", "server", digest="sha1")  # `openssl x509 -req -sha1`
    p.issue("leaf-cn-only", NAME, "intermediate", "server_cn_only")  # `-subj` only, no subjectAltName
    p.issue("leaf-client-eku", NAME, "intermediate", "server_client_eku")  # extendedKeyUsage = clientAuth
    _run("openssl", "dhparam", "-out", "dh1024.pem", "1024", cwd=p.dir)
    _run("openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out",
         "ffdhe2048.pem", cwd=p.dir)
    # a TLS-inspection appliance's CA, re-signing the site (served with its self-signed CA, as proxies do)
    p.root("inspection-root", "Hand Corporate TLS Inspection CA")
    p.issue("inspected-leaf", NAME, "inspection-root", "server")
    # the 2021 Let's Encrypt shape: old root X3 (expired), new root X1, X1 cross-signed by X3, R3 under X1
    p.root("xs-old-root", "Hand Old Root X3", when=past, days=30)
    p.root("xs-new-root", "Hand New Root X1")
    p.issue("xs-cross", "Hand New Root X1", "xs-old-root", "ca", key_of="xs-new-root",
            when=past + dt.timedelta(days=1), days=365)
    p.issue("xs-intermediate", "Hand Issuing CA R3", "xs-new-root", "ca")
    p.issue("xs-leaf", NAME, "xs-intermediate", "server")
    p.bundle("xs-long-chain", "xs-intermediate", "xs-cross")
    p.ocsp_response("ocsp-good", "leaf-ocsp", "intermediate", "good")
    p.ocsp_response("ocsp-revoked", "leaf-ocsp", "intermediate", "revoked")
    p.ocsp_response("ocsp-bad-signer", "leaf-ocsp", "intermediate", "good", signer="other-intermediate")
    return p


@dataclass(frozen=True)
class HandServer:
    """One hand-configured fault: how to start s_server, and how to diagnose it."""

    fault: str  # the catalog id diagnose must name first ("healthy..." for the controls)
    args: tuple[str, ...]  # s_server arguments, relative to the PKI directory
    client_cert: str | None = None  # a HandPki name for --client-cert/--client-key
    ca_file: str = "root"
    label: str = ""  # the test id, when one fault has several servers
    clock_offset_days: float = 0.0  # the diagnosing client's clock (client-clock-behind)

    @property
    def name(self) -> str:
        return self.label or self.fault


HAND_SERVERS: tuple[HandServer, ...] = (
    HandServer("healthy", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem")),
    # TLS 1.3 only: no TLS <= 1.2 suite family is accepted, which is no fault
    HandServer("healthy", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem", "-tls1_3"),
               label="healthy-tls13-only"),
    HandServer("incomplete-chain", ("-cert", "leaf.pem", "-key", "leaf.key")),
    HandServer("unknown-server-cert", ("-cert", "other-leaf.pem", "-key", "other-leaf.key",
                                       "-cert_chain", "other-intermediate.pem")),
    HandServer("wrong-intermediate", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "other-intermediate.pem")),
    HandServer("expired-server-cert", ("-cert", "leaf-expired.pem", "-key", "leaf-expired.key",
                                       "-cert_chain", "intermediate.pem")),
    HandServer("expired-server-cert", ("-cert", "leaf-future.pem", "-key", "leaf-future.key",
                                       "-cert_chain", "intermediate.pem"), label="not-yet-valid-server-cert"),
    HandServer("expired-server-cert", ("-cert", "leaf-under-expired.pem", "-key", "leaf-under-expired.key",
                                       "-cert_chain", "intermediate-expired.pem"), label="expired-intermediate"),
    HandServer("hostname-mismatch", ("-cert", "leaf-other-name.pem", "-key", "leaf-other-name.key",
                                     "-cert_chain", "intermediate.pem")),
    # -servername_fatal: a Client Hello naming another host gets unrecognized_name; none gets the default
    HandServer("hostname-mismatch", ("-cert", "sni-default.pem", "-key", "sni-default.key", "-servername",
                                     "other.hand.test", "-servername_fatal", "-cert2", "sni-leaf.pem",
                                     "-key2", "sni-leaf.key"), label="name-refused-by-sni-server"),
    HandServer("sni-default-cert", ("-cert", "sni-default.pem", "-key", "sni-default.key", "-servername", NAME,
                                    "-cert2", "sni-leaf.pem", "-key2", "sni-leaf.key")),
    HandServer("protocol-mismatch", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem",
                                     "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0")),
    HandServer("cipher-mismatch", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem",
                                   "-no_tls1_3", "-cipher",
                                   "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES256-SHA:AES256-GCM-SHA384")),
    HandServer("client-cert-required", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem",
                                        "-Verify", "1", "-verify_return_error", "-CAfile", "client-root.pem")),
    HandServer("expired-client-cert", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem",
                                       "-Verify", "1", "-verify_return_error", "-CAfile", "client-root.pem"), client_cert="client-expired"),
    HandServer("unknown-client-cert", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem",
                                       "-Verify", "1", "-verify_return_error", "-CAfile", "client-root.pem"), client_cert="client-unknown"),
    HandServer("healthy-2way", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem",
                                "-Verify", "1", "-verify_return_error", "-CAfile", "client-root.pem"), client_cert="client"),
    HandServer("ocsp-stapling-off", ("-cert", "leaf-ocsp.pem", "-key", "leaf-ocsp.key", "-cert_chain", "intermediate.pem")),
    HandServer("ocsp-revoked", ("-cert", "leaf-ocsp.pem", "-key", "leaf-ocsp.key", "-cert_chain", "intermediate.pem",
                                "-status_file", "ocsp-revoked.der")),
    HandServer("ocsp-signer-untrusted", ("-cert", "leaf-ocsp.pem", "-key", "leaf-ocsp.key",
                                         "-cert_chain", "intermediate.pem", "-status_file", "ocsp-bad-signer.der")),
    # --- field faults (OpenSSL 3.0's s_server loads weak material only at @SECLEVEL=0, as a legacy server does)
    HandServer("weak-server-key", ("-cert", "leaf-rsa1024.pem", "-key", "leaf-rsa1024.key",
                                   "-cert_chain", "intermediate.pem", "-cipher", "DEFAULT:@SECLEVEL=0")),
    HandServer("weak-server-key-sha1", ("-cert", "leaf-sha1.pem", "-key", "leaf-sha1.key",
                                        "-cert_chain", "intermediate.pem", "-cipher", "DEFAULT:@SECLEVEL=0")),
    HandServer("weak-server-key-dh", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem",
                                      "-no_tls1_3", "-dhparam", "dh1024.pem",
                                      "-cipher", "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0")),
    HandServer("healthy", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem",
                           "-no_tls1_3", "-dhparam", "ffdhe2048.pem",
                           "-cipher", "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"), label="healthy-dhe-2048"),
    HandServer("cn-only-certificate", ("-cert", "leaf-cn-only.pem", "-key", "leaf-cn-only.key",
                                       "-cert_chain", "intermediate.pem")),
    HandServer("wrong-key-usage", ("-cert", "leaf-client-eku.pem", "-key", "leaf-client-eku.key",
                                   "-cert_chain", "intermediate.pem")),
    HandServer("alpn-required", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem",
                                 "-alpn", "h2")),
    HandServer("healthy", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem",
                           "-alpn", "h2,http/1.1"), label="healthy-alpn-h2-and-http1"),
    HandServer("intercepting-proxy", ("-cert", "inspected-leaf.pem", "-key", "inspected-leaf.key",
                                      "-cert_chain", "inspection-root.pem")),
    HandServer("expired-cross-signed-root", ("-cert", "xs-leaf.pem", "-key", "xs-leaf.key",
                                             "-cert_chain", "xs-long-chain.pem"), ca_file="xs-old-root"),
    HandServer("healthy", ("-cert", "xs-leaf.pem", "-key", "xs-leaf.key", "-cert_chain", "xs-long-chain.pem"),
               ca_file="xs-new-root", label="healthy-long-chain-new-root"),
    HandServer("client-clock-behind", ("-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "intermediate.pem"),
               clock_offset_days=-5),
    HandServer("healthy-stapled", ("-cert", "leaf-ocsp.pem", "-key", "leaf-ocsp.key", "-cert_chain", "intermediate.pem",
                                   "-status_file", "ocsp-good.der")),
)


@contextlib.contextmanager
def s_server(pki: HandPki, server: HandServer) -> Iterator[int]:
    """Run `openssl s_server -www` on 127.0.0.1, yield its port; always stopped afterwards."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is not installed")
    log = pki.dir / f"s_server-{server.name}-{time.monotonic_ns()}.log"
    with open(log, "w") as sink:  # a file, not a pipe: s_server's chatter can never block it
        proc = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:0", "-www", *server.args],
                                cwd=pki.dir, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            m = re.search(r"ACCEPT 127\.0\.0\.1:(\d+)", log.read_text())
            if m:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"s_server {' '.join(server.args)} did not start: {log.read_text()}")
            time.sleep(0.02)
        yield int(m.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
