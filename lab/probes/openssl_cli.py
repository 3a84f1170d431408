"""``openssl s_client``: the support engineer's first tool, exactly as the documents run it."""

from __future__ import annotations

import re
import shlex
import subprocess
import time

from lab.probes.base import ClientFiles, Outcome, ProbeBase, Target, http_request, outcome_from_error, outcome_from_response, which
from lab.probes.cli_tool import run_tool
from lab.specs import ClientSpec
from lab.tls import effective_ciphers

_NOISE = re.compile(r"^(depth=|verify return:|CONNECTED\(|DONE|---|Connecting to )")


def command(target: Target, spec: ClientSpec, files: ClientFiles, *, host: str | None = None) -> list[str]:
    """The s_client command line for this spec (also shown to users as 'try it by hand')."""
    argv = ["openssl", "s_client", "-connect", f"{host or target.host}:{target.port}"]
    argv += ["-servername", target.servername] if spec.sni else ["-noservername"]
    argv += ["-verify_hostname", target.servername, "-verify_return_error", "-CAfile", str(files.ca_file)]
    if spec.min_protocol:
        argv += ["-min_protocol", spec.min_protocol.value.replace("TLSv1.0", "TLSv1")]
    if spec.max_protocol:
        argv += ["-max_protocol", spec.max_protocol.value.replace("TLSv1.0", "TLSv1")]
    ciphers = effective_ciphers(spec.ciphers, spec.min_protocol)
    if ciphers:
        argv += ["-cipher", ciphers]
    if files.cert_file and files.key_file:
        argv += ["-cert", str(files.cert_file), "-key", str(files.key_file)]
    return argv + ["-quiet"]


def tool_version() -> str:
    try:
        return subprocess.run(["openssl", "version"], capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        return "openssl (not installed)"


class OpenSslProbe(ProbeBase):
    name = "openssl"
    description = "openssl s_client (the system OpenSSL CLI)"

    def unavailable_reason(self) -> str | None:
        if which("openssl") is None:
            return "the 'openssl' command is not installed (Debian: apt-get install openssl)"
        return None

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        started = time.monotonic()
        result = run_tool(command(target, spec, files), stdin=http_request(target.servername), timeout=spec.timeout)
        if result.returncode is None:
            return outcome_from_error(self.name, f"timed out after {spec.timeout:g}s", started)
        if result.stdout.startswith(b"HTTP/"):
            return outcome_from_response(self.name, result.stdout, started)
        lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not _NOISE.match(ln)]
        # keep 'verify error:num=N:...' (the reason) ahead of the generic 'certificate verify failed'
        lines.sort(key=lambda ln: 0 if "verify error" in ln else 1)
        raw = " | ".join(lines) or f"s_client exited {result.returncode} without output"
        return outcome_from_error(self.name, raw, started)


def shell_command(target: Target, spec: ClientSpec, files: ClientFiles) -> str:
    return shlex.join(command(target, spec, files))
