"""Observations -> catalog causes, each with its evidence and the documented fix.

One source of truth: a cause's id is a scenario id from ``scenarios/*.toml`` and its fix is that
scenario's recommended resolution summary, read from the :class:`~lab.scenario.Catalog` at run
time. A rule that names an id the catalog does not have is a bug the tests catch.

Each rule reads only :class:`~lab.diagnose.observe.Observed` facts and says which ones made it
fire, so the evidence can be checked by hand (``openssl s_client`` shows the same chain). Rules
score their confidence; causes are returned best first.
"""

from __future__ import annotations

import datetime as dt
import re
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
        yield from _interception(o, top.issuer)
    elif check.status == "untrusted-root":
        top = o.chain[check.stopped_at]
        what = "the leaf is self-signed" if check.stopped_at == 0 else f"the chain ends in the self-signed `{top.subject}`"
        yield _f("unknown-server-cert", 88, f"{what}, which is not in {anchor} ({served})", _openssl(o))
        if check.stopped_at > 0:
            yield from _interception(o, top.subject)


# Names TLS-inspection products give the CA they re-sign with (and the words an administrator uses).
_INTERCEPTION = re.compile(
    r"intercept|inspect|proxy|mitm|decrypt|firewall|zscaler|fortinet|fortigate|palo ?alto|netskope|blue ?coat|"
    r"websense|forcepoint|sophos|umbrella|kaspersky|avast|\bavg\b|\beset\b|bitdefender|mcafee|check ?point|barracuda|"
    r"untangle|charles|fiddler|burp|portswigger|squid|lightspeed|securly|iboss|smoothwall|menlo|cisco", re.I)


def _interception(o: Observed, ca: str) -> Iterator[Finding]:
    """intercepting-proxy, beside unknown-server-cert: the server's CA is not the client's; is it a proxy's?"""
    tell = ("to tell a proxy from the server's own unknown CA, fetch the chain from another network or "
            f"bypassing the proxy (`openssl s_client -connect {o.target} -showcerts` on the server's host, or "
            "with NO_PROXY): a different issuer there means something in between re-signs")
    if _INTERCEPTION.search(ca):
        yield _f("intercepting-proxy", 90, f"the chain is issued by `{ca}`, which is not a CA the client trusts and "
                 "whose name is that of a TLS-interception CA (a proxy or inspection appliance re-signs the site)",
                 tell)
    else:
        yield _f("intercepting-proxy", 40, f"or a TLS-intercepting proxy between here and the server re-signs it "
                 f"with its own CA `{ca}`", tell)


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
        elif o.now < c.not_before and o.clock_offset_days < 0 and \
                o.now - dt.timedelta(days=o.clock_offset_days) >= c.not_before:
            yield _f("client-clock-behind", 89,
                     f"{role} `{c.subject}` is valid from {c.not_before:%Y-%m-%d %H:%M}Z: not yet valid by the "
                     f"client's clock ({o.now:%Y-%m-%d %H:%M}Z, {o.clock_offset_days:+g} days), valid by this "
                     "machine's", _openssl(o))
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
    if o.name_matches is False and not leaf.has_san and _cn_matches(leaf.common_name, o.servername):
        yield _f("cn-only-certificate", 88,
                 f"the certificate `{leaf.subject}` has no subjectAltName: `{o.servername}` is only in its Common "
                 "Name, which RFC 6125 clients ignore (Go: 'relies on legacy Common Name field', Chrome: "
                 "ERR_CERT_COMMON_NAME_INVALID); OpenSSL, curl and Java still fall back to the CN")
    elif o.name_matches is False:
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


def _cn_matches(cn: str, name: str) -> bool:
    cn, name = cn.lower().rstrip("."), name.lower().rstrip(".")
    if cn.startswith("*."):
        return "." in name and name.split(".", 1)[1] == cn[2:]
    return bool(cn) and cn == name


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
        yield _f("client-cert-not-sent", 71, f"{asks}; without one it refuses: {said}",
                 "a client that refuses like this sends no certificate: configure one (and its chain)")
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
    if unknown and info is not None:
        yield _f("client-cert-not-sent", 80,
                 f"the given certificate's issuer `{info.issuer}` is not in the server's acceptable CA list "
                 f"({'; '.join(ca.ca_names)}): a client that picks its certificate by that list (Java, browsers) "
                 "sends none at all")


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


def plain_port_rule(o: Observed) -> Iterator[Finding]:
    """tls-to-plain-port: a Client Hello answered with bytes that are not a TLS record."""
    reply = o.plain_reply
    if reply.is_tls is not False:
        return
    what = "the port speaks HTTP, not TLS" if reply.http else "the port speaks something other than TLS"
    said = f"OpenSSL reads that as: {o.as_configured_raw.removeprefix('SSL error: ')}" if o.as_configured_raw else ""
    yield _f("tls-to-plain-port", 95 if reply.http else 80,
             f"{what}: a TLS Client Hello is answered with `{reply.text}`", said,
             "the TLS service is on another port, or this one wants http://")


def weak_key_rule(o: Observed) -> Iterator[Finding]:
    """The weak-server-key family: key size, signature digest, DH group, as OpenSSL 3's security levels judge."""
    verify = {num: text for num, _, text in o.verify_errors}
    path = [link.child for link in o.check.links] or ([0] if o.chain else [])
    for i in path:
        c = o.chain[i]
        small = (c.key in ("RSA", "DSA") and 0 < c.key_bits < 2048) or (c.key.startswith("EC ") and c.key_bits < 224)
        if small:
            role = "the server certificate's" if i == 0 else f"the served CA certificate [{i}]'s"
            said = verify.get(66 if i == 0 else 67, "")
            yield _f("weak-server-key", 85 if i == 0 else 80,
                     f"{role} key is {c.key} {c.key_bits}-bit (`{c.subject}`): OpenSSL 3 at security level 2 "
                     f"(Debian's default) needs 2048 bits and says `{'ee' if i == 0 else 'ca'} key too small`",
                     f"OpenSSL's own verification agrees: {said}" if said else "")
        if c.signature_hash in ("sha1", "md5") and not c.self_signed:
            said = verify.get(68, "")
            yield _f("weak-server-key-sha1", 84,
                     f"[{i}] `{c.subject}` is signed with {c.signature_hash.upper()} by `{c.issuer}`: OpenSSL 3 "
                     "refuses it from security level 1 (`ca md too weak`)",
                     f"OpenSSL's own verification agrees: {said}" if said else "")
    if o.dhe.small_group:
        ecdhe = any(c.startswith("ECDHE") for _, c in o.families.accepted)
        yield _f("weak-server-key-dh", 60 if ecdhe else 83,
                 f"a TLS 1.2 handshake offering only DHE suites is refused by OpenSSL at its default security level: "
                 f"`{o.dhe.at_default_raw.removeprefix('SSL error: ')}` (the server's DH group is under 2048 bits)",
                 f"at security level 0 it completes ({o.dhe.cipher or o.dhe.at_level0}): the server offers DHE "
                 "with that small group" if o.dhe.at_level0 == "accepted" else "",
                 "it accepts ECDHE suites too: only clients offering DHE alone meet the small group" if ecdhe else "")


def key_usage_rule(o: Observed) -> Iterator[Finding]:
    """wrong-key-usage: the leaf is not for a TLS server (EKU without serverAuth, keyUsage without a TLS bit)."""
    if not o.chain:
        return
    leaf = o.chain[0]
    said = next((f"OpenSSL's own verification agrees: num={n} ({t}) at depth {d}" for n, d, t in o.verify_errors
                 if n == 26), "")
    if leaf.eku and not {"serverAuth", "anyExtendedKeyUsage"} & set(leaf.eku):
        yield _f("wrong-key-usage", 86, f"the server certificate's extendedKeyUsage is {', '.join(leaf.eku)}, "
                 "without serverAuth: it is not valid for a TLS server ('unsupported certificate purpose')", said)
    elif leaf.key_usage is not None and not {"digital_signature", "key_encipherment"} & set(leaf.key_usage):
        yield _f("wrong-key-usage", 84, f"the server certificate's keyUsage is {', '.join(leaf.key_usage) or 'empty'}, "
                 "without digitalSignature or keyEncipherment: it cannot authenticate a TLS server", said)


def alpn_rule(o: Observed) -> Iterator[Finding]:
    a = o.alpn
    if a.http1_alert == "no_application_protocol" and a.h2 == "accepted":
        yield _f("alpn-required", 87,
                 "offering ALPN http/1.1 only, the server refuses the handshake (alert no_application_protocol); "
                 f"offering h2 it completes (selected {a.h2_selected or 'h2'}): the server speaks only HTTP/2")


def cross_sign_rule(o: Observed) -> Iterator[Finding]:
    """expired-cross-signed-root: the path ends at an expired anchor through a cross-sign, or carries an expired one."""
    check = o.check
    if check.status != "anchored" or not o.chain:
        return
    anchor = f"{o.ca_file}" if o.ca_file else "the system trust store"
    if check.anchor_not_after is not None and o.now > check.anchor_not_after:
        top = o.chain[check.stopped_at]
        cross = check.stopped_at >= 1 and top.is_ca and not top.self_signed
        yield _f("expired-cross-signed-root", 88 if cross else 70,
                 f"the served chain ends at [{check.stopped_at}] `{top.subject}`"
                 + (", a cross-sign" if cross else "") + f" issued by `{check.anchor}`, the only anchor for it in "
                 f"{anchor}, which expired on {check.anchor_not_after:%Y-%m-%d %H:%M}Z",
                 "no served certificate has expired: the client's trust store is old (it lacks the new root the "
                 "cross-sign stands in for)" if cross else "", _openssl(o))
    for i in check.unrelated:
        c = o.chain[i]
        if c.is_ca and o.now > c.not_after:
            yield _f("expired-cross-signed-root", 62,
                     f"the served chain also carries [{i}] `{c.subject}` (issued by `{c.issuer}`), expired on "
                     f"{c.not_after:%Y-%m-%d}, which the path to `{check.anchor}` does not need: clients that "
                     "follow the served chain (OpenSSL 1.0.x, old Android) fail; serve the short chain")


def eof_rule(o: Observed) -> Iterator[Finding]:
    """unexpected-eof: the body ends with the connection, and the connection ends without close_notify."""
    e = o.ending
    if o.handshake_ok and e.how in ("eof", "reset") and e.delimited_by_close:
        yield _f("unexpected-eof", 80,
                 f"the server answers `{o.http_line}` without Content-Length and then ends the connection with a "
                 + ("TCP close" if e.how == "eof" else "TCP reset") + " and no close_notify: OpenSSL 3 reports "
                 "'unexpected eof while reading' (a truncated body looks complete)")


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
    "tls-to-plain-port", "intercepting-proxy", "client-clock-behind", "client-cert-not-sent", "weak-server-key",
    "weak-server-key-sha1", "weak-server-key-dh", "cn-only-certificate", "wrong-key-usage", "alpn-required",
    "expired-cross-signed-root", "unexpected-eof",
})

# Catalog causes that live in the client, not the server: a probe of the server cannot see them.
# diagnose says so (in its output when the server looks healthy, and always in --json).
CLIENT_SIDE: dict[str, str] = {
    "missing-ca-bundle": "the client's own trust store is empty or missing; the server's chain is not at fault. "
                         "Check the client's CA bundle (SSL_CERT_FILE, curl --cacert, the Java truststore)",
    "plain-http-to-tls-port": "the client sends plain HTTP (http://) to this TLS port; the server is right to "
                              "refuse it. Check the client's URL scheme",
    "client-clock-behind": "the client's clock is behind; seen only when you give its offset "
                           "(--clock-offset-days -N) and a certificate is then not yet valid",
}

RULES: tuple[Rule, ...] = (plain_port_rule, chain_rule, validity_rule, name_rule, sni_rule, version_rule, cipher_rule,
                           client_cert_rule, ocsp_rule, weak_key_rule, key_usage_rule, alpn_rule, cross_sign_rule,
                           eof_rule, fallback_rule)


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
            if finding.scenario not in catalog.ids:  # a --scenarios directory without it: still said, unexplained
                found[finding.scenario] = Cause(finding.scenario, finding.evidence, "", finding.score)
                continue
            scenario = catalog.get(finding.scenario)
            fix = next((r for r in scenario.resolutions if r.recommended), scenario.resolutions[0])
            found[finding.scenario] = Cause(finding.scenario, finding.evidence, fix.summary, finding.score,
                                            scenario.title)
    return tuple(sorted(found.values(), key=lambda c: -c.score))
