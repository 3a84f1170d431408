"""NSS's ``tstclnt`` (Debian libnss3-tools): the TLS stack of Firefox, Thunderbird and RHEL's curl.

NSS reads trust from a database, not a PEM file: the probe builds one NSS database per
(trust anchor, client certificate) in a temporary directory for its ``with`` block, with the
browser probe's :func:`lab.probes.browser.make_nssdb` (``certutil -A -t C,,``; the client
certificate imported from its PKCS12 with ``pk12util``, nickname ``tlslab-client``). The spec
maps onto tstclnt's flags (each checked against ``tstclnt -h`` of NSS 3.87):

* ``-h 127.0.0.1 -p PORT -a NAME``: ``-a`` is the name sent as SNI *and* verified. ``sni = false``
  drops ``-a``: NSS then sends no SNI for the IP literal and verifies the certificate against
  127.0.0.1 (as curl does when connecting by address);
* versions -> ``-V tls1.2:tls1.3``, always explicit;
* an OpenSSL cipher string -> IANA code points (``openssl ciphers -V``) -> ``-c :C02F:C013...``
  (``-c`` replaces every suite, so OpenSSL's default TLS 1.3 suites are listed too);
* the client certificate -> ``-n tlslab-client``;
* ``require-staple`` -> ``-T -O -F``: request a staple (cert_status) and verify with
  ``CERT_PKIXVerifyCert`` requiring fresh revocation data from that side channel. tstclnt
  reports that check by exit code only (2: missing, old or invalid data; 3: revoked) and then
  stops without an HTTP exchange, so a passing check is followed by a second connection for the
  request. ``staple`` is n/a: with ``-T`` alone NSS requests the staple but never checks it;
* clock offset: libfaketime (``LD_PRELOAD``), as for curl.

The request is read from a file (``-A``): tstclnt spins on a closed stdin pipe.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from lab.errors import ToolMissing
from lab.keystores import pkcs12_stores
from lab.probes.base import ClientFiles, Outcome, ProbeBase, Target, http_request, outcome_from_error, outcome_from_response, which
from lab.probes.browser import make_nssdb
from lab.probes.cli_tool import ToolResult, run_tool
from lab.probes.curl import faketime_env, faketime_library
from lab.probes.suites import suite_codes
from lab.specs import ClientSpec, RevocationMode
from lab.tls import Protocol, client_handshake

NSS_PACKAGE = "libnss3-tools"
CLIENT_NICKNAME = "tlslab-client"  # the friendly name lab.keystores gives the client key
_VERSIONS = {Protocol.TLSv1_0: "tls1.0", Protocol.TLSv1_1: "tls1.1", Protocol.TLSv1_2: "tls1.2",
             Protocol.TLSv1_3: "tls1.3"}
TLS13_CODES = (0x1301, 0x1302, 0x1303)  # TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256
# tstclnt -h: "-F ... Exit code: 0: have fresh and valid revocation data, status good /
# 1: cert failed to verify, prior to revocation checking / 2: missing, old or invalid revocation
# data / 3: have fresh and valid revocation data, status revoked"
FRESH_REVOCATION_EXIT = {1: "cert failed to verify, prior to revocation checking",
                         2: "missing, old or invalid revocation data",
                         3: "have fresh and valid revocation data, status revoked"}
_HTTP_STATUS = re.compile(rb"^HTTP/1\.[01] \d{3}[^\r\n]*", re.MULTILINE)
_STAPLES = re.compile(r"Received \d+ Cert Status items \(OCSP stapled data\)")
_NOISE = re.compile(r"^(subject DN:|issuer  DN:|\d+ cache hits|\d+ stateless resumes|Received \d+ Cert Status)")


def cipher_arg(spec: ClientSpec) -> str | None:
    """``-c`` for the spec's cipher string (None: NSS's own defaults, as Java keeps JSSE's)."""
    if not spec.ciphers:
        return None
    handshake = client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers)
    codes = [*TLS13_CODES, *(code for code, _ in suite_codes(handshake.ciphers))]
    return "".join(f":{code:04X}" for code in codes)


def command(target: Target, spec: ClientSpec, db: Path, request_file: Path, *, fresh_revocation: bool = False,
            client_cert: bool = False) -> list[str]:
    handshake = client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers)
    argv = ["tstclnt", "-h", target.host, "-p", str(target.port)]
    if spec.sni:
        argv += ["-a", target.servername]
    argv += ["-d", f"sql:{db}", "-V", f"{_VERSIONS[handshake.min_protocol]}:{_VERSIONS[handshake.max_protocol]}"]
    ciphers = cipher_arg(spec)
    if ciphers:
        argv += ["-c", ciphers]
    if client_cert:
        argv += ["-n", CLIENT_NICKNAME]
    if spec.revocation is RevocationMode.REQUIRE_STAPLE:
        argv += ["-T", "-O"] + (["-F"] if fresh_revocation else [])
    return argv + ["-A", str(request_file)]


def fresh_revocation_words(result: ToolResult) -> str | None:
    """tstclnt -F's verdict in its own words (its exit code's meaning, and how many staples it got)."""
    if result.returncode not in FRESH_REVOCATION_EXIT:
        return None
    staples = _STAPLES.search(result.stderr)
    words = f"tstclnt -F exit {result.returncode}: {FRESH_REVOCATION_EXIT[result.returncode]}"
    return words + (f" ({staples.group(0)})" if staples else "")


class NssProbe(ProbeBase):
    name = "nss"
    description = "NSS tstclnt (Firefox's TLS stack), one NSS database per trust anchor"
    revocation_modes = frozenset({RevocationMode.NONE, RevocationMode.REQUIRE_STAPLE})
    revocation_note = ("tstclnt checks a staple only when it requires fresh revocation data (-F); "
                       "with -T alone it requests the staple and never checks it")

    def __init__(self) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._dbs: dict[tuple[str, str], Path] = {}
        self._lock = threading.Lock()

    def unavailable_reason(self) -> str | None:
        for tool in ("tstclnt", "certutil", "pk12util"):
            if which(tool) is None:
                return f"the '{tool}' command is not installed (Debian: apt-get install {NSS_PACKAGE})"
        if which("openssl") is None:
            return "the 'openssl' command (cipher code points for NSS) is not installed (Debian: apt-get install openssl)"
        return None

    def clock_offset_reason(self) -> str | None:
        if faketime_library() is None:
            return "tstclnt has no clock option and libfaketime is not installed (Debian: apt-get install faketime)"
        return None

    def __enter__(self) -> "NssProbe":
        reason = self.unavailable_reason()
        if reason:
            raise ToolMissing("tstclnt", reason)
        self._tmp = tempfile.TemporaryDirectory(prefix="tlslab-nss-")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self._dbs.clear()

    @property
    def workdir(self) -> Path | None:
        return Path(self._tmp.name) if self._tmp else None

    def _db(self, files: ClientFiles) -> Path:
        """The NSS database trusting this spec's anchor (and holding its client certificate), built once."""
        assert self._tmp is not None
        keystore = pkcs12_stores(files)[1] if files.cert_file and files.key_file else None
        key = (str(files.ca_file), str(keystore or ""))
        with self._lock:
            if key not in self._dbs:
                home = Path(self._tmp.name) / f"db{len(self._dbs)}"
                make_nssdb(home, files.ca_file, keystore)
                self._dbs[key] = home / ".pki" / "nssdb"
            return self._dbs[key]

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        started = time.monotonic()
        if self._tmp is None:
            with self:
                return self.run(target, spec, files)
        db = self._db(files)
        request_file = Path(self._tmp.name) / f"request-{target.port}-{threading.get_ident()}.txt"
        request_file.write_bytes(http_request(target.servername))
        env = faketime_env(spec.clock_offset_days) if spec.clock_offset_days else None
        client_cert = bool(files.cert_file and files.key_file)

        def tstclnt(fresh: bool) -> ToolResult:
            return run_tool(command(target, spec, db, request_file, fresh_revocation=fresh, client_cert=client_cert),
                            timeout=spec.timeout, env=env)

        if spec.revocation is RevocationMode.REQUIRE_STAPLE:
            checked = tstclnt(True)
            if checked.returncode is None:
                return outcome_from_error(self.name, f"timed out after {spec.timeout:g}s", started)
            # exit 1 (the chain failed before any revocation check): the plain connection below
            # shows NSS's own reason (SEC_ERROR_UNKNOWN_ISSUER, ...), which -F does not print.
            if checked.returncode not in (0, 1):
                return outcome_from_error(self.name, self._words(checked), started)
        result = tstclnt(False)
        if result.returncode is None:
            return outcome_from_error(self.name, f"timed out after {spec.timeout:g}s", started)
        http = _HTTP_STATUS.search(result.stdout)
        if http:
            return outcome_from_response(self.name, result.stdout[http.start():], started)
        return outcome_from_error(self.name, self._words(result), started)

    @staticmethod
    def _words(result: ToolResult) -> str:
        lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip() and not _NOISE.match(ln.strip())]
        fresh = fresh_revocation_words(result) if not any("tstclnt:" in ln for ln in lines) else None
        return " | ".join([*lines, *([fresh] if fresh else [])]) or f"tstclnt exited {result.returncode} without output"
