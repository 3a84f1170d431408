"""The server side of stapling: fetch before listening, decide what to staple, log every decision."""

from __future__ import annotations

import threading
import time

from cryptography import x509

from lab.ocsp.check import check_response
from lab.ocsp.common import STAPLE_FETCH_TIMEOUT
from lab.ocsp.query import query
from lab.ocsp.responder import Responder
from lab.pki import Pki
from lab.specs import ServerSpec

# ---------------------------------------------------------------------------------------------
# Stapling (the server side)


class Stapler:
    """The staple a server sends: fetched once before the server listens, refreshed on demand.

    Mirrors a real server's choices so scenarios exercise them: the issuer is looked up in the
    served chain and ``ocsp_trusted`` only (nginx: "issuer certificate not found"); with
    ``ocsp_stapling_verify`` only a response that :func:`check_response` accepts is stapled;
    without it, whatever the responder answered is passed through, error statuses included
    (as Apache's SSLStaplingReturnResponderErrors does by default). Every decision is logged.
    """

    def __init__(self, spec: ServerSpec, pki: Pki, responder: Responder,
                 timeout: float = STAPLE_FETCH_TIMEOUT, *, nginx_rules: bool = False) -> None:
        self.nginx_rules = nginx_rules  # predict nginx: only a successful, "good", in-window answer is stapled
        self.spec = spec
        self.pki = pki
        self.responder = responder
        self.timeout = timeout
        self.log: list[str] = []
        self._lock = threading.Lock()
        self._staple = b""

    @property
    def staple(self) -> bytes:
        with self._lock:
            return self._staple

    def _note(self, line: str) -> None:
        with self._lock:
            self.log.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [ocsp] {line}")

    def issuer(self) -> x509.Certificate | None:
        leaf = self.pki.cert(self.spec.certificate)
        for name in (*self.spec.chain, *self.spec.ocsp_trusted):
            candidate = self.pki.cert(name)
            if candidate.subject == leaf.issuer:
                return candidate
        return None

    def refresh(self) -> bytes:
        """Fetch (blocking, bounded) and decide what to staple; returns the new staple (b"" for none)."""
        staple = self._fetch()
        with self._lock:
            self._staple = staple
        return staple

    def _fetch(self) -> bytes:
        leaf = self.pki.cert(self.spec.certificate)
        issuer = self.issuer()
        if issuer is None:
            self._note(f'"ssl_stapling" ignored, issuer certificate not found for certificate '
                       f'"{self.spec.certificate}": the intermediate is neither in the chain nor in ocsp_trusted')
            return b""
        # ssl_stapling_file: fetched out of band by the operator, who can reach the responder itself.
        url = self.responder.url if self.spec.ocsp_stapling_file else self.responder.server_url
        result = query(url, leaf, issuer, self.timeout)
        if result.der is None:
            self._note(f"no staple: {result.error}")
            return b""
        if self.spec.ocsp_stapling_verify or (self.nginx_rules and not self.spec.ocsp_stapling_file):
            verdict = check_response(result.der, leaf, issuer)
            # nginx without ssl_stapling_verify skips only the signature check (OCSP_NOVERIFY);
            # status "good" and the time window are always required (ngx_ssl_stapling_ocsp_handler).
            unverified_ok = not self.spec.ocsp_stapling_verify and verdict.symptom.detail == "untrusted-signer"
            if not verdict.ok and not unverified_ok:
                rule = "ssl_stapling_verify" if self.spec.ocsp_stapling_verify else "nginx"
                self._note(f"no staple ({rule}): {verdict.message}")
                return b""
        self._note(f"stapling {len(result.der)} bytes from {url}"
                   + (" (ssl_stapling_file)" if self.spec.ocsp_stapling_file else ""))
        return result.der
