"""Headless Chromium: what a workshop student's browser shows (``net::ERR_CERT_AUTHORITY_INVALID``, ...).

Debian's ``chromium`` is driven through Playwright for Python with the system executable:
nothing is downloaded at install or run time (never run ``playwright install``).

Trust, per profile only: Chromium on Linux reads user trust anchors from the NSS database in
``$HOME/.pki/nssdb``. Each browser process gets a temporary ``HOME`` whose NSS database
(``certutil``, Debian ``libnss3-tools``) trusts exactly the spec's anchor; the lab CA never
touches the machine's trust store, and the directory is removed on exit.

Client certificates, per profile too: the certificate and key go into the same NSS database
(``pk12util``), and the profile's own ``Preferences`` carry the content setting behind the
``AutoSelectCertificateForUrls`` policy (``auto_select_certificate`` for the lab's names), so
Chromium itself presents the certificate without a selection dialog. (Playwright's
``client_certificates`` option is not used: it does the TLS in Node.js, not in Chromium.)
Such a profile needs a persistent user-data directory, so it gets a persistent context.

A browser cannot pin everything a scenario's client spec pins, and some pins need a browser
process of their own (command-line switches). So one browser per distinct
(trust anchor, TLS version range, cipher set, client certificate) is launched lazily and reused; each probe gets a
fresh context (no cookies, no TLS session reuse). What Chromium cannot express at all is
reported by :meth:`BrowserProbe.unsupported_reason`, from the spec alone, before anything runs:

* ``sni = false``: a browser always sends ``server_name``;
* TLS 1.0/1.1: Chromium removed them (``--ssl-version-min`` accepts tls1.2 and up);
* a cipher string that leaves none of Chromium's TLS 1.2 suites.

Every host name resolves to the target address (``--host-resolver-rules=MAP * <host>``), so the
browser never sends traffic anywhere but the lab server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.errors import LabError, ToolMissing
from lab.probes.base import ClientFiles, Outcome, ProbeBase, Target, outcome_from_error, which
from lab.keystores import STORE_PASSWORD, pkcs12_stores
from lab.probes.suites import iana_suites
from lab.specs import ClientSpec, ServerSpec
from lab.symptoms import http_symptom
from lab.tempdirs import make_owned_dir
from lab.tls import Protocol

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Chromium's TLS <= 1.2 cipher suites (BoringSSL's list; TLS 1.3 suites cannot be disabled).
CHROMIUM_TLS12_SUITES: dict[str, int] = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": 0xC02B, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": 0xC02F,
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 0xC02C, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": 0xC030,
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA9, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA8,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": 0xC009, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": 0xC00A,
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": 0xC013, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": 0xC014,
    "TLS_RSA_WITH_AES_128_GCM_SHA256": 0x009C, "TLS_RSA_WITH_AES_256_GCM_SHA384": 0x009D,
    "TLS_RSA_WITH_AES_128_CBC_SHA": 0x002F, "TLS_RSA_WITH_AES_256_CBC_SHA": 0x0035,
}
_SWITCHES = ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--disable-default-apps", "--no-default-browser-check")
_NET_ERROR = re.compile(r"net::ERR_[A-Z0-9_]+")
# Chromium makes $TMPDIR/org.chromium.Chromium.XXXXXX/SingletonSocket, and a Unix socket path has
# 108 bytes at most: a longer $TMPDIR is a FATAL "Socket path too long" at launch.
CHROMIUM_TMPDIR_MAX = 60
SHORT_TMP = Path("/tmp")
DRIVER_CLOSED = "Connection closed while reading from the driver"  # playwright/_impl/transport.py
_VERSION_SWITCH = {Protocol.TLSv1_2: "tls1.2", Protocol.TLSv1_3: "tls1.3"}


def chromium_path() -> str | None:
    """``$TLSLAB_CHROMIUM``, else the first Chromium on PATH."""
    if env := os.environ.get("TLSLAB_CHROMIUM"):
        return env if Path(env).exists() else None
    for name in CHROMIUM_CANDIDATES:
        if found := which(name):
            return found
    return None


def _playwright_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install 'tlslab[browser]' or pip install playwright)"
    return None


def blocked_suites(spec: ClientSpec) -> tuple[int, ...] | None:
    """Chromium's TLS 1.2 suites the spec's cipher string leaves out (for ``--cipher-suite-blacklist``)."""
    if not spec.ciphers:
        return ()
    wanted = set(iana_suites(spec.ciphers))
    if not wanted & set(CHROMIUM_TLS12_SUITES):
        return None
    return tuple(sorted(code for name, code in CHROMIUM_TLS12_SUITES.items() if name not in wanted))


@dataclass(frozen=True)
class _Profile:
    """What needs its own browser process: switches and the NSS trust anchor."""

    trust: Path
    host: str
    version_min: str | None
    version_max: str | None
    blocked: tuple[int, ...]
    client_pkcs12: Path | None = None  # client certificate + key (2-way TLS)

    @classmethod
    def for_spec(cls, spec: ClientSpec, files: ClientFiles, target: Target) -> "_Profile":
        keystore = pkcs12_stores(files)[1] if files.cert_file else None
        version_max = _VERSION_SWITCH.get(spec.max_protocol) if spec.max_protocol else None
        if keystore is not None and version_max is None:
            # With TLS 1.3 the server judges a client certificate after Chromium's handshake is done;
            # its alert then races the connection's close and Chromium reports either
            # ERR_BAD_SSL_CLIENT_AUTH_CERT or ERR_SOCKET_NOT_CONNECTED. TLS 1.2 (the document's
            # version throughout) delivers the verdict inside the handshake: one answer, every time.
            version_max = _VERSION_SWITCH[Protocol.TLSv1_2]
        return cls(files.ca_file, target.host,
                   _VERSION_SWITCH.get(spec.min_protocol) if spec.min_protocol else None,
                   version_max, blocked_suites(spec) or (), keystore)

    def switches(self) -> list[str]:
        out = [*_SWITCHES, f"--host-resolver-rules=MAP * {self.host}"]
        if self.version_min:
            out.append(f"--ssl-version-min={self.version_min}")
        if self.version_max:
            out.append(f"--ssl-version-max={self.version_max}")
        if self.blocked:
            out.append("--cipher-suite-blacklist=" + ",".join(f"0x{c:04x}" for c in self.blocked))
        return out


# Origins whose client-certificate requests the profile answers by itself (the lab CA's names).
AUTO_SELECT_PATTERNS = ("https://[*.]lab.test:*,*", "https://localhost:*,*", "https://127.0.0.1:*,*")


def make_nssdb(home: Path, ca_file: Path, client_pkcs12: Path | None = None) -> None:
    """An NSS database in ``home/.pki/nssdb`` that trusts `ca_file` for TLS servers (and nothing else),
    holding the client certificate and key from `client_pkcs12` when given."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, mode=0o700)
    commands = [["certutil", "-N", "--empty-password", "-d", f"sql:{db}"]]
    if ca_file.stat().st_size:  # an empty bundle: a profile that trusts no lab CA at all
        commands.append(["certutil", "-A", "-n", f"tlslab {ca_file.stem}", "-t", "C,,", "-i", str(ca_file),
                         "-d", f"sql:{db}"])
    if client_pkcs12 is not None:
        commands.append(["pk12util", "-i", str(client_pkcs12), "-d", f"sql:{db}", "-W", STORE_PASSWORD])
    for argv in commands:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise LabError(f"{argv[0]} could not build the browser's NSS database: "
                           f"{(result.stderr or result.stdout).strip()}")


def write_auto_select_preferences(user_data_dir: Path) -> None:
    """The profile-level form of the AutoSelectCertificateForUrls policy: present the (only) client
    certificate to the lab's origins without a dialog."""
    setting: dict[str, Any] = {"setting": {"filters": [{}]}}
    prefs = {"profile": {"content_settings": {"exceptions": {
        "auto_select_certificate": {pattern: setting for pattern in AUTO_SELECT_PATTERNS}}}}}
    (user_data_dir / "Default").mkdir(parents=True, exist_ok=True)
    (user_data_dir / "Default" / "Preferences").write_text(json.dumps(prefs))


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables for the block (for a child that copies ``os.environ`` when it starts)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class _DriverGone(logging.Filter):
    """Drop asyncio's "Future exception was never retrieved" for Playwright calls the dead driver left.

    A terminal Ctrl-C reaches the Playwright driver (same process group) as well as the lab: the
    driver exits at once, and the futures of the calls it was serving fail with nobody left to
    read them. asyncio then prints that message after the lab's last line; the lab has already
    stopped everything, so it is noise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Future exception was never retrieved"):
            return True
        try:
            from playwright.sync_api import Error
        except ImportError:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        # Playwright's transport fails its error future with a plain Exception of these words, and
        # a write to the dead driver's pipe with a BrokenPipeError (the lab's only asyncio user is
        # Playwright, so a ConnectionError here is the driver's pipe).
        return not (isinstance(exc, (Error, ConnectionError)) or str(exc) == DRIVER_CLOSED)


def _quiet_when_the_driver_dies() -> None:
    log = logging.getLogger("asyncio")
    if not any(isinstance(f, _DriverGone) for f in log.filters):
        log.addFilter(_DriverGone())


class BrowserProbe(ProbeBase):
    name = "browser"
    description = "headless Chromium (Debian's chromium via Playwright), lab CA trusted in its profile only"
    revocation_note = ("Chromium does not check OCSP for ordinary certificates (it relies on CRLSets) "
                       "and has no switch to require a staple")
    plain_http = True  # an http:// URL
    alpn = True  # only its own list: h2, http/1.1 (see unsupported_reason)

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable
        self._stack: contextlib.ExitStack | None = None
        self._worker: ThreadPoolExecutor | None = None
        self._playwright: Any = None
        self._browsers: dict[_Profile, Any] = {}
        self._root: Path | None = None
        self._tmp = Path("/tmp")  # where Chromium and the Playwright driver put their temp files
        self.launches = 0  # browser processes started (one per distinct profile)

    def unavailable_reason(self) -> str | None:
        if (self.executable and not Path(self.executable).exists()) or (not self.executable and not chromium_path()):
            return "Chromium is not installed (Debian: apt-get install chromium)"
        for tool in ("certutil", "pk12util"):
            if which(tool) is None:
                return f"the '{tool}' command (the browser profile's NSS store) is not installed " \
                       "(Debian: apt-get install libnss3-tools)"
        return _playwright_missing()

    def unsupported_reason(self, spec: ClientSpec) -> str | None:
        """What of `spec` Chromium cannot express (the harness then reports n/a, never a pass)."""
        why = super().unsupported_reason(spec)  # revocation modes, clock offset
        if why:
            return why
        if not spec.sni:
            return "a browser always sends SNI (server_name); it cannot play a client without it"
        for version in (spec.min_protocol, spec.max_protocol):
            if version is not None and version < Protocol.TLSv1_2:
                return f"Chromium removed TLS 1.0/1.1; it cannot speak {version.value}"
        if spec.ciphers and blocked_suites(spec) is None:
            return "none of the spec's cipher suites exists in Chromium"
        if spec.ciphers and "@SECLEVEL" in spec.ciphers:
            return "Chromium (BoringSSL) has no OpenSSL security level: @SECLEVEL means nothing to it"
        if spec.alpn and spec.alpn != ("h2", "http/1.1"):
            return "Chromium always offers ALPN h2, http/1.1; it cannot offer another list"
        return None

    def server_unsupported_reason(self, server: ServerSpec) -> str | None:
        suites = [c for c in (server.ciphers or "").split(":") if c and not c.startswith("@")]
        if suites and all(c.startswith(("DHE-", "EDH-")) for c in suites):
            return "Chromium removed every finite-field DHE suite (Chrome 53): it cannot meet a DHE-only server"
        return None

    # -- lifecycle: every Playwright call happens on one worker thread (its sync API is thread-bound)
    def __enter__(self) -> "BrowserProbe":
        reason = self.unavailable_reason()
        if reason:
            raise ToolMissing("chromium", reason)
        stack = contextlib.ExitStack()
        try:
            # Everything the browsers write goes under one owner-marked directory (tlslab down sweeps
            # it after a kill -9): profiles, NSS databases, and Chromium's and the driver's temp files.
            self._root = make_owned_dir("tlslab-browser-")
            stack.callback(shutil.rmtree, self._root, True)
            self._tmp = self._root / "tmp"
            if len(str(self._tmp)) > CHROMIUM_TMPDIR_MAX:  # a deep $TMPDIR: Chromium's socket path must fit
                self._tmp = make_owned_dir("tlslab-browser-tmp-", SHORT_TMP)
                stack.callback(shutil.rmtree, self._tmp, True)
            else:
                self._tmp.mkdir(mode=0o700)
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tlslab-browser")
            stack.callback(self._worker.shutdown)
            stack.callback(self._call, self._stop_all)
            self._call(self._start_playwright)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def _call(self, fn: Any, *args: Any) -> Any:
        assert self._worker is not None
        return self._worker.submit(fn, *args).result()

    def _start_playwright(self) -> None:
        from playwright.sync_api import sync_playwright
        _quiet_when_the_driver_dies()
        with _environ(TMPDIR=str(self._tmp)):  # the driver's own temp dirs (launch profiles)
            self._playwright = sync_playwright().start()

    def _stop_all(self) -> None:
        for browser in self._browsers.values():
            with contextlib.suppress(Exception):
                browser.close()
        self._browsers.clear()
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                self._playwright.stop()
            self._playwright = None

    def _browser(self, profile: _Profile) -> Any:
        """A browser (or, with a client certificate, a persistent context) for `profile`, launched once."""
        browser = self._browsers.get(profile)
        if browser is None:
            assert self._root is not None
            home = make_owned_dir("home-", self._root)
            make_nssdb(home, profile.trust, profile.client_pkcs12)
            env = {k: v for k, v in os.environ.items() if k not in ("http_proxy", "https_proxy", "HTTP_PROXY",
                                                                     "HTTPS_PROXY", "all_proxy", "ALL_PROXY")}
            env["HOME"] = str(home)
            env["TMPDIR"] = str(self._tmp)  # Chromium's org.chromium.Chromium.* directories
            options: dict[str, Any] = {"executable_path": self.executable or chromium_path(), "headless": True,
                                       "args": profile.switches(), "env": env,
                                       "timeout": 30_000}  # a launch that hangs fails instead
            if profile.client_pkcs12 is None:
                browser = self._playwright.chromium.launch(**options)
            else:  # the auto-select setting lives in the profile, so the profile must be ours
                user_data = home / "chromium-profile"
                write_auto_select_preferences(user_data)
                browser = self._playwright.chromium.launch_persistent_context(str(user_data), **options)
            self._browsers[profile] = browser
            self.launches += 1
        return browser

    def _load(self, profile: _Profile, url: str, timeout: float) -> dict[str, Any]:
        browser = self._browser(profile)
        persistent = profile.client_pkcs12 is not None
        # A fresh context per probe. A persistent one cannot be recreated cheaply, so it gets a fresh
        # page, and the previous pages close only once it exists (closing a persistent context's last
        # page can hang Playwright). Each phase's server is a new process: no handshake is reused.
        context = browser if persistent else browser.new_context()
        try:
            page = context.new_page()
            if persistent:
                for old in [p for p in context.pages if p is not page]:
                    old.close()
            try:
                response = page.goto(url, timeout=timeout * 1000, wait_until="commit")
            except Exception as exc:  # playwright.sync_api.Error: the page's network error
                text = str(exc)
                found = _NET_ERROR.search(text)
                if found:
                    return {"error": found.group(0)}
                if "Timeout" in type(exc).__name__ or "Timeout" in text:
                    return {"error": f"timed out after {timeout:g}s loading the page"}
                return {"error": text.splitlines()[0] if text else type(exc).__name__}
            if response is None:
                return {"error": "no response"}
            details = response.security_details() or {}
            return {"status": response.status, "status_text": response.status_text, "protocol": details.get("protocol")}
        finally:
            if not persistent:
                context.close()

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        if self._stack is None:
            raise LabError("the browser probe keeps Chromium running: use it as 'with BrowserProbe() as probe: ...'")
        reason = self.unsupported_reason(spec)
        if reason:
            raise LabError(f"the browser cannot express this client spec: {reason}")
        started = time.monotonic()
        profile = _Profile.for_spec(spec, files, target)
        result = self._call(self._load, profile, f"{spec.scheme}://{target.servername}:{target.port}/", spec.timeout)
        if "status" in result:
            status = int(result["status"])
            return Outcome(self.name, http_symptom(status), f"HTTP {status} {result.get('status_text', '')}".strip(),
                           http_status=status, protocol=result.get("protocol"), elapsed=time.monotonic() - started)
        return outcome_from_error(self.name, str(result["error"]), started)
