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


@functools.lru_cache(maxsize=64)
def suite_codes(openssl_ciphers: str) -> tuple[tuple[int, str], ...]:
    """The string's TLS <= 1.2 suites as (IANA code point, IANA name), from ``openssl ciphers -V -stdname``:
    the code points NSS's ``tstclnt -c :XXXX`` takes."""
    result = subprocess.run(["openssl", "ciphers", "-V", "-s", "-stdname", openssl_ciphers],
                            capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise LabError(f"openssl ciphers cannot read the cipher string {openssl_ciphers!r}: {result.stderr.strip()}")
    codes = []
    for line in result.stdout.splitlines():
        fields = line.split()  # 0xC0,0x2F - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 - ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 ...
        if len(fields) >= 3 and fields[0].startswith("0x") and "," in fields[0] and "_WITH_" in fields[2]:
            high, low = (int(part, 16) for part in fields[0].split(","))
            codes.append((high << 8 | low, fields[2]))
    return tuple(codes)
