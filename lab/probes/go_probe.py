"""The Go client (crypto/tls + net/http): the stack of Go services, sidecars and CLIs.

``go/tlsprobe.go`` ships as source and is built once with the system ``go`` (Debian golang-go;
standard library only, so offline) into ``<cache>/go/<sha256>/``, rebuilt when the source
changes. One process lives for a ``with probe:`` block and serves every probe, one JSON line
each way. The spec maps onto ``tls.Config``:

* versions -> ``MinVersion``/``MaxVersion``, always explicit (:func:`lab.tls.client_handshake`):
  Go 1.18+ clients refuse TLS 1.0/1.1 unless ``MinVersion`` says so.
* the OpenSSL cipher string (when the spec names one; else Go's defaults, as Java keeps JSSE's) -> IANA names (``openssl ciphers -stdname``) -> Go's suite IDs;
  names crypto/tls lacks are dropped. Go's TLS 1.3 suites cannot be configured (as a TLS <= 1.2
  cipher string never touches OpenSSL's either).
* ``sni = false`` -> ``ServerName ""``: Go then refuses to verify, so the probe turns Go's check
  off and runs the same x509 verification itself against the lab's name in ``VerifyConnection``;
  that certificate verdict is judged by the lab, and the outcome says so.
* trust -> ``RootCAs``; the client certificate -> ``Certificates``; the clock offset -> ``Time``.
* revocation: n/a. crypto/tls never checks a staple (it only hands out
  ``ConnectionState.OCSPResponse``) and the OCSP parser, golang.org/x/crypto/ocsp, is not stdlib.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.errors import LabError, ToolMissing
from lab.probes.base import CLIENT, LAB, ClientFiles, Outcome, ProbeBase, Target, outcome_from_error, which
from lab.probes.java_probe import cache_root
from lab.probes.jsonlines import LineProcess
from lab.probes.suites import iana_suites
from lab.specs import ClientSpec, ServerSpec
from lab.symptoms import http_symptom, lab_message
from lab.tls import client_handshake

SOURCE = Path(__file__).resolve().parent / "go" / "tlsprobe.go"
GO_PACKAGE = "golang-go"
BINARY = "tlsprobe"

# crypto/tls's suites (Go 1.19: tls.CipherSuites() + tls.InsecureCipherSuites()), TLS <= 1.2 only.
GO_SUITES = frozenset({
    "TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
})


def go_suites(openssl_ciphers: str) -> tuple[str, ...]:
    """The OpenSSL cipher string's TLS <= 1.2 suites that crypto/tls has, by IANA name, in order."""
    return tuple(s for s in iana_suites(openssl_ciphers) if s in GO_SUITES)


@dataclass(frozen=True)
class Built:
    binary: Path
    built_now: bool  # False: taken from the cache


def build_env(cache: Path) -> dict[str, str]:
    """go's caches under the lab's cache (any user, no $HOME needed), offline, no C compiler."""
    return {**os.environ, "GOCACHE": str(cache / "build-cache"), "GOPATH": str(cache / "gopath"),
            "GOPROXY": "off", "GOFLAGS": "", "GO111MODULE": "off", "CGO_ENABLED": "0"}


def ensure_built(source: Path = SOURCE, cache: Path | None = None, go: str = "go") -> Built:
    """Build `source` into ``<cache>/go/<sha256>/tlsprobe`` unless that binary already exists."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:20]
    root = (cache or cache_root()) / "go"
    target = root / digest
    if (target / BINARY).exists():
        return Built(target / BINARY, False)
    if which(go) is None:
        raise ToolMissing(go, f"install Go (Debian: apt-get install {GO_PACKAGE})")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gobuild-", dir=root))
    try:
        result = subprocess.run([go, "build", "-o", str(staging / BINARY), str(source)],
                                capture_output=True, text=True, timeout=300, env=build_env(root), cwd=staging)
        if result.returncode != 0:
            raise LabError(f"go could not build {source}:\n{result.stderr.strip()}")
        try:
            os.rename(staging, target)
        except OSError:  # another process built the same source first
            if not (target / BINARY).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Built(target / BINARY, True)


def request_for(target: Target, spec: ClientSpec, files: ClientFiles) -> dict[str, Any]:
    """The JSON line tlsprobe.go reads for one probe."""
    handshake = client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers)
    return {
        "host": target.host, "port": target.port, "servername": target.servername, "sni": spec.sni,
        "min": handshake.min_protocol.value, "max": handshake.max_protocol.value,
        "ciphers": list(go_suites(handshake.ciphers)) if spec.ciphers else None,  # None: Go's own defaults
        "ca_file": str(files.ca_file), "cert_file": str(files.cert_file or ""), "key_file": str(files.key_file or ""),
        "timeout_ms": int(spec.timeout * 1000), "clock_offset_ms": round(spec.clock_offset_days * 86_400_000),
    }


class GoProbe(ProbeBase):
    name = "go"
    description = "Go crypto/tls + net/http client (go1.19 here), one long-lived process"
    revocation_note = ("crypto/tls never checks a stapled OCSP response (it only exposes "
                       "ConnectionState.OCSPResponse) and Go's OCSP parser is not in the standard library")

    def clock_offset_reason(self) -> str | None:
        return None  # tls.Config.Time: the chain is verified at now + offset

    def __init__(self, go: str = "go", cache: Path | None = None) -> None:
        self.go, self.cache = go, cache
        self._process: LineProcess | None = None
        self._entered = False
        self._lock = threading.Lock()
        self.starts = 0
        self.built: Built | None = None

    def unavailable_reason(self) -> str | None:
        if which(self.go) is None:
            return f"the '{self.go}' command is not installed (Debian: apt-get install {GO_PACKAGE})"
        if which("openssl") is None:
            return "the 'openssl' command (cipher names for Go) is not installed (Debian: apt-get install openssl)"
        return None

    def unsupported_reason(self, spec: ClientSpec) -> str | None:
        why = super().unsupported_reason(spec)
        if why is None and spec.ciphers and "@SECLEVEL" in spec.ciphers:
            why = ("go: crypto/tls has no OpenSSL security level (@SECLEVEL); its own overrides are "
                   "environment switches such as GODEBUG=x509sha1=1")
        if why is None and spec.ciphers and not go_suites(client_handshake(None, None, spec.ciphers).ciphers):
            why = f"go: crypto/tls has none of the cipher suites in {spec.ciphers!r}"
        return why

    def server_unsupported_reason(self, server: ServerSpec) -> str | None:
        suites = [c for c in (server.ciphers or "").split(":") if c and not c.startswith("@")]
        if suites and all(c.startswith(("DHE-", "EDH-")) for c in suites):
            return "go: crypto/tls has no finite-field DHE key exchange at all: it cannot meet a DHE-only server"
        return None

    @property
    def pid(self) -> int | None:
        return self._process.proc.pid if self._process else None

    def __enter__(self) -> "GoProbe":
        reason = self.unavailable_reason()
        if reason:
            raise ToolMissing(self.go, reason)
        self.built = ensure_built(cache=self.cache, go=self.go)
        self._entered = True
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._entered = False
        if self._process is not None:
            self._process.close()
            self._process = None

    def _start(self) -> LineProcess:
        assert self.built is not None
        self._process = LineProcess([str(self.built.binary)], label="Go")
        self.starts += 1
        return self._process

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        if not self._entered:
            raise LabError("the Go probe keeps a process running: use it as 'with GoProbe() as probe: ...'")
        started = time.monotonic()
        request = request_for(target, spec, files)
        with self._lock:
            process = self._process or self._start()
            try:
                result = process.ask(request, timeout=spec.timeout + 5)
            except TimeoutError as exc:
                process.close()
                self._process = None
                # The client's own deadline (spec.timeout) passed long ago: the probe process is stuck,
                # which is the lab's failure, never the server's timeout symptom.
                return outcome_from_error(self.name, lab_message(f"{exc}; its process was replaced"), started,
                                          judged_by=LAB)
        if "bad_request" in result:
            raise LabError(f"the Go probe could not use its inputs: {result['bad_request']}")
        judged_by = LAB if result.get("judged_by") == LAB else CLIENT
        if result.get("status"):
            status = int(result["status"])
            return Outcome(self.name, http_symptom(status), result.get("status_line", f"HTTP {status}"),
                           http_status=status, protocol=result.get("protocol"), cipher=result.get("cipher"),
                           elapsed=time.monotonic() - started, judged_by=judged_by)
        return outcome_from_error(self.name, result.get("error") or "no error text", started, judged_by=judged_by)
