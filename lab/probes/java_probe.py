"""The Java (JSSE) client: the APIGEE gateway (Message Processor) is a Java program.

Its messages (``Received fatal alert: handshake_failure``, ``PKIX path building failed``,
``No subject alternative DNS name matching ... found``) are what support engineers search
for, so the lab asks a real JVM. Three costs shape this module:

* ``java X.java`` costs ~2 s per start: ``TlsProbe.java`` is compiled once with ``javac`` into
  a cache directory named by the source's SHA-256 (recompiled when the source changes).
* A JVM start costs ~0.3 s: one JVM lives for a ``with probe:`` block and serves every probe
  over stdin/stdout, one JSON line each way.
* Java reads PKCS12, not PEM: truststores and keystores are built from the lab PKI once and
  cached beside the certificates (rebuilt when the PEM is newer).

The spec's knobs map onto JSSE's: protocols -> ``SSLParameters.setProtocols``, the OpenSSL
cipher string -> IANA suite names (``openssl ciphers -stdname``) -> ``setCipherSuites``,
``sni = false`` -> an empty server-name list (the per-connection ``jsse.enableSNIExtension=false``),
and ``crypto_policy="limited"`` starts the JVM with the real ``crypto.policy=limited`` switch:
the Java that still needs the JCE unlimited-strength step. ``revocation`` -> a PKIX trust manager
with JSSE's ``PKIXRevocationChecker`` judging the stapled response (the probe itself decides only
what JSSE has no switch for: a required or must-staple staple that is missing; see
``StapleTrust`` in the Java source), and ``clock_offset_days`` -> ``PKIXBuilderParameters.setDate``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal


from lab.errors import LabError, ToolMissing
from lab.probes.base import CLIENT, LAB, ClientFiles, Outcome, ProbeBase, Target, outcome_from_error, which
from lab.keystores import STORE_PASSWORD, pkcs12_stores
from lab.probes.suites import iana_suites
from lab.specs import ClientSpec, RevocationMode
from lab.symptoms import http_symptom
from lab.tls import Protocol

_PROBE_DECIDED = re.compile(r"tlslab(?:'s check|:)")  # TlsProbe.java's own verdicts name the lab

SOURCE = Path(__file__).resolve().parent / "java" / "TlsProbe.java"
MAIN_CLASS = "TlsProbe"
JAVA_PACKAGE = "openjdk-17-jdk-headless"
_JSSE_NAMES = {Protocol.TLSv1_0: "TLSv1", Protocol.TLSv1_1: "TLSv1.1",
               Protocol.TLSv1_2: "TLSv1.2", Protocol.TLSv1_3: "TLSv1.3"}
CryptoPolicy = Literal["unlimited", "limited"]


def cache_root() -> Path:
    """``$TLSLAB_CACHE``, else ``$XDG_CACHE_HOME/tlslab``, else ``~/.cache/tlslab``."""
    if env := os.environ.get("TLSLAB_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tlslab"


@dataclass(frozen=True)
class Compiled:
    classpath: Path
    compiled_now: bool  # False: taken from the cache


def ensure_compiled(source: Path = SOURCE, cache: Path | None = None, javac: str = "javac") -> Compiled:
    """Compile `source` into ``<cache>/java/<sha256>/`` unless that directory already holds the class.

    The directory is named by the source's content, so an edited source compiles afresh and a
    concurrent compile of the same source is harmless (the first rename wins).
    """
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:20]
    root = (cache or cache_root()) / "java"
    target = root / digest
    if (target / f"{MAIN_CLASS}.class").exists():
        return Compiled(target, False)
    if which(javac) is None:
        raise ToolMissing(javac, f"install a JDK (Debian: apt-get install {JAVA_PACKAGE})")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".javac-", dir=root))
    try:
        result = subprocess.run([javac, "-nowarn", "-d", str(staging), str(source)],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise LabError(f"javac could not compile {source}:\n{result.stderr.strip()}")
        try:
            os.rename(staging, target)
        except OSError:  # another process compiled the same source first
            if not (target / f"{MAIN_CLASS}.class").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Compiled(target, True)


# ---------------------------------------------------------------------------------------------
# The spec in JSSE terms

def jsse_protocols(spec: ClientSpec) -> list[str] | None:
    """JSSE protocol names between min and max; None keeps Java's defaults (TLSv1.3, TLSv1.2)."""
    if spec.min_protocol is None and spec.max_protocol is None:
        return None
    high = spec.max_protocol or Protocol.TLSv1_3
    low = spec.min_protocol or min(Protocol.TLSv1_2, high)
    return [_JSSE_NAMES[p] for p in Protocol if low <= p <= high]


def request_for(target: Target, spec: ClientSpec, files: ClientFiles) -> dict[str, Any]:
    """The JSON line TlsProbe.java reads for one probe."""
    truststore, keystore = pkcs12_stores(files)
    return {
        "host": target.host, "port": target.port, "servername": target.servername, "sni": spec.sni,
        "protocols": jsse_protocols(spec),
        "ciphers": list(iana_suites(spec.ciphers)) if spec.ciphers else None,
        "truststore": str(truststore), "keystore": str(keystore) if keystore else None,
        "password": STORE_PASSWORD, "timeout_ms": int(spec.timeout * 1000),
        "revocation": spec.revocation.value,
        "clock_offset_ms": round(spec.clock_offset_days * 86_400_000),
    }


# ---------------------------------------------------------------------------------------------
# The long-lived JVM

class _Jvm:
    """One ``java TlsProbe`` process: a request line in, a result line out."""

    def __init__(self, classpath: Path, crypto_policy: CryptoPolicy, java: str) -> None:
        self._stderr: IO[bytes] = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", str(classpath),
             MAIN_CLASS, f"--crypto-policy={crypto_policy}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, name="tlslab-jvm-stdout", daemon=True).start()
        try:
            hello = json.loads(self.read(timeout=30.0))
        except BaseException:
            self.close()
            raise
        self.pid: int = hello["pid"]
        self.version: str = hello.get("java", "")

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(b"")  # EOF

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace").strip()[-2000:]

    def read(self, timeout: float) -> bytes:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the Java probe gave no answer within {timeout:g}s") from None
        if not line:
            self.proc.wait(timeout=5)
            raise LabError(f"the Java probe JVM exited ({self.proc.returncode}): {self.stderr_text() or 'no output'}")
        return line

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        result: dict[str, Any] = json.loads(self.read(timeout))
        return result

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()  # the JVM ends at EOF
            self.proc.wait(timeout=3)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self._stderr.close()


class JavaProbe(ProbeBase):
    name = "java"
    description = "Java JSSE client (the APIGEE gateway's TLS stack), one long-lived JVM"
    revocation_modes = frozenset(RevocationMode)  # JSSE's PKIXRevocationChecker judges the staple
    plain_http_note = "TlsProbe.java opens an SSLSocket only (no plain-HTTP mode)"
    alpn_note = "TlsProbe.java sets no ALPN list (SSLParameters.setApplicationProtocols) and speaks HTTP/1.1 only"

    def clock_offset_reason(self) -> str | None:
        return None  # PKIXBuilderParameters.setDate: the chain and the staple are judged at now + offset

    def __init__(self, crypto_policy: CryptoPolicy = "unlimited", java: str = "java", javac: str = "javac",
                 cache: Path | None = None) -> None:
        self.crypto_policy = crypto_policy
        self.java, self.javac, self.cache = java, javac, cache
        self._jvm: _Jvm | None = None
        self._entered = False
        self._lock = threading.Lock()
        self.jvm_starts = 0  # how many JVMs this probe started (tests check it stays 1)
        self.compiled: Compiled | None = None

    def unavailable_reason(self) -> str | None:
        for tool in (self.java, self.javac):
            if which(tool) is None:
                return f"the '{tool}' command is not installed (Debian: apt-get install {JAVA_PACKAGE})"
        if which("openssl") is None:
            return "the 'openssl' command (cipher names for Java) is not installed (Debian: apt-get install openssl)"
        return None

    @property
    def jvm_pid(self) -> int | None:
        return self._jvm.pid if self._jvm else None

    def __enter__(self) -> "JavaProbe":
        reason = self.unavailable_reason()
        if reason:
            raise ToolMissing(self.java, reason)
        self.compiled = ensure_compiled(cache=self.cache, javac=self.javac)
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
        if self._jvm is not None:
            self._jvm.close()
            self._jvm = None

    def _start(self) -> _Jvm:
        assert self.compiled is not None
        self._jvm = _Jvm(self.compiled.classpath, self.crypto_policy, self.java)
        self.jvm_starts += 1
        return self._jvm

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        if not self._entered:
            raise LabError("the Java probe keeps a JVM running: use it as 'with JavaProbe() as probe: ...'")
        started = time.monotonic()
        request = request_for(target, spec, files)
        with self._lock:
            jvm = self._jvm or self._start()
            try:
                result = jvm.ask(request, timeout=spec.timeout + 10)
            except TimeoutError as exc:  # the JVM is stuck: replace it for the next probe
                jvm.close()
                self._jvm = None
                return outcome_from_error(self.name, f"timed out: {exc}", started)
        if "bad_request" in result:
            raise LabError(f"the Java probe could not use its inputs: {result['bad_request']}")
        if result.get("status") is not None:
            status = int(result["status"])
            return Outcome(self.name, http_symptom(status), result.get("status_line", f"HTTP {status}"),
                           http_status=status, protocol=result.get("protocol"), cipher=result.get("cipher"),
                           elapsed=time.monotonic() - started)
        raw = result.get("error") or (
            f"connection closed without an HTTP response (status line {result.get('status_line', '')!r})")
        # A missing staple is decided by TlsProbe.java itself (JSSE has no switch for it), and says so.
        judged_by = LAB if _PROBE_DECIDED.search(raw) else CLIENT
        return outcome_from_error(self.name, raw, started, judged_by=judged_by)
