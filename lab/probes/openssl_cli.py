"""``openssl s_client``: the support engineer's first tool, exactly as the documents run it."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shlex
import subprocess
import time

from lab.ocsp import LEEWAY
from lab.probes.base import LAB, ClientFiles, Outcome, ProbeBase, Target, http_request, outcome_from_error, outcome_from_response, which
from lab.probes.cli_tool import run_tool
from lab.probes.pyopenssl_probe import client_clock
from lab.specs import ClientSpec, RevocationMode
from lab.tls import client_handshake

_NOISE = re.compile(r"^(depth=|verify return:|CONNECTED\(|DONE|---|Connecting to )")


def command(target: Target, spec: ClientSpec, files: ClientFiles, *, host: str | None = None) -> list[str]:
    """The s_client command line for this spec (also shown to users as 'try it by hand')."""
    argv = ["openssl", "s_client", "-connect", f"{host or target.host}:{target.port}"]
    argv += ["-servername", target.servername] if spec.sni else ["-noservername"]
    argv += ["-verify_hostname", target.servername, "-verify_return_error"]
    # An empty bundle: no trust store at all (not even the system's), as on a slim image without one.
    argv += ["-no-CAfile", "-no-CApath", "-no-CAstore"] if files.trusts_nothing else ["-CAfile", str(files.ca_file)]
    handshake = client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers)  # explicit, not openssl.cnf's
    argv += ["-min_protocol", handshake.min_protocol.value.replace("TLSv1.0", "TLSv1"),
             "-max_protocol", handshake.max_protocol.value.replace("TLSv1.0", "TLSv1"),
             "-cipher", handshake.ciphers]
    if files.cert_file and files.key_file:
        # -cert reads only the leaf; -cert_chain sends the rest of the file (a client certificate issued
        # by an intermediate, e.g. a team's own) as curl and Python do with the same file.
        argv += ["-cert", str(files.cert_file), "-key", str(files.key_file), "-cert_chain", str(files.cert_file)]
    if spec.alpn:
        argv += ["-alpn", ",".join(spec.alpn)]
    if spec.clock_offset_days:
        argv += ["-attime", str(int(client_clock(spec).timestamp()))]  # the chain is verified at the skewed time
    if spec.revocation is not RevocationMode.NONE:
        return argv + ["-status", "-ign_eof"]  # -quiet would silence the printed OCSP response
    return argv + ["-quiet"]


_HTTP_STATUS = re.compile(rb"^HTTP/1\.[01] \d{3}[^\r\n]*", re.MULTILINE)
_GMT = "%b %d %H:%M:%S %Y GMT"


def _printed_time(block: str, label: str) -> dt.datetime | None:
    m = re.search(rf"{label}: (.+?GMT)", block)
    if not m:
        return None
    with contextlib.suppress(ValueError):
        return dt.datetime.strptime(m.group(1).strip(), _GMT).replace(tzinfo=dt.timezone.utc)
    return None


def judge_status(stdout: str, spec: ClientSpec) -> str | None:
    """The lab's reading of what ``s_client -status`` printed: a failure sentence, or None.

    s_client requests and *prints* the staple but never fails the handshake over it, and never
    checks its signature: the lab judges the printed response status, time window (against the
    probe's clock) and certificate status, as a person reading the output would.
    """
    said = "(s_client -status printed it; the handshake itself went on)"
    if "OCSP response: no response sent" in stdout:
        return None if spec.revocation is RevocationMode.STAPLE else f"OCSP response: no response sent {said}"
    start = stdout.find("OCSP response:")
    if start < 0:
        return None
    data = stdout.find("OCSP Response Data", start)
    end = stdout.find("\n======", data) if data >= 0 else -1
    block = stdout[start:end if end >= 0 else len(stdout)]
    status = re.search(r"OCSP Response Status: (\w+)", block)
    if status and status.group(1) != "successful":
        return None if spec.revocation is RevocationMode.STAPLE else f"OCSP Response Status: {status.group(1)} {said}"
    now = client_clock(spec)
    next_update, this_update = _printed_time(block, "Next Update"), _printed_time(block, "This Update")
    if next_update and now > next_update + LEEWAY:
        return f"OCSP response has expired: Next Update {next_update:%Y-%m-%d %H:%M:%SZ} < probe clock {now:%Y-%m-%d %H:%M:%SZ} {said}"
    if this_update and now < this_update - LEEWAY:
        return f"OCSP response is not yet valid: This Update {this_update:%Y-%m-%d %H:%M:%SZ} > probe clock {now:%Y-%m-%d %H:%M:%SZ} {said}"
    cert_status = re.search(r"Cert Status: (\w+)", block)
    if cert_status and cert_status.group(1) != "good":
        reason = re.search(r"Revocation Reason: (\w+)", block)
        return f"Cert Status: {cert_status.group(1)}" + (f" (Revocation Reason: {reason.group(1)})" if reason else "") + f" {said}"
    return None


def tool_version() -> str:
    try:
        return subprocess.run(["openssl", "version"], capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        return "openssl (not installed)"


class OpenSslProbe(ProbeBase):
    name = "openssl"
    description = "openssl s_client (the system OpenSSL CLI)"
    revocation_modes = frozenset({RevocationMode.NONE, RevocationMode.STAPLE, RevocationMode.REQUIRE_STAPLE})
    plain_http_note = "s_client always speaks TLS"
    alpn = True  # -alpn; but it sends the bytes it is given, so it cannot speak HTTP/2
    # s_client has -ignore_unexpected_eof, but with it (OpenSSL 3.0.22) it now and then exits 0 having printed
    # nothing of the body it received: the lab cannot take that as a verdict, so the probe does not offer it.
    eof_flag = False
    eof_note = "its -ignore_unexpected_eof run sometimes exits 0 without printing the body (OpenSSL 3.0.22)"

    def unsupported_reason(self, spec: ClientSpec) -> str | None:
        if "h2" in spec.alpn:
            return "s_client can offer h2 (-alpn) but sends only the bytes it is given: it cannot speak HTTP/2"
        return super().unsupported_reason(spec)

    def clock_offset_reason(self) -> str | None:
        return None  # -attime for the chain; the printed staple is judged against the same clock

    def unavailable_reason(self) -> str | None:
        if which("openssl") is None:
            return "the 'openssl' command is not installed (Debian: apt-get install openssl)"
        return None

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        started = time.monotonic()
        argv = command(target, spec, files)
        if os.environ.get("SSLKEYLOGFILE"):  # s_client ignores the variable; captures read the key log
            argv[2:2] = ["-keylogfile", os.environ["SSLKEYLOGFILE"]]
        result = run_tool(argv, stdin=http_request(target.servername), timeout=spec.timeout)
        if result.returncode is None:
            return outcome_from_error(self.name, f"timed out after {spec.timeout:g}s", started)
        if result.stdout.startswith(b"HTTP/") and "unexpected eof while reading" not in result.stderr:
            return outcome_from_response(self.name, result.stdout, started)
        http = _HTTP_STATUS.search(result.stdout)
        if spec.revocation is not RevocationMode.NONE and http:  # -status: the session output precedes HTTP
            # s_client itself succeeded: the verdict is the lab's reading of the staple it printed.
            failure = judge_status(result.stdout[:http.start()].decode("utf-8", "replace"), spec)
            if failure:
                return outcome_from_error(self.name, failure, started, judged_by=LAB)
            return outcome_from_response(self.name, result.stdout[http.start():], started, judged_by=LAB)
        lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not _NOISE.match(ln)]
        # keep 'verify error:num=N:...' (the reason) ahead of the generic 'certificate verify failed'
        lines.sort(key=lambda ln: 0 if "verify error" in ln else 1)
        raw = " | ".join(lines) or f"s_client exited {result.returncode} without output"
        return outcome_from_error(self.name, raw, started)


def shell_command(target: Target, spec: ClientSpec, files: ClientFiles) -> str:
    return shlex.join(command(target, spec, files))
