"""The lab's OCSP: a real responder, the server-side stapler, the one staple check, direct queries.

* :mod:`lab.ocsp.responder`: :class:`Responder` (RFC 6960 over HTTP, :mod:`lab.ocsp.http`) and
  :func:`run_responder`, with a :class:`ResponderPolicy` from the server spec;
* :mod:`lab.ocsp.check`: :func:`check_response`, what "a valid staple" means everywhere;
* :mod:`lab.ocsp.stapler`: :class:`Stapler`, the Twisted server's staple;
* :mod:`lab.ocsp.query`: :func:`query` and ``tlslab ocsp query``'s :func:`query_lab_certificate`.

nginx's stapling directives and its lazy first fetch live with the nginx backend
(:mod:`lab.nginx.stapling`).
"""

from lab.ocsp.check import Verdict, check_response, must_staple
from lab.ocsp.common import CONTENT_TYPE, LEEWAY, MAX_REQUEST, SLOW_DELAY, STAPLE_FETCH_TIMEOUT, request_der, utcnow
from lab.ocsp.query import LabQuery, QueryResult, aia_ocsp_url, openssl_ocsp_command, query, query_lab_certificate
from lab.ocsp.responder import Authority, Responder, ResponderPolicy, run_responder, window
from lab.ocsp.stapler import Stapler

__all__ = [
    "Authority", "ResponderPolicy", "Responder", "run_responder", "query", "QueryResult", "check_response",
    "Verdict", "Stapler", "must_staple", "request_der", "window", "STAPLE_FETCH_TIMEOUT", "LEEWAY", "LabQuery",
    "query_lab_certificate", "openssl_ocsp_command", "aia_ocsp_url", "utcnow", "SLOW_DELAY", "MAX_REQUEST",
    "CONTENT_TYPE",
]
