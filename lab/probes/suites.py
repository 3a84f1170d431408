"""OpenSSL cipher strings as IANA suite names: the names JSSE takes and Chromium's suite table uses."""

from __future__ import annotations

import functools
import subprocess

from lab.errors import LabError


@functools.lru_cache(maxsize=64)
def iana_suites(openssl_ciphers: str) -> tuple[str, ...]:
    """An OpenSSL cipher string as IANA suite names (the names JSSE uses), via ``openssl ciphers -stdname``.

    TLS 1.3 suites are listed too: a TLS <= 1.2 cipher string never removes them, as in OpenSSL.
    """
    result = subprocess.run(["openssl", "ciphers", "-s", "-stdname", openssl_ciphers],
                            capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise LabError(f"openssl ciphers cannot read the cipher string {openssl_ciphers!r}: {result.stderr.strip()}")
    return tuple(line.split()[0] for line in result.stdout.splitlines() if line.strip().startswith("TLS_"))
