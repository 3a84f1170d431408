"""``curl``: what customers paste into support tickets ('curl: (60) SSL certificate problem')."""

from __future__ import annotations

import os
import shlex
import time

from lab.probes.base import ClientFiles, Outcome, ProbeBase, Target, outcome_from_error, which
from lab.probes.cli_tool import run_tool
from lab.specs import ClientSpec, RevocationMode
from lab.symptoms import http_symptom
from lab.tls import client_handshake

_STATUS_MARK = "\ntlslab-http-status:"


def command(target: Target, spec: ClientSpec, files: ClientFiles) -> list[str]:
    """curl sends SNI whenever the URL holds a name, so 'no SNI' means connecting by IP address
    (and then the certificate is checked against that address, as curl would)."""
    argv = ["curl", "--silent", "--show-error", "--max-time", f"{spec.timeout:g}"]
    if spec.scheme == "http":  # an http:// URL: no TLS at all
        return argv + ["--resolve", f"{target.servername}:{target.port}:{target.host}", "--write-out",
                       _STATUS_MARK + "%{http_code}", f"http://{target.servername}:{target.port}/"]
    argv += ["--cacert", str(files.ca_file)]
    argv += CURL_ALPN[spec.alpn] if spec.alpn else []
    if spec.sni:
        argv += ["--resolve", f"{target.servername}:{target.port}:{target.host}"]
        url = f"https://{target.servername}:{target.port}/"
    else:
        url = f"https://{target.host}:{target.port}/"
    handshake = client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers)  # explicit, not curl's build
    argv += [f"--tlsv{handshake.min_protocol.curl_name}", "--tls-max", handshake.max_protocol.curl_name,
             "--ciphers", handshake.ciphers]
    if files.cert_file and files.key_file:
        argv += ["--cert", str(files.cert_file), "--key", str(files.key_file)]
    if spec.revocation is RevocationMode.REQUIRE_STAPLE:
        argv += ["--cert-status"]
    return argv + ["--write-out", _STATUS_MARK + "%{http_code}", url]


def shell_command(target: Target, spec: ClientSpec, files: ClientFiles) -> str:
    """The probe's curl command for a person to paste: verbose, shell-quoted, without the lab's status marker."""
    argv = command(target, spec, files)
    cut = argv.index("--write-out")
    return shlex.join(["curl", "-v", *argv[1:cut], argv[-1]])


FAKETIME_LIBS = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/faketime/libfaketime.so.1", "/usr/local/lib/faketime/libfaketime.so.1")


def faketime_library() -> str | None:
    """libfaketime, which shifts a tool's clock without touching the machine's (Debian: apt-get install faketime)."""
    return next((lib for lib in FAKETIME_LIBS if os.path.exists(lib)), None)


def faketime_env(offset_days: float) -> dict[str, str]:
    """The environment that runs a child `offset_days` ahead; monotonic clocks stay real so timeouts hold."""
    lib = faketime_library()
    if lib is None:
        raise FileNotFoundError("libfaketime")
    return {**os.environ, "LD_PRELOAD": lib, "FAKETIME": f"{offset_days * 86400:+.0f}",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"}


# curl's ALPN lists are fixed by its HTTP version options; with no option (spec alpn = []) it offers h2, http/1.1.
CURL_ALPN: dict[tuple[str, ...], list[str]] = {
    ("http/1.1",): ["--http1.1"], ("h2", "http/1.1"): ["--http2"], ("h2",): ["--http2-prior-knowledge"],
}


class CurlProbe(ProbeBase):
    name = "curl"
    description = "curl (the system curl and its OpenSSL)"
    plain_http = True  # an http:// URL
    alpn = True  # through --http1.1 / --http2 (curl picks the list from the HTTP version)

    def unsupported_reason(self, spec: ClientSpec) -> str | None:
        if spec.alpn and spec.alpn not in CURL_ALPN:
            return f"curl offers ALPN only as its HTTP versions do (http/1.1; h2, http/1.1), not {', '.join(spec.alpn)}"
        return super().unsupported_reason(spec)
    revocation_modes = frozenset({RevocationMode.NONE, RevocationMode.REQUIRE_STAPLE})
    revocation_note = "curl's only revocation check is --cert-status, which requires a valid staple"

    def clock_offset_reason(self) -> str | None:
        if faketime_library() is None:
            return "curl has no clock option and libfaketime is not installed (Debian: apt-get install faketime)"
        return None

    def unavailable_reason(self) -> str | None:
        if which("curl") is None:
            return "the 'curl' command is not installed (Debian: apt-get install curl)"
        return None

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        started = time.monotonic()
        env = faketime_env(spec.clock_offset_days) if spec.clock_offset_days else None
        result = run_tool(command(target, spec, files), timeout=spec.timeout + 2, env=env)
        if result.returncode is None:
            return outcome_from_error(self.name, f"timed out after {spec.timeout:g}s", started)
        out = result.stdout.decode("utf-8", "replace")
        body, _, code = out.rpartition(_STATUS_MARK)
        status = int(code) if code.strip().isdigit() else 0
        if result.returncode == 0 and status:
            return Outcome(self.name, http_symptom(status), f"HTTP {status}", http_status=status,
                           elapsed=time.monotonic() - started)
        raw = result.stderr.strip() or f"curl exited {result.returncode}"
        return outcome_from_error(self.name, raw, started)
