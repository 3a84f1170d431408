"""How to tell candidate scenarios apart: the observation that separates them and the command that makes it.

Several faults give the same client text (Java's ``PKIX path building failed`` for a missing
intermediate, a wrong intermediate and an untrusted root; a 503 for every southbound fault),
so a list of candidates is only half an answer. Each :class:`Observation` is one thing to look
at on the live endpoint, with what each scenario makes it show. For a candidate set, the
observations are chosen greedily until every pair of candidates is separated.

Every catalog scenario must appear in at least one observation (tests/test_explain.py fails
otherwise), so a new scenario comes with the way to recognise it. The gateway-log observation
is computed from the catalog: what the gateway's own TLS client logs with each fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from types import MappingProxyType

from lab.scenario import GATEWAY, Catalog, Direction


@dataclass(frozen=True)
class Observation:
    """One thing to observe, the commands that observe it, and what each scenario makes it show."""

    id: str
    question: str
    commands: tuple[str, ...]
    answers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def restricted(self, scenarios: Sequence[str]) -> "Observation":
        return Observation(self.id, self.question, self.commands,
                           MappingProxyType({s: self.answers[s] for s in scenarios if s in self.answers}))


MAX_OBSERVATIONS = 3
_S = "openssl s_client -connect HOST:PORT"
_DIAG = "tlslab diagnose HOST:PORT --servername NAME"

OBSERVATIONS: tuple[Observation, ...] = (
    Observation(
        "served-chain",
        "How many certificates does the server send, and is each one issued by the next?",
        (_DIAG, f"{_S} -servername NAME -showcerts </dev/null"),
        MappingProxyType({
            "incomplete-chain": "only the leaf (depth 0); its issuer, an intermediate CA, is not sent",
            "wrong-intermediate": "the leaf and an intermediate whose subject is not the leaf's issuer (i:)",
            "unknown-server-cert": "a complete chain, each issuer (i:) the next subject (s:), ending at a CA "
                                   "your trust store does not hold",
            "ocsp-missing-intermediate": "only the leaf, as for incomplete-chain (the OCSP staple cannot be "
                                         "verified without the intermediate either)",
            "expired-server-cert": "a complete chain your trust store accepts; the leaf's dates are the problem",
            "hostname-mismatch": "a complete, trusted chain; the leaf's names are the problem",
        })),
    Observation(
        "leaf-names-dates",
        "Which names and validity dates does the served leaf carry?",
        (f"{_S} -servername NAME </dev/null 2>/dev/null | openssl x509 -noout -subject -ext subjectAltName -dates",),
        MappingProxyType({
            "expired-server-cert": "notAfter is in the past (compare with date -u)",
            "hostname-mismatch": "NAME is not among the subjectAltName entries, with or without SNI",
            "sni-default-cert": "with -servername NAME the names match; without it another certificate is served",
            "ocsp-clock-skew": "the certificate is valid; the OCSP response's dates are what is off (see the staple)",
        })),
    Observation(
        "sni",
        "Does the server answer with a certificate when server_name is sent, and without it?",
        (_DIAG, f"{_S} -servername NAME </dev/null", f"{_S} -noservername </dev/null"),
        MappingProxyType({
            "sni-required": "with server_name: a certificate; without: alert handshake_failure (40) or "
                            "unrecognized_name (112)",
            "sni-default-cert": "both succeed, with different certificates (compare subject= of the two)",
            "cipher-mismatch": "both fail alike, alert handshake_failure: server_name changes nothing (the "
                               "suites do; see the cipher check)",
            "protocol-mismatch": "both fail alike, alert protocol_version: server_name changes nothing (the "
                                 "version does; see the version check)",
            "hostname-mismatch": "both serve the same certificate, whose names lack NAME",
        })),
    Observation(
        "versions",
        "Which TLS versions does the server accept?",
        (f"{_S} -servername NAME -tls1_2 </dev/null", f"{_S} -servername NAME -tls1_3 </dev/null",
         f"{_S} -servername NAME -tls1 -cipher 'DEFAULT@SECLEVEL=0' </dev/null"),
        MappingProxyType({
            "protocol-mismatch": "only -tls1 (TLSv1.0) completes; -tls1_2 ends in 'unsupported protocol' or "
                                 "alert protocol_version, -tls1_3 in alert protocol_version",
            "cipher-mismatch": "a version is agreed, then the suites: -tls1_2 fails with the client's ciphers "
                               "(see the cipher check)",
            "sni-required": "each version fails without server_name and succeeds with it",
        })),
    Observation(
        "ciphers",
        "Does the handshake succeed once the client offers 256-bit AES suites?",
        (f"{_S} -servername NAME -tls1_2 -cipher AES128 </dev/null",
         f"{_S} -servername NAME -tls1_2 -cipher AES256 </dev/null"),
        MappingProxyType({
            "cipher-mismatch": "AES128 only: alert handshake_failure; AES256: the handshake completes",
            "protocol-mismatch": "both fail: the version is refused, not the suite",
            "sni-required": "both succeed with -servername NAME: the suites are not the problem",
        })),
    Observation(
        "client-certificate",
        "Does the server ask for a client certificate, which CAs does it accept, and is yours valid?",
        (f"{_S} -servername NAME </dev/null | grep -A3 'Acceptable client certificate CA names'",
         "openssl x509 -in CLIENT.pem -noout -issuer -dates"),
        MappingProxyType({
            "expired-client-cert": "the server requests a certificate; yours has notAfter in the past "
                                   "(the server answers certificate_expired)",
            "unknown-client-cert": "the server requests a certificate; your certificate's issuer is not among "
                                   "the acceptable CA names (the server answers unknown_ca)",
            "sni-required": "no certificate request: the failure is not about client certificates",
            "cipher-mismatch": "no certificate request: the failure is not about client certificates",
        })),
    Observation(
        "ocsp-staple",
        "Does the server staple an OCSP response, and what does it say?",
        (f"{_S} -servername NAME -status </dev/null | sed -n '/OCSP response/,/=====/p'",),
        MappingProxyType({
            "ocsp-stapling-off": "'OCSP response: no response sent', though the responder answers (next check)",
            "ocsp-responder-down": "'OCSP response: no response sent'; the responder refuses connections",
            "ocsp-responder-blocked": "'OCSP response: no response sent'; from the server's network the "
                                      "responder never answers",
            "ocsp-revoked": "'Cert Status: revoked' with a revocation time and reason",
            "ocsp-clock-skew": "a good response whose Next Update is before your clock (compare with date -u)",
            "ocsp-signer-untrusted": "a response signed by an expired or untrusted certificate "
                                     "(with -CAfile: 'Response Verify Failure')",
            "ocsp-missing-intermediate": "the leaf arrives without its intermediate: neither chain nor staple "
                                         "can be verified",
        })),
    Observation(
        "ocsp-responder",
        "Does the certificate's OCSP responder answer, from the server's network?",
        ("openssl x509 -in LEAF.pem -noout -ocsp_uri",
         "openssl ocsp -issuer ISSUER.pem -cert LEAF.pem -url URL -resp_text"),
        MappingProxyType({
            "ocsp-responder-down": "connection refused: nothing listens at the URL",
            "ocsp-responder-blocked": "no answer until the timeout (a firewall drops the requests)",
            "ocsp-stapling-off": "a good status: the responder works, the server just does not staple",
            "ocsp-revoked": "Cert Status: revoked",
        })),
    # --- the field scenarios (failures users report outside the two documents) ---
    Observation(
        "speaks-tls",
        "Does the port speak TLS at all, and did your client speak TLS to it?",
        ("curl -sv http://HOST:PORT/ -o /dev/null", f"{_S} -servername NAME </dev/null"),
        MappingProxyType({
            "tls-to-plain-port": "plain HTTP answers on that port; s_client says 'wrong version number' "
                                 "(use the https port, or http://)",
            "plain-http-to-tls-port": "s_client completes a handshake: the port is TLS and your client sent "
                                      "plain HTTP (nginx: '400 The plain HTTP request was sent to HTTPS port')",
        })),
    Observation(
        "alpn",
        "Does the server accept a handshake that offers no ALPN, and one that offers h2?",
        (f"{_S} -servername NAME </dev/null", f"{_S} -servername NAME -alpn h2 </dev/null"),
        MappingProxyType({
            "alpn-required": "without ALPN: alert no_application_protocol; with -alpn h2 the handshake "
                             "completes ('ALPN protocol: h2')",
        })),
    Observation(
        "client-trust-store",
        "Does your client have a CA bundle at all (and does any public server verify with it)?",
        ("ls -l /etc/ssl/certs/ca-certificates.crt", "keytool -list -cacerts -storepass changeit | head -3",
         "python3 -c 'import ssl; print(ssl.get_default_verify_paths())'"),
        MappingProxyType({
            "missing-ca-bundle": "empty or missing: every server fails to verify, public ones too "
                                 "(Java: 'the trustAnchors parameter must be non-empty')",
            "unknown-server-cert": "a full bundle: other servers verify, this server's CA is just not in it",
            "intercepting-proxy": "a full bundle, but the chain you get is signed by the proxy's CA "
                                  "(compare the issuer with what another network sees)",
        })),
    Observation(
        "close-notify",
        "Does the response arrive, and how does the server end the connection?",
        (f"{_S} -servername NAME -ign_eof < request.txt",),
        MappingProxyType({
            "unexpected-eof": "the response arrives, then 'unexpected eof while reading': the server closed "
                              "without close_notify",
        })),
    Observation(
        "key-strength",
        "How strong are the server's key, its certificate's signature and its DH group?",
        (f"{_S} -servername NAME </dev/null | openssl x509 -noout -text | grep -E 'Public-Key|Signature Alg'",
         f"{_S} -servername NAME -tls1_2 -cipher 'DHE:@SECLEVEL=0' </dev/null | grep 'Server Temp Key'"),
        MappingProxyType({
            "weak-server-key": "'Public-Key: (1024 bit)': OpenSSL 3 at level 2 refuses it ('ee key too small')",
            "weak-server-key-sha1": "'Signature Algorithm: sha1WithRSAEncryption' ('ca md too weak')",
            "weak-server-key-dh": "'Server Temp Key: DH, 1024 bits' ('dh key too small')",
            "cn-only-certificate": "a strong key: the certificate lacks subjectAltName instead (next check)",
            "wrong-key-usage": "a strong key: the EKU lacks serverAuth instead",
        })),
)


def _gateway_log(catalog: Catalog) -> Observation:
    """What the gateway's own TLS client logs for each southbound fault: computed from the catalog."""
    answers: dict[str, str] = {}
    for s in catalog:
        if Direction.SOUTHBOUND in s.directions:
            said = " or ".join(str(x) for x in s.expect.for_client(GATEWAY, "twisted", Direction.SOUTHBOUND))
            answers[s.id] = f"the gateway logs {said}"
    return Observation(
        "gateway-log",
        "What does the gateway log for the failed request (its own TLS error towards the backend)?",
        ("grep upstream /var/log/nginx/error.log | tail -1 | tlslab explain -",
         "tlslab diagnose BACKEND:PORT --servername NAME"),
        MappingProxyType(answers))


def observations(catalog: Catalog) -> tuple[Observation, ...]:
    return (*OBSERVATIONS, _gateway_log(catalog))


def tell_apart(candidates: Sequence[str], catalog: Catalog, *, gateway_first: bool = False) -> tuple[Observation, ...]:
    """The observations that separate `candidates` (scenario ids), greedily, each restricted to them.

    One candidate: the observation that confirms it. ``gateway_first``: the user only has the
    app's 503, so the gateway's log (which names the backend failure) comes first.
    """
    pool = list(observations(catalog))
    if gateway_first:
        pool.sort(key=lambda o: o.id != "gateway-log")
    ids = list(dict.fromkeys(candidates))
    if len(ids) == 1:
        hit = next((o for o in pool if ids[0] in o.answers), None)
        return (hit.restricted(ids),) if hit else ()
    # Each pair separated twice where the table allows (a second, independent observation), at most 3.
    need = {frozenset(p): 2 for p in combinations(ids, 2)}
    chosen: list[Observation] = []
    while any(need.values()) and len(chosen) < MAX_OBSERVATIONS:
        def gain(o: Observation) -> int:
            return sum(1 for pair, n in need.items() if n and _separates(o, pair))
        best = max(pool, key=gain, default=None)
        if best is None or gain(best) == 0:
            break
        chosen.append(best)
        pool.remove(best)
        for pair in need:
            if need[pair] and _separates(best, pair):
                need[pair] -= 1
    return tuple(o.restricted(ids) for o in chosen)


def _separates(o: Observation, pair: frozenset[str]) -> bool:
    a, b = sorted(pair)
    if a in o.answers and b in o.answers:
        return o.answers[a] != o.answers[b]
    return a in o.answers or b in o.answers  # one of them shows something specific, the other does not
