"""Which client printed a message: client families and the wordings that identify them.

The symptom a message stands for comes from :func:`lab.symptoms.normalise`, the one table
that maps raw text to the lab's vocabulary. This module adds what that table does not know:
*who* said it (OpenSSL 1.1.1 or 3.x, Go, Node.js, Schannel, ...), and what a particular
wording tells beyond its symptom (Node's ``unable to verify the first certificate`` means
the leaf's issuer never arrived, which favours a missing intermediate over an untrusted root).

The table grows one row per wording of a new client family. Each row names the symptom the
wording must normalise to; tests/explain_corpus.py holds a real message for every row and
tests/test_explain.py checks that ``normalise`` agrees, so the two tables cannot drift.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lab.symptoms import Kind, Symptom, normalise

GATEWAY_CLIENT = "gateway"  # the key scenario files use for the southbound gateway's TLS client


@dataclass(frozen=True)
class Family:
    """A client (or server log) whose words the table knows.

    ``probe`` is the lab probe that speaks the same words, so the matrix's observations for
    that probe count as exact evidence; ``gateway`` marks a gateway's log (the southbound view).
    """

    id: str
    name: str
    probe: str | None = None
    gateway: bool = False
    library: bool = False  # a TLS library whose words an application passes on (curl prints OpenSSL's)


FAMILIES: dict[str, Family] = {f.id: f for f in (
    Family("openssl", "OpenSSL", "openssl", library=True),
    Family("openssl-3", "OpenSSL 3.x", "openssl", library=True),
    Family("openssl-1.1", "OpenSSL 1.1.x", "openssl", library=True),
    Family("openssl-1.0", "OpenSSL 1.0.x", "openssl", library=True),
    Family("libressl", "LibreSSL", "openssl", library=True),
    Family("boringssl", "BoringSSL (Envoy, gRPC)", library=True),
    Family("curl", "curl", "curl"),
    Family("python", "Python ssl", "python-ssl"),
    Family("requests", "Python requests/urllib3", "python-ssl"),
    Family("java", "Java (JSSE)", "java"),
    Family("go", "Go crypto/tls and crypto/x509"),
    Family("node", "Node.js"),
    Family("gnutls", "GnuTLS", library=True),
    Family("nss", "NSS (curl on RHEL/CentOS 7, Firefox)", library=True),
    Family("firefox", "Firefox"),
    Family("schannel", "Windows Schannel", library=True),
    Family("dotnet", ".NET (SslStream, HttpClient)"),
    Family("securetransport", "Apple SecureTransport", library=True),
    Family("chrome", "Chrome/Chromium", "browser"),
    Family("nginx", "nginx error log", gateway=True),
    Family("nginx-server", "nginx error log (as the TLS server)"),
    Family("envoy", "Envoy/Istio", gateway=True),
    Family("http", "an HTTP response", gateway=True),
)}


@dataclass(frozen=True)
class Wording:
    """One row: a family's wording, the symptom it normalises to, what it means beyond that.

    ``symptom`` None marks a family marker only (e.g. an OpenSSL 3 error code): it names the
    family, the symptom comes from the rest of the line. ``favours`` lists scenarios this
    exact wording points to more than its symptom alone does.
    """

    family: str
    pattern: re.Pattern[str]
    symptom: Symptom | None
    note: str = ""
    favours: tuple[str, ...] = ()


def _w(family: str, pattern: str, symptom: str | None, note: str = "", favours: tuple[str, ...] = ()) -> Wording:
    assert family in FAMILIES, family
    return Wording(family, re.compile(pattern, re.IGNORECASE), Symptom.parse(symptom) if symptom else None,
                   note, favours)


_LEAF_ONLY = ("incomplete-chain", "wrong-intermediate", "ocsp-missing-intermediate")
_LEAF_ONLY_NOTE = ("the leaf's own issuer was not found: the server sent no intermediate, or the wrong one "
                   "(an untrusted root says 'unable to get local issuer certificate' instead)")

WORDINGS: tuple[Wording, ...] = (
    # --- OpenSSL by its error-code format: 3.x "error:0A000410", 1.1.x "error:14094410:...:ssl3_read_bytes",
    # 1.0.x "error:14077410:...:SSL23_GET_SERVER_HELLO" (upper-case function names).
    _w("openssl-3", r"error:0A0[0-9A-F]{5}:", None),
    _w("openssl-1.0", r"error:[0-9A-F]{8}:SSL routines:(?:SSL23|SSL3)_[A-Z_]+:", None),
    _w("openssl-1.1", r"error:14[0-9A-F]{6}:SSL routines:[a-z_0-9]+:", None),
    _w("libressl", r"LibreSSL/\d", None),
    _w("boringssl", r"OPENSSL_internal:", None),
    _w("openssl", r"verify error:num=(\d+)", None),
    _w("openssl", r"unable to verify the first certificate|verify error:num=21\b", "verify:unknown-issuer",
       _LEAF_ONLY_NOTE, _LEAF_ONLY),
    _w("openssl", r"OCSP response: no response sent", "revocation:no-staple",
       "openssl s_client -status: the server stapled no OCSP response"),
    # --- curl: "curl: (60) ..." and libcurl's "cURL error 60"
    _w("curl", r"curl: \(\d+\)|cURL error \d+", None),
    _w("curl", r"SSL certificate verification failed(?!.*(?:problem|verify result))", "alert:certificate_expired",
       "curl 7.x on OpenSSL prints this for a received certificate_expired alert: the server rejected YOUR "
       "client certificate as expired (curl's own check of the server passed)", ("expired-client-cert",)),
    # --- Python: ssl, urllib, requests/urllib3
    _w("python", r"\[SSL: [A-Z0-9_]+\]|\[SSL\] |SSLCertVerificationError|ssl\.SSLError", None),
    _w("requests", r"HTTPSConnectionPool\(|Max retries exceeded|urllib3|requests\.exceptions", None),
    _w("python", r"TLSV1_ALERT_PROTOCOL_VERSION", "alert:protocol_version",
       "the server refused every TLS version this client offers (urllib3 and Python 3.10+ offer TLS 1.2+ only)"),
    # --- Java (JSSE): 8 to 21
    _w("java", r"javax\.net\.ssl\.|sun\.security\.|java\.security\.cert\.", None),
    _w("java", r"PKIX path building failed|unable to find valid certification path", "verify:unknown-issuer",
       "Java says this for a missing intermediate, a wrong intermediate and an untrusted root alike"),
    _w("java", r"No appropriate protocol \(protocol is disabled or cipher suites are inappropriate\)",
       "negotiation:no-protocols",
       "this Java client has no version left to offer (jdk.tls.disabledAlgorithms or jdk.tls.client.protocols)",
       ("protocol-mismatch",)),
    _w("java", r"Received fatal alert: (\w+)", None),
    _w("java", r"The server selected protocol version TLS1[01]? is not accepted by client preferences",
       "negotiation:protocol-version", "Java 11+ disables TLSv1.0/1.1 (jdk.tls.disabledAlgorithms); the server "
       "offered nothing newer", ("protocol-mismatch",)),
    _w("java", r"handshake alert:\s+unrecognized_name", "alert:unrecognized_name",
       "Java 7/8 treat the server's unrecognized_name warning as fatal: the server does not know the name "
       "sent in server_name"),
    _w("java", r"No subject alternative (?:DNS )?names? matching|No name matching", "verify:hostname-mismatch"),
    _w("java", r"Remote host (?:terminated the handshake|closed connection during handshake)", "closed",
       "the server closed the connection without an alert"),
    # --- Go
    _w("go", r"x509: certificate signed by unknown authority", "verify:unknown-issuer",
       "Go words a missing intermediate and an untrusted root alike"),
    _w("go", r"x509: certificate has expired or is not yet valid: current time \S+ is after", "verify:expired"),
    _w("go", r"x509: certificate has expired or is not yet valid: current time \S+ is before",
       "verify:not-yet-valid"),
    _w("go", r"x509: certificate is valid for .+, not |x509: certificate is not valid for any names",
       "verify:hostname-mismatch"),
    _w("go", r"remote error: tls: ", None),
    _w("go", r"tls: first record does not look like a TLS handshake", "negotiation:wrong-version",
       "the server's answer is not TLS: plain HTTP on the port, or a proxy's error page"),
    _w("go", r"dial tcp [^:]+:\d+: connect:", None),
    # --- Node.js
    _w("node", r"\b(?:UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_HAS_EXPIRED|"
               r"CERT_NOT_YET_VALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|"
               r"EPROTO|ECONNRESET|ECONNREFUSED|ERR_SSL_[A-Z_]+)\b|deps/openssl", None),
    _w("node", r"UNABLE_TO_VERIFY_LEAF_SIGNATURE", "verify:unknown-issuer", _LEAF_ONLY_NOTE, _LEAF_ONLY),
    _w("node", r"Hostname/IP does not match certificate's altnames", "verify:hostname-mismatch"),
    _w("node", r"Client network socket disconnected before secure TLS connection", "closed",
       "the server closed the connection during the handshake without an alert"),
    # --- GnuTLS
    _w("gnutls", r"\*\*\* (?:Fatal error|Received alert|PKI verification)|gnutls_handshake\(\)|GnuTLS recv error|The certificate is NOT trusted|"
                 r"CAfile: .+ CRLfile:", None),
    _w("gnutls", r"The certificate issuer is unknown", "verify:unknown-issuer"),
    _w("gnutls", r"The certificate chain uses expired certificate", "verify:expired"),
    _w("gnutls", r"The name in the certificate does not match", "verify:hostname-mismatch"),
    _w("gnutls", r"A TLS fatal alert has been received", "alert:unspecified",
       "GnuTLS's summary line; the next line, '*** Received alert [N]', names the alert"),
    _w("gnutls", r"A packet with illegal or unsupported version was received", "negotiation:protocol-version"),
    _w("gnutls", r"An unexpected TLS packet was received", "negotiation:wrong-version",
       "the server's answer is not TLS: plain HTTP on the port, or a proxy's error page"),
    # --- NSS (curl on RHEL/CentOS 7) and Firefox
    _w("nss", r"NSS error -\d+|Peer's Certificate|SSL_ERROR_[A-Z_]+|SEC_ERROR_[A-Z_]+", None),
    _w("nss", r"Peer's Certificate issuer is not recognized|SEC_ERROR_UNKNOWN_ISSUER", "verify:unknown-issuer",
       "NSS and Firefox say this for a missing intermediate and an untrusted root alike"),
    _w("firefox", r"MOZILLA_PKIX_ERROR_[A-Z_]+", None),
    _w("firefox", r"MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT", "verify:self-signed"),
    _w("firefox", r"The OCSP response contains out-of-date information", "revocation:expired-response",
       "the stapled (or fetched) OCSP response is past its nextUpdate by this machine's clock"),
    _w("firefox", r"SSL_ERROR_BAD_CERT_DOMAIN", "verify:hostname-mismatch"),
    _w("nss", r"SSL_ERROR_NO_CYPHER_OVERLAP", "negotiation:no-ciphers"),
    _w("nss", r"SSL_ERROR_UNKNOWN_CA_ALERT", "alert:unknown_ca",
       "the server does not trust the CA that issued YOUR client certificate", ("unknown-client-cert",)),
    # --- Windows: Schannel (curl, git) and .NET
    _w("schannel", r"schannel:|SEC_E_[A-Z_]+|CRYPT_E_[A-Z_]+|InitializeSecurityContext", None),
    _w("schannel", r"SEC_E_UNTRUSTED_ROOT|issued by an authority that is not trusted", "verify:unknown-issuer",
       "Schannel says this for a missing intermediate and an untrusted root alike"),
    _w("schannel", r"A required certificate is not within its validity period", "verify:expired",
       "Windows' wording (Schannel, .NET) for an expired or not yet valid certificate"),
    _w("schannel", r"SEC_E_ILLEGAL_MESSAGE", "alert:unspecified",
       "Schannel received a fatal alert but does not say which; the Windows System event log (Schannel, "
       "event 36887) has the alert number"),
    _w("schannel", r"CRYPT_E_REVOCATION_OFFLINE|0x80092013|0x80092012", "revocation:unavailable",
       "Windows could not reach the CA's revocation service (OCSP/CRL) from this machine",
       ("ocsp-responder-blocked", "ocsp-responder-down")),
    _w("dotnet", r"System\.Security\.Authentication|System\.Net\.|AuthenticationException|Win32Exception|"
                 r"The remote certificate is invalid|The SSL connection could not be established", None),
    _w("dotnet", r"RemoteCertificateNameMismatch", "verify:hostname-mismatch"),
    _w("dotnet", r"The remote certificate is invalid according to the validation procedure(?!: RemoteCertificateName)",
       "verify:failed", ".NET does not say what failed: RemoteCertificateChainErrors covers an untrusted root, "
       "a missing intermediate and an expired certificate"),
    _w("dotnet", r"remote party has closed the transport stream", "closed",
       "the server closed the connection during the handshake, usually refusing the protocol version"),
    # --- Apple SecureTransport (curl and apps on macOS)
    _w("securetransport", r"SSL certificate problem: Invalid certificate chain|SSL peer handshake failed|"
                          r"errSSL\w+|SecureTransport", None),
    _w("securetransport", r"SSL peer handshake failed", "alert:handshake_failure",
       "SecureTransport's text for a received handshake_failure alert; despite its guess about client "
       "certificates, a cipher, version or SNI mismatch gives it too"),
    _w("securetransport", r"SSL certificate problem: Invalid certificate chain", "verify:failed",
       "SecureTransport's word for any chain it cannot validate (missing, wrong or untrusted CA, revoked)"),
    # --- Chrome/Chromium
    _w("chrome", r"net::ERR_[A-Z_]+|NET::ERR_[A-Z_]+|\bERR_(?:CERT|SSL|BAD_SSL)_[A-Z_]+", None),
    _w("chrome", r"ERR_CERT_AUTHORITY_INVALID", "verify:unknown-issuer",
       "Chrome says this for a missing intermediate (unless it can fetch it via AIA) and an untrusted root"),
    _w("chrome", r"ERR_SSL_VERSION_OR_CIPHER_MISMATCH", "negotiation:version-or-cipher",
       "Chrome shows one code for a version mismatch and a cipher mismatch"),
    # --- gateways: nginx's error log, Envoy/Istio's 503 body, the HTTP status itself
    _w("nginx", r"while SSL handshaking to upstream|upstream SSL certificate|while connecting to upstream", None),
    _w("nginx-server", r"while (?:reading client request headers|SSL handshaking)(?! to upstream)", None),
    _w("nginx", r"upstream SSL certificate does not match", "verify:hostname-mismatch"),
    _w("nginx-server", r"client sent no required SSL certificate", "alert:certificate_required",
       "nginx's log as a server: the client sent no certificate (its users see '400 No required SSL "
       "certificate was sent')"),
    _w("nginx-server", r"client SSL certificate verify error: \(10:", "alert:certificate_expired",
       "nginx's log as a server: the client's certificate has expired", ("expired-client-cert",)),
    _w("nginx-server", r"client SSL certificate verify error: \((?:2|19|20|21):", "alert:unknown_ca",
       "nginx's log as a server: the client's certificate is not from a CA nginx trusts",
       ("unknown-client-cert",)),
    _w("envoy", r"upstream connect error or disconnect/reset before headers", None),
    _w("envoy", r"reset reason: connection termination", "closed"),
    _w("http", r"(?:HTTP/[\d.]+ |<title>)50[234] ", None,
       "a gateway's answer: the TLS failure is between the gateway and its backend (southbound); the "
       "gateway's own log names it"),
    _w("http", r"(?:HTTP/[\d.]+ |<title>)400 (?:The SSL certificate error|No required SSL certificate)",
       "http:400", "nginx answers a TLS client-certificate failure with HTTP 400 after the handshake",
       ("expired-client-cert", "unknown-client-cert")),
)


@dataclass(frozen=True)
class Message:
    """One line of the user's text that the lab recognised: who said it and which symptom it is."""

    text: str
    symptom: Symptom
    families: tuple[str, ...]
    notes: tuple[str, ...] = ()
    favours: tuple[str, ...] = ()

    @property
    def family_names(self) -> str:
        return ", ".join(FAMILIES[f].name for f in self.families) or "unknown client"

    @property
    def gateway(self) -> bool:
        return any(FAMILIES[f].gateway for f in self.families)

    def probe(self) -> str | None:
        """The lab probe whose words these are, or the gateway, or None."""
        if self.gateway:
            return GATEWAY_CLIENT
        for f in self.families:
            if FAMILIES[f].probe:
                return FAMILIES[f].probe
        return None


def classify(line: str) -> Message | None:
    """One line -> Message, or None when the line carries no symptom (noise, or an unknown message)."""
    text = line.strip()
    if not text:
        return None
    symptom = normalise(text)
    if symptom.kind in (Kind.ERROR, Kind.OK):
        return None
    rows = [w for w in WORDINGS if w.pattern.search(text)]
    # The application first (curl, Java, nginx), then the TLS library whose words it passes on.
    families = tuple(sorted(dict.fromkeys(w.family for w in rows), key=lambda f: FAMILIES[f].library))
    notes = tuple(dict.fromkeys(w.note for w in rows if w.note and (w.symptom is None or w.symptom == symptom)))
    favours = tuple(dict.fromkeys(s for w in rows if w.symptom == symptom for s in w.favours))
    return Message(text, symptom, families, notes, favours)


def split_messages(text: str) -> list[str]:
    """A pasted log -> candidate lines. Java's ' | Caused by: ' joins (the lab's own raw) split too."""
    lines: list[str] = []
    for line in text.splitlines():
        lines.extend(part for part in line.split(" | ") if part.strip())
    return lines


# Generic symptoms a more specific one from the same paste makes redundant.
_GENERIC = {Symptom(Kind.VERIFY, "failed"), Symptom(Kind.ALERT, "unspecified"), Symptom(Kind.CLOSED)}


def significant(symptoms: Sequence[Symptom]) -> tuple[Symptom, ...]:
    """Distinct symptoms in order, without a generic one when a specific one of a TLS kind is present."""
    unique = tuple(dict.fromkeys(symptoms))
    specific = [s for s in unique if s not in _GENERIC and s.kind in (Kind.VERIFY, Kind.ALERT, Kind.NEGOTIATION,
                                                                       Kind.REVOCATION)]
    if not specific:
        return unique
    drop = {s for s in _GENERIC if s.kind is Kind.CLOSED or any(x.kind is s.kind for x in specific)}
    return tuple(s for s in unique if s not in drop)


def known_examples() -> list[str]:
    """Known wordings as readable text, for 'closest known messages' (patterns stripped of regex syntax)."""
    out: list[str] = []
    for w in WORDINGS:
        if w.symptom is None:
            continue
        first = w.pattern.pattern.split("|")[0]
        plain = re.sub(r"\\[sSdDwWb]|\(\?[:!=<][^)]*\)|[\\^$?*+()\[\]{}]", "", first.replace(r"\(", "(").replace(
            r"\)", ")").replace(r"\.", ".")).strip()
        if plain:
            out.append(plain)
    return list(dict.fromkeys(out))
