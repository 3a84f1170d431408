"""Observations -> catalog causes, each with its evidence and the documented fix.

One source of truth: a cause's id is a scenario id from ``scenarios/*.toml`` and its fix is that
scenario's recommended resolution summary, read from the :class:`~lab.scenario.Catalog` at run
time. A rule that names an id the catalog does not have is a bug the tests catch.

Each rule reads only :class:`~lab.diagnose.observe.Observed` facts and says which ones made it
fire, so the evidence can be checked by hand (``openssl s_client`` shows the same chain). Rules
score their confidence; causes are returned best first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lab.diagnose.battery import FAMILY_LABELS
from lab.diagnose.observe import Observed
from lab.scenario import Catalog
from lab.tls import Protocol


@dataclass(frozen=True)
class Cause:
    """A named cause: ``scenario`` is a catalog id, or None when no catalog cause fits a failure."""

    scenario: str | None
    evidence: tuple[str, ...]
    fix: str
    score: int
    title: str = ""


@dataclass(frozen=True)
class Finding:
    """What a rule returns before the catalog supplies the title and fix."""

    scenario: str | None
    evidence: tuple[str, ...]
    score: int


Rule = Callable[[Observed], Iterator[Finding]]


def _f(scenario: str | None, score: int, *evidence: str) -> Finding:
    return Finding(scenario, tuple(e for e in evidence if e), score)


def chain_rule(o: Observed) -> Iterator[Finding]:
    """incomplete-chain vs unknown-server-cert vs wrong-intermediate, from the issuer links."""
    check = o.check
    if not o.chain:
        return
    n = len(o.chain)
    served = f"{n} certificate{'s' if n != 1 else ''} served"
    anchor = f"{o.ca_file}" if o.ca_file else "the system trust store"
    leaf = o.chain[0]
    if check.status == "missing-issuer" and check.stopped_at == 0:
        aia = (f"; its AIA caIssuers URL {', '.join(leaf.aia_ca_issuers)} names where to fetch it"
               if leaf.aia_ca_issuers else "; the leaf carries no AIA caIssuers URL, so no client can fetch it")
        yield _f("incomplete-chain", 90,
                 f"the server sends its leaf without the intermediate ({served}; issuer `{leaf.issuer}` not sent"
                 f"{aia})",
                 f"`{leaf.issuer}` is not in {anchor} either, so the chain cannot reach the trust anchor",
                 _openssl(o))
    elif check.status == "wrong-intermediate":
        others = ", ".join(f"`{o.chain[i].subject}`" for i in check.unrelated)
        yield _f("wrong-intermediate", 92,
                 f"the leaf is issued by `{leaf.issuer}`, but the served intermediate {others} is not its issuer "
                 f"({served}; no served certificate's subject is `{leaf.issuer}`)",
                 _openssl(o))
    elif check.status == "missing-issuer":
        top = o.chain[check.stopped_at]
        yield _f("unknown-server-cert", 88,
                 f"the served chain is complete up to `{top.subject}`, whose issuer `{top.issuer}` is not in "
                 f"{anchor}: the client does not trust the server's CA ({served})", _openssl(o))
    elif check.status == "untrusted-root":
        top = o.chain[check.stopped_at]
        what = "the leaf is self-signed" if check.stopped_at == 0 else f"the chain ends in the self-signed `{top.subject}`"
        yield _f("unknown-server-cert", 88, f"{what}, which is not in {anchor} ({served})", _openssl(o))


def _openssl(o: Observed) -> str:
    if not o.verify_errors:
        return ""
    num, depth, text = o.verify_errors[0]
    return f"OpenSSL's own verification agrees: num={num} ({text}) at depth {depth}"


def validity_rule(o: Observed) -> Iterator[Finding]:
    path = [o.check.links[i].child for i in range(len(o.check.links))] or ([0] if o.chain else [])
    for i in path:
        c = o.chain[i]
        role = "the server certificate" if i == 0 else f"the served CA certificate [{i}]"
        if o.now > c.not_after:
            yield _f("expired-server-cert", 86 if i == 0 else 80,
                     f"{role} `{c.subject}` expired on {c.not_after:%Y-%m-%d %H:%M}Z "
                     f"(now {o.now:%Y-%m-%d %H:%M}Z)", _openssl(o))
        elif o.now < c.not_before:
            yield _f("expired-server-cert", 84 if i == 0 else 78,
                     f"{role} `{c.subject}` is not yet valid: notBefore {c.not_before:%Y-%m-%d %H:%M}Z "
                     f"(now {o.now:%Y-%m-%d %H:%M}Z); check this machine's and the server's clocks", _openssl(o))


def name_rule(o: Observed) -> Iterator[Finding]:
    """hostname-mismatch vs sni-default-cert: compare the certificates with and without SNI (APIGEE's steps)."""
    if not o.servername:
        return
    refused_name = dict(o.alerts).get("as-configured") == "unrecognized_name"
    if not o.chain and refused_name and o.sni.without_sni_ok and o.chain_no_sni:
        other = o.chain_no_sni[0]
        yield _f("hostname-mismatch", 75,
                 f"the server refuses server_name `{o.servername}` (alert unrecognized_name): it serves no "
                 f"such name; without server_name it answers with `{other.subject}` "
                 f"(SAN: {', '.join(other.san) or 'none'})",
                 "check the name the client uses (the URL's host) against the names the server is configured for")
        return
    if not o.chain:
        return
    leaf = o.chain[0]
    names = ", ".join(leaf.san) if leaf.san else "none (CN only)"
    if o.name_matches is False:
        yield _f("hostname-mismatch", 87,
                 f"with server_name `{o.servername}` the server sends `{leaf.subject}` (SAN: {names}): "
                 f"no name in it matches `{o.servername}`")
    elif o.sni.same_certificate is False and o.name_matches_no_sni is False:
        other = o.chain_no_sni[0]
        yield _f("sni-default-cert", 85,
                 f"with server_name `{o.servername}` the server sends `{leaf.subject}`, which matches; without "
                 f"server_name it sends a different (default) certificate `{other.subject}` "
                 f"(SAN: {', '.join(other.san) or 'none'}), which does not match",
                 f"the server is SNI-enabled: `openssl s_client -connect {o.target}` and `... -servername "
                 f"{o.servername}` show different certificates")


def sni_rule(o: Observed) -> Iterator[Finding]:
    s = o.sni
    why = f"alert {s.without_sni_alert}" if s.without_sni_alert else (s.without_sni_raw or "closed")
    if o.servername and s.with_sni_ok and not s.without_sni_ok:
        yield _f("sni-required", 84,
                 f"without server_name the server refuses the Client Hello ({why}) even with every version "
                 f"(TLS 1.0-1.3) and suite offered; with server_name `{o.servername}` it answers with its certificate")
    elif not o.servername and not o.chain and not s.without_sni_ok and not o.versions.accepted:
        yield _f("sni-required", 60,
                 f"no --servername was given, and the server refuses every Client Hello without server_name ({why}) "
                 "whatever the version and suites: it may be SNI-only; run again with --servername NAME")


def version_rule(o: Observed) -> Iterator[Finding]:
    accepted = o.versions.accepted
    if accepted and Protocol.TLSv1_2 not in accepted and Protocol.TLSv1_3 not in accepted:
        refused = {v: w for v, w in o.versions.refused}
        yield _f("protocol-mismatch", 86,
                 f"the server accepts only {', '.join(v.value for v in accepted)}: "
                 f"TLSv1.2 refused ({refused.get(Protocol.TLSv1_2, 'refused')}), "
                 f"TLSv1.3 refused ({refused.get(Protocol.TLSv1_3, 'refused')}); a TLSv1.2 client gets a fatal alert "
                 "right after its Client Hello")


def cipher_rule(o: Observed) -> Iterator[Finding]:
    accepted = {f for f, _ in o.families.accepted}
    refused = dict(o.families.refused)
    if "aes256" in accepted and "aes128" in refused:
        suites = ", ".join(c or FAMILY_LABELS[f] for f, c in o.families.accepted)
        yield _f("cipher-mismatch", 82,
                 f"with TLS <= 1.2 the server accepts only High Encryption suites ({suites}): "
                 + ", ".join(f"{FAMILY_LABELS[f]} refused ({w})" for f, w in refused.items())
                 + "; a client offering none of the AES-256 suites gets handshake_failure")


_CLIENT_ALERTS = {"certificate_expired": "expired-client-cert", "unknown_ca": "unknown-client-cert",
                  "certificate_unknown": "unknown-client-cert", "bad_certificate": "unknown-client-cert"}


def client_cert_rule(o: Observed) -> Iterator[Finding]:
    ca = o.client_auth
    if not ca.requested or ca.without_cert != "rejected" and not ca.given:
        return
    asks = f"the server requires a client certificate (its CertificateRequest names {'; '.join(ca.ca_names) or 'no CA'})"
    if not ca.given:
        said = ca.without_cert_raw
        yield _f("unknown-client-cert", 70, f"{asks}; without one it refuses: {said}",
                 "pass --client-cert/--client-key to tell whether yours is rejected, and why")
        yield _f("expired-client-cert", 69, f"{asks}; an expired client certificate is refused the same way")
        return
    if ca.with_cert != "rejected":
        return
    info = ca.cert_info
    said = f"with the given certificate it refuses: {ca.with_cert_raw}"
    by_alert = _CLIENT_ALERTS.get(ca.with_cert_alert)
    expired = info is not None and o.now > info.not_after
    unknown = info is not None and bool(ca.ca_names) and info.issuer not in ca.ca_names
    facts = []
    if info is not None:
        facts.append(f"the given certificate `{info.subject}` (issuer `{info.issuer}`) is valid until "
                     f"{info.not_after:%Y-%m-%d %H:%M}Z" + (": EXPIRED" if expired else ""))
    if by_alert == "expired-client-cert" or expired:
        yield _f("expired-client-cert", 83, f"{asks}; {said}", *facts)
    if by_alert == "unknown-client-cert" or unknown or (not by_alert and not expired):
        yield _f("unknown-client-cert", 82 if by_alert or unknown else 60, f"{asks}; {said}", *facts,
                 f"its issuer `{info.issuer}` is not among the CAs the server accepts" if unknown and info else "")


_STAPLE_CAUSES = {
    "revoked": ("ocsp-revoked", 90, "the stapled OCSP response says the certificate is revoked"),
    "untrusted-signer": ("ocsp-signer-untrusted", 86, "the stapled OCSP response's signer is not trusted"),
    "expired-response": ("ocsp-clock-skew", 72, "the stapled OCSP response has expired by the client's clock"),
    "not-yet-valid-response": ("ocsp-clock-skew", 72, "the stapled OCSP response is not yet valid by the client's clock"),
    "responder-error": ("ocsp-responder-down", 74, "the server staples the responder's error answer: no certificate status"),
    "malformed": ("ocsp-responder-down", 70, "the stapled bytes are not an OCSP response"),
    "unknown": ("ocsp-responder-down", 68, "the stapled OCSP response gives no usable status for this certificate"),
}


def ocsp_rule(o: Observed) -> Iterator[Finding]:
    if not o.chain:
        return
    leaf = o.chain[0]
    st = o.staple
    if st.status in _STAPLE_CAUSES:
        scenario, score, what = _STAPLE_CAUSES[st.status]
        skew = (f"the client's clock is {o.clock_offset_days:+g} days from this machine's: synchronise it"
                if o.clock_offset_days and scenario == "ocsp-clock-skew" else "")
        yield _f(scenario, score, f"{what}: {st.message}", skew)
        return
    incomplete = o.check.status == "missing-issuer" and o.check.stopped_at == 0
    if st.status == "unchecked" or (st.status == "none" and leaf.aia_ocsp and incomplete):
        yield _f("ocsp-missing-intermediate", 91,
                 f"the server's chain lacks the leaf's issuer `{leaf.issuer}`, so no staple can be validated "
                 f"({st.message})")
        return
    if st.status != "none" or not (leaf.aia_ocsp or leaf.must_staple):
        return
    aia = f"the certificate names an OCSP responder ({', '.join(leaf.aia_ocsp)})" if leaf.aia_ocsp else \
        "the certificate"
    must = " and is must-staple (TLS Feature status_request)" if leaf.must_staple else ""
    base = (f"{aia}{must}, but the server stapled no OCSP response to the client's status_request; a client "
            "that requires a staple reports 'No OCSP response received'")
    yield _f("ocsp-stapling-off", 66 if leaf.must_staple else 56, base)
    yield _f("ocsp-responder-down", 54, "or stapling is on but the server cannot get an answer: its responder is "
             "down or answers errors (the server's log says so)")
    yield _f("ocsp-responder-blocked", 53, "or the server's requests to the responder are dropped by a firewall "
             "or proxy (the server's log shows the fetch timing out)")


def fallback_rule(o: Observed) -> Iterator[Finding]:
    """A failure no catalog rule explains is still reported, with what was seen, never hidden."""
    if o.handshake_ok or not o.reached:
        return
    silent = not o.chain and not o.versions.accepted
    hint = ""
    if silent and "wrong version number" in o.as_configured_raw:
        hint = ("every attempt got an answer that is not TLS: is this a plain-HTTP port (or a proxy that "
                "expects CONNECT)? try http:// on it")
    elif silent and all(w == "timeout" for _, w in o.versions.refused):
        hint = ("the server accepts the TCP connection but never answers a Client Hello: something in between "
                "drops it, or the service waits for the client to speak first (not TLS)")
    yield _f(None, 1, f"the as-configured handshake failed: {o.as_configured_raw}", hint,
             "no catalog cause matches the observations; see them above")


# Every id a rule may name; tests check each is a catalog scenario and each is named by some server.
NAMED: frozenset[str] = frozenset({
    "incomplete-chain", "wrong-intermediate", "unknown-server-cert", "expired-server-cert", "hostname-mismatch",
    "sni-default-cert", "sni-required", "protocol-mismatch", "cipher-mismatch", "expired-client-cert",
    "unknown-client-cert", "ocsp-revoked", "ocsp-signer-untrusted", "ocsp-clock-skew", "ocsp-responder-down",
    "ocsp-responder-blocked", "ocsp-stapling-off", "ocsp-missing-intermediate",
})

RULES: tuple[Rule, ...] = (chain_rule, validity_rule, name_rule, sni_rule, version_rule, cipher_rule,
                           client_cert_rule, ocsp_rule, fallback_rule)


def causes(o: Observed, catalog: Catalog) -> tuple[Cause, ...]:
    """Every cause the rules find, best first, with the catalog's title and recommended fix."""
    found: dict[str | None, Cause] = {}
    for rule in RULES:
        for finding in rule(o):
            if finding.scenario in found:
                prev = found[finding.scenario]
                found[finding.scenario] = Cause(prev.scenario, prev.evidence + finding.evidence, prev.fix,
                                                max(prev.score, finding.score), prev.title)
                continue
            if finding.scenario is None:
                if found:
                    continue  # something named it already
                found[None] = Cause(None, finding.evidence, "", finding.score)
                continue
            assert finding.scenario in NAMED, f"rule named {finding.scenario!r}, which is not in NAMED"
            scenario = catalog.get(finding.scenario)
            fix = next((r for r in scenario.resolutions if r.recommended), scenario.resolutions[0])
            found[finding.scenario] = Cause(finding.scenario, finding.evidence, fix.summary, finding.score,
                                            scenario.title)
    return tuple(sorted(found.values(), key=lambda c: -c.score))
