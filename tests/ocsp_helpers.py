"""Helpers for the OCSP tests (a plain module, not a conftest: the lead's conftest stays the only one)."""

from __future__ import annotations

import os

import pytest

from conftest import explain, skip_or_fail  # noqa: F401  (explain: re-exported for the OCSP tests)
from lab.probes.curl import faketime_library

OCSP_IDS = [
    "ocsp-clock-skew", "ocsp-responder-blocked", "ocsp-signer-untrusted", "ocsp-stapling-off",
    "ocsp-missing-intermediate", "ocsp-responder-down", "ocsp-revoked",
]
# Which probes must observe each fault, on every backend (the others are n/a, each for a stated reason).
OBSERVERS = {
    "ocsp-clock-skew": {"pyopenssl", "openssl", "curl"},
    "ocsp-responder-blocked": {"pyopenssl", "openssl", "curl"},
    "ocsp-signer-untrusted": {"pyopenssl", "curl"},  # s_client never checks the signer
    "ocsp-stapling-off": {"pyopenssl", "openssl", "curl"},
    "ocsp-missing-intermediate": {"pyopenssl", "openssl", "curl"},
    "ocsp-responder-down": {"pyopenssl", "openssl", "curl"},
    "ocsp-revoked": {"pyopenssl", "openssl", "curl"},
}


def require_faketime() -> str:
    """libfaketime's path; skip naming it without it, fail under CI=true."""
    lib = faketime_library()
    if lib is None:
        skip_or_fail("libfaketime is not installed (Debian: apt-get install faketime): curl's clock cannot be skewed")
    return lib

