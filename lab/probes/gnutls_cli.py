"""``gnutls-cli`` (Debian gnutls-bin): the GnuTLS stack of wget, git-over-https on Debian, exim, ...

The spec maps onto the command line:

* versions -> ``--priority NORMAL:-VERS-ALL:+VERS-TLS1.2...``, always explicit;
* an OpenSSL cipher string -> IANA names (``openssl ciphers -stdname``) -> GnuTLS's key
  exchange, cipher and MAC names (``-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:+AES-128-GCM:-MAC-ALL:+AEAD``).
  A priority string enables key exchanges x ciphers x MACs, not single suites, so GnuTLS may
  offer a few more combinations of the same parts (never another part); suites whose parts GnuTLS
  lacks are dropped. Those parts restrict TLS 1.3 too, so a cipher string with TLS 1.3 allowed is n/a;
* SNI -> ``--sni-hostname``, or ``--disable-sni``; the name is always verified (``--verify-hostname``);
* trust -> ``--x509cafile``; the client certificate -> ``--x509certfile``/``--x509keyfile``;
* revocation: GnuTLS itself asks for a staple and rejects a bad one (or a must-staple leaf
  without one): the ``staple`` mode. ``gnutls-cli --ocsp`` falls back to asking the responder
  itself when no staple came, so it cannot *require* a staple: ``require-staple`` is n/a.
* clock offset: libfaketime (``LD_PRELOAD``), as for curl.

The HTTP request goes in on stdin; the words are GnuTLS's: ``- Status: The certificate is NOT
trusted. The certificate issuer is unknown.``, ``*** Received alert [40]: Handshake failed``.
"""

from __future__ import annotations

import re
import subprocess
import time

from lab.probes.base import ClientFiles, Outcome, ProbeBase, Target, http_request, outcome_from_error, outcome_from_response, which
from lab.probes.cli_tool import run_tool
from lab.probes.curl import faketime_env, faketime_library
from lab.probes.suites import iana_suites
from lab.specs import ClientSpec, RevocationMode, ServerSpec
from lab.tls import Protocol, client_handshake

GNUTLS_PACKAGE = "gnutls-bin"
_VERS = {Protocol.TLSv1_0: "VERS-TLS1.0", Protocol.TLSv1_1: "VERS-TLS1.1",
         Protocol.TLSv1_2: "VERS-TLS1.2", Protocol.TLSv1_3: "VERS-TLS1.3"}
_KX = {"RSA": "RSA", "ECDHE_RSA": "ECDHE-RSA", "ECDHE_ECDSA": "ECDHE-ECDSA", "DHE_RSA": "DHE-RSA",
       "DHE_DSS": "DHE-DSS"}
# IANA bulk cipher -> (GnuTLS cipher, AEAD?)
_CIPHERS = {"AES_128_GCM": ("AES-128-GCM", True), "AES_256_GCM": ("AES-256-GCM", True),
            "AES_128_CCM_8": ("AES-128-CCM-8", True), "AES_256_CCM_8": ("AES-256-CCM-8", True),
            "AES_128_CCM": ("AES-128-CCM", True), "AES_256_CCM": ("AES-256-CCM", True),
            "CHACHA20_POLY1305": ("CHACHA20-POLY1305", True),
            "AES_128_CBC": ("AES-128-CBC", False), "AES_256_CBC": ("AES-256-CBC", False),
            "CAMELLIA_128_CBC": ("CAMELLIA-128-CBC", False), "CAMELLIA_256_CBC": ("CAMELLIA-256-CBC", False),
            "CAMELLIA_128_GCM": ("CAMELLIA-128-GCM", True), "CAMELLIA_256_GCM": ("CAMELLIA-256-GCM", True),
            "3DES_EDE_CBC": ("3DES-CBC", False)}
_MACS = {"SHA": "SHA1", "SHA256": "SHA256", "SHA384": "SHA384"}


def gnutls_parts(iana: str) -> tuple[str, str, str] | None:
    """An IANA TLS <= 1.2 suite as GnuTLS (key exchange, cipher, MAC) names; None if GnuTLS lacks a part."""
    kx, sep, rest = iana.removeprefix("TLS_").partition("_WITH_")
    if not sep or kx not in _KX:
        return None
    for name in sorted(_CIPHERS, key=len, reverse=True):  # AES_128_CCM_8 before AES_128_CCM
        if rest.startswith(name + "_") or rest == name:
            cipher, aead = _CIPHERS[name]
            mac = rest[len(name):].lstrip("_")
            if aead:
                return _KX[kx], cipher, "AEAD"
            return (_KX[kx], cipher, _MACS[mac]) if mac in _MACS else None
    return None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def priority(spec: ClientSpec) -> str:
    """The ``--priority`` string for the spec's versions and (if it names them) cipher suites."""
    handshake = client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers)
    parts = ["NORMAL", "-VERS-ALL"] + [f"+{_VERS[p]}" for p in reversed(Protocol)
                                        if handshake.min_protocol <= p <= handshake.max_protocol]
    if spec.ciphers:
        mapped = [p for p in (gnutls_parts(s) for s in iana_suites(handshake.ciphers) if "_WITH_" in s) if p]
        parts += ["-KX-ALL"] + [f"+{k}" for k in _unique([m[0] for m in mapped])]
        parts += ["-CIPHER-ALL"] + [f"+{c}" for c in _unique([m[1] for m in mapped])]
        parts += ["-MAC-ALL"] + [f"+{m}" for m in _unique([m[2] for m in mapped])]
    return ":".join(parts)


def command(target: Target, spec: ClientSpec, files: ClientFiles) -> list[str]:
    argv = ["gnutls-cli", target.host, "--port", str(target.port), "--x509cafile", str(files.ca_file),
            "--verify-hostname", target.servername]
    argv += ["--sni-hostname", target.servername] if spec.sni else ["--disable-sni"]
    argv += ["--priority", priority(spec)]
    if files.cert_file and files.key_file:
        argv += ["--x509certfile", str(files.cert_file), "--x509keyfile", str(files.key_file)]
    return argv


_HTTP_STATUS = re.compile(rb"^HTTP/1\.[01] \d{3}[^\r\n]*", re.MULTILINE)
# What gnutls-cli prints about a failure: its "- Status:" verdict (certificate), "*** ..." (fatal).
_WORDS = re.compile(r"^(?:- Status: .*NOT trusted.*|\*\*\* .*|Error .*)$", re.MULTILINE)


def tool_version() -> str:
    try:
        out = subprocess.run(["gnutls-cli", "--version"], capture_output=True, text=True, timeout=5).stdout
        return out.splitlines()[0].strip() if out else "gnutls-cli"
    except OSError:
        return "gnutls-cli (not installed)"


class GnuTlsProbe(ProbeBase):
    name = "gnutls"
    description = "gnutls-cli (GnuTLS's command-line client)"
    revocation_modes = frozenset({RevocationMode.NONE, RevocationMode.STAPLE})
    revocation_note = ("GnuTLS verifies a staple when one comes, but gnutls-cli cannot require one "
                       "(--ocsp asks the responder itself when none was stapled)")

    def unavailable_reason(self) -> str | None:
        if which("gnutls-cli") is None:
            return f"the 'gnutls-cli' command is not installed (Debian: apt-get install {GNUTLS_PACKAGE})"
        if which("openssl") is None:
            return "the 'openssl' command (cipher names for GnuTLS) is not installed (Debian: apt-get install openssl)"
        return None

    def clock_offset_reason(self) -> str | None:
        if faketime_library() is None:
            return "gnutls-cli has no clock option and libfaketime is not installed (Debian: apt-get install faketime)"
        return None

    def unsupported_reason(self, spec: ClientSpec) -> str | None:
        why = super().unsupported_reason(spec)
        if why is None and spec.ciphers:
            handshake = client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers)
            if handshake.max_protocol is Protocol.TLSv1_3:
                why = ("gnutls: a priority string's cipher list restricts TLS 1.3 as well, so a TLS <= 1.2 "
                       "cipher string cannot be expressed while TLS 1.3 is allowed")
            elif not any(gnutls_parts(s) for s in iana_suites(handshake.ciphers)):
                why = f"gnutls: GnuTLS has none of the cipher suites in {spec.ciphers!r}"
        return why

    def server_unsupported_reason(self, server: ServerSpec) -> str | None:
        if server.intercepted:
            return ("gnutls-cli says goodbye (close_notify) as soon as its input ends, and the lab's intercepting "
                    "proxy (Twisted's TLS) ends the client's connection on close_notify before it relays the "
                    "server's answer: a limit of the lab's proxy, not of GnuTLS")
        return None

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        started = time.monotonic()
        env = faketime_env(spec.clock_offset_days) if spec.clock_offset_days else None
        result = run_tool(command(target, spec, files), stdin=http_request(target.servername),
                          timeout=spec.timeout, env=env)
        if result.returncode is None:
            return outcome_from_error(self.name, f"timed out after {spec.timeout:g}s", started)
        http = _HTTP_STATUS.search(result.stdout)
        if http:
            return outcome_from_response(self.name, result.stdout[http.start():], started)
        text = result.stdout.decode("utf-8", "replace") + "\n" + result.stderr
        words = _unique([m.group(0).strip() for m in _WORDS.finditer(text)])
        raw = " | ".join(words) or f"gnutls-cli exited {result.returncode} without output"
        return outcome_from_error(self.name, raw, started)
