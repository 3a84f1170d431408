"""One vocabulary for what a TLS client observes, and the one table that maps raw client errors to it.

Every probe (Python ssl, pyOpenSSL, openssl s_client, curl, Java, a browser) words the same
failure differently, and OpenSSL 3.0, 3.x and 4.x word it differently again. The lab
compares *symptoms*, never raw strings, and keeps the raw text beside the symptom so a user
can search for the exact message they were sent.

A symptom is ``kind`` plus ``detail``, written ``kind:detail``:

    ok                      the handshake and the HTTP exchange succeeded
    alert:<name>            the peer sent a fatal alert (RFC 8446 names: handshake_failure, unknown_ca, ...);
                            alert:unspecified when the client does not say which (Schannel, GnuTLS's summary)
    verify:<reason>         this client rejected the peer's certificate (expired, unknown-issuer, hostname-mismatch, ...)
    revocation:<reason>     this client's revocation (OCSP) check failed; the certificate chain itself was fine:
        no-staple                the server stapled no OCSP response and the client requires one
        revoked                  the CA says the certificate is revoked (any source: staple, CRL, browser)
        unknown                  the responder does not know the certificate, or answered for another one
        expired-response         the response's nextUpdate is in the past by the client's clock
        not-yet-valid-response   the response's thisUpdate is in the future by the client's clock
        untrusted-signer         the response's signature or signer (expired, not authorised, another CA) fails
        responder-error          the responder answered an error status (tryLater, malformedRequest, ...)
        old-or-invalid           a staple came but was stale or failed to verify: the client does not say which
        malformed                the bytes are not an OCSP response
        unavailable              no response obtainable at all (refused, timed out): direct queries
    negotiation:<reason>    this client found no common ground by itself (protocol-version, no-ciphers, no-protocols)
    closed                  the peer closed the connection without a usable alert
    timeout / refused       the network level: no answer in time, nothing listening
    http:<status>           TLS worked, the HTTP answer was not 200 (e.g. the gateway's 503)
    error:unclassified      the table does not know the message yet (the raw text says what it was)
    error:lab               the lab itself failed (its set-up, its own material): never a client's symptom

Every message the lab writes about itself starts with :data:`LAB_PREFIX`; :func:`normalise` maps
those to ``error:lab`` before any rule can read them, so a broken set-up can never pass for the
fault a scenario expects.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Kind(enum.Enum):
    OK = "ok"
    ALERT = "alert"
    VERIFY = "verify"
    REVOCATION = "revocation"
    NEGOTIATION = "negotiation"
    CLOSED = "closed"
    TIMEOUT = "timeout"
    REFUSED = "refused"
    HTTP = "http"
    ERROR = "error"


@dataclass(frozen=True)
class Symptom:
    kind: Kind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.detail}" if self.detail else self.kind.value

    @property
    def ok(self) -> bool:
        return self.kind is Kind.OK

    @classmethod
    def parse(cls, text: str) -> "Symptom":
        """Parse ``kind:detail`` as written in scenario files; raises ValueError with the allowed kinds."""
        kind, _, detail = text.strip().partition(":")
        try:
            return cls(Kind(kind), detail)
        except ValueError:
            raise ValueError(
                f"unknown symptom kind {kind!r} in {text!r}; use one of {', '.join(k.value for k in Kind)}"
            ) from None


OK = Symptom(Kind.OK)
UNCLASSIFIED = Symptom(Kind.ERROR, "unclassified")
LAB_ERROR = Symptom(Kind.ERROR, "lab")
LAB_PREFIX = "tlslab:"  # starts every message the lab writes about its own failures


def lab_message(text: str) -> str:
    """A message about the lab's own failure, marked so the table never reads it as a client's."""
    return text if text.startswith(LAB_PREFIX) else f"{LAB_PREFIX} {text}"

# TLS alert descriptions (RFC 8446 section 6 and the TLS 1.2 registry), for numeric alerts.
ALERT_NAMES: dict[int, str] = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
    40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
    44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
    47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
    51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
    110: "unsupported_extension", 112: "unrecognized_name", 113: "bad_certificate_status_response",
    116: "certificate_required", 120: "no_application_protocol",
}
_ALERT_BY_WORDS = {name.replace("_", " "): name for name in ALERT_NAMES.values()}


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    kind: Kind
    detail: str = ""  # "" with a group in the pattern: the detail is the matched alert name

    def match(self, raw: str) -> Symptom | None:
        m = self.pattern.search(raw)
        if not m:
            return None
        if self.detail or not m.groups():
            return Symptom(self.kind, self.detail)
        words = m.group(1).strip().lower().replace("-", " ").replace("_", " ")
        name = _ALERT_BY_WORDS.get(words)
        if name is None and words.isdigit():
            name = ALERT_NAMES.get(int(words))
        return Symptom(self.kind, name or words.replace(" ", "_"))


def _r(pattern: str, kind: Kind, detail: str = "") -> Rule:
    return Rule(re.compile(pattern, re.IGNORECASE), kind, detail)


# The table: first match wins, so specific messages come before general ones.
# Certificate verification comes first: OpenSSL prints "certificate verify failed" *and*
# sends an alert, and what the user must fix is the verification reason.
RULES: tuple[Rule, ...] = (
    # --- other clients' own words (tlslab explain; tests/explain_corpus.py holds a real message for each) ---
    # Specific enough to go first: none of them appears in the lab's probes' messages.
    # A server's log about the *client's* certificate: the symptom is what the client is told.
    _r(r"client sent no required SSL certificate", Kind.ALERT, "certificate_required"),
    _r(r"client SSL certificate verify error: \(10:", Kind.ALERT, "certificate_expired"),
    _r(r"client SSL certificate verify error", Kind.ALERT, "unknown_ca"),
    # Go crypto/x509 and crypto/tls (Go words alerts its own way: "unknown certificate authority").
    _r(r"certificate has expired or is not yet valid: current time \S+ is before", Kind.VERIFY, "not-yet-valid"),
    _r(r"x509: certificate is valid for .+, not |x509: certificate is not valid for any names|"
       r"certificate relies on legacy Common Name field", Kind.VERIFY, "hostname-mismatch"),
    # (Go's alert words, "remote error: tls: ...", are one block below, with the other alerts.)
    _r(r"tls: first record does not look like a TLS handshake", Kind.NEGOTIATION, "wrong-version"),
    # Node.js error codes, when only the code was pasted (its messages are OpenSSL's words).
    _r(r"UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN",
       Kind.VERIFY, "unknown-issuer"),
    _r(r"\bCERT_HAS_EXPIRED\b", Kind.VERIFY, "expired"),
    _r(r"\bCERT_NOT_YET_VALID\b", Kind.VERIFY, "not-yet-valid"),
    _r(r"ERR_TLS_CERT_ALTNAME_INVALID", Kind.VERIFY, "hostname-mismatch"),
    _r(r"DEPTH_ZERO_SELF_SIGNED_CERT", Kind.VERIFY, "self-signed"),
    # GnuTLS (gnutls-cli; curl and git built on GnuTLS).
    _r(r"The certificate issuer is unknown|certificate issuer is not trusted", Kind.VERIFY, "unknown-issuer"),
    _r(r"certificate chain uses expired certificate", Kind.VERIFY, "expired"),
    _r(r"certificate chain uses not yet valid certificate", Kind.VERIFY, "not-yet-valid"),
    _r(r"The name in the certificate does not match", Kind.VERIFY, "hostname-mismatch"),
    _r(r"Received alert \[(\d+)\]", Kind.ALERT),
    _r(r"An unexpected TLS packet was received", Kind.NEGOTIATION, "wrong-version"),
    _r(r"A packet with illegal or unsupported version was received", Kind.NEGOTIATION, "protocol-version"),
    _r(r"server certificate verification failed\. CAfile|gnutls_handshake\(\) failed: Error in the certificate",
       Kind.VERIFY, "failed"),
    _r(r"The TLS connection was non-properly terminated", Kind.CLOSED),
    # NSS: curl on RHEL/CentOS 7 and Firefox (SEC_ERROR_*, SSL_ERROR_*, MOZILLA_PKIX_ERROR_*).
    _r(r"SEC_ERROR_UNKNOWN_ISSUER|SEC_ERROR_UNTRUSTED_ISSUER|Peer's Certificate issuer is not recognized|"
       r"Peer's certificate issuer has been marked as not trusted", Kind.VERIFY, "unknown-issuer"),
    _r(r"MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT", Kind.VERIFY, "self-signed"),
    _r(r"SEC_ERROR_EXPIRED_CERTIFICATE|SEC_ERROR_EXPIRED_ISSUER_CERTIFICATE|Peer's Certificate has expired",
       Kind.VERIFY, "expired"),
    _r(r"SSL_ERROR_BAD_CERT_DOMAIN", Kind.VERIFY, "hostname-mismatch"),
    _r(r"SEC_ERROR_REVOKED_CERTIFICATE", Kind.REVOCATION, "revoked"),
    _r(r"MOZILLA_PKIX_ERROR_REQUIRED_TLS_FEATURE_MISSING", Kind.REVOCATION, "no-staple"),
    _r(r"SEC_ERROR_OCSP_OLD_RESPONSE|OCSP response contains out-of-date information", Kind.REVOCATION,
       "expired-response"),
    _r(r"SEC_ERROR_OCSP_FUTURE_RESPONSE", Kind.REVOCATION, "not-yet-valid-response"),
    _r(r"SEC_ERROR_OCSP_INVALID_SIGNING_CERT|SEC_ERROR_OCSP_BAD_SIGNATURE", Kind.REVOCATION, "untrusted-signer"),
    _r(r"SEC_ERROR_OCSP_(?:SERVER_ERROR|TRY_SERVER_LATER|UNAUTHORIZED_REQUEST)", Kind.REVOCATION, "responder-error"),
    _r(r"SSL_ERROR_NO_CYPHER_OVERLAP", Kind.NEGOTIATION, "no-ciphers"),
    _r(r"SSL_ERROR_UNSUPPORTED_VERSION", Kind.NEGOTIATION, "protocol-version"),
    _r(r"SSL_ERROR_RX_RECORD_TOO_LONG", Kind.NEGOTIATION, "wrong-version"),
    # Schannel (curl and git on Windows) and .NET (SslStream, HttpClient).
    _r(r"SEC_E_UNTRUSTED_ROOT|CERT_E_UNTRUSTEDROOT|issued by an authority that is not trusted|"
       r"errors in the certificate chain: (?:UntrustedRoot|PartialChain)", Kind.VERIFY, "unknown-issuer"),
    _r(r"SEC_E_CERT_EXPIRED|CERT_E_EXPIRED|not within its validity period|"
       r"errors in the certificate chain: NotTimeValid", Kind.VERIFY, "expired"),
    _r(r"SEC_E_WRONG_PRINCIPAL|CERT_E_CN_NO_MATCH|The target principal name is incorrect|"
       r"RemoteCertificateNameMismatch", Kind.VERIFY, "hostname-mismatch"),
    _r(r"CRYPT_E_REVOKED|The certificate is revoked", Kind.REVOCATION, "revoked"),
    _r(r"CRYPT_E_REVOCATION_OFFLINE|CRYPT_E_NO_REVOCATION_CHECK|0x8009201[23]\b", Kind.REVOCATION, "unavailable"),
    _r(r"SEC_E_ALGORITHM_MISMATCH|do not possess a common algorithm", Kind.NEGOTIATION, "version-or-cipher"),
    # Schannel does not say which alert it received; nor does GnuTLS's summary line.
    _r(r"SEC_E_ILLEGAL_MESSAGE|0x80090326|The message received was unexpected or badly formatted|"
       r"A TLS fatal alert has been received", Kind.ALERT, "unspecified"),
    _r(r"The remote certificate is invalid according to the validation procedure|RemoteCertificateChainErrors|"
       r"SEC_E_CERT_UNKNOWN", Kind.VERIFY, "failed"),
    _r(r"remote party has closed the transport stream|unexpected EOF or 0 bytes from the transport stream",
       Kind.CLOSED),
    # SecureTransport (curl and apps on macOS): "SSL peer handshake failed, the server most likely requires a
    # client certificate to connect" is its name for a received handshake_failure alert.
    _r(r"SSL peer handshake failed", Kind.ALERT, "handshake_failure"),
    # BoringSSL's reason codes (Envoy/Istio 503 bodies): "OPENSSL_internal:WRONG_VERSION_NUMBER".
    _r(r"WRONG_VERSION_NUMBER", Kind.NEGOTIATION, "wrong-version"),
    # An OpenSSL alert text followed by a bracketed tag (Nim's "[SslError]", other wrappers).
    _r(r"(?:sslv3|tlsv1|tlsv13) alert ([a-z ]+?)(?=\s*\[)", Kind.ALERT),
    # OpenSSL 1.0.2: the answer was not TLS at all (plain HTTP on the port, a proxy's error page).
    _r(r"\bunknown protocol\b", Kind.NEGOTIATION, "wrong-version"),
    # OpenSSL 3 against a TLSv1.0/1.1-only server: the version is negotiated, its SHA-1 signature then refused.
    _r(r"legacy sigalg disallowed or unsupported", Kind.NEGOTIATION, "protocol-version"),
    # curl 7.x on OpenSSL reports a *received* certificate_expired alert (the server rejected the client's
    # certificate) as "SSL certificate verification failed" when its own verification passed.
    _r(r"SSL certificate verification failed(?!.*(?:problem|verify result))", Kind.ALERT, "certificate_expired"),
    # Java 8 words a peer's abort this way; Envoy a reset before the response; Node.js a close mid-handshake.
    _r(r"Client network socket disconnected before secure TLS connection", Kind.CLOSED),
    _r(r"Remote host closed connection during handshake|reset reason: (?:connection termination|"
       r"remote connection failure)", Kind.CLOSED),
    # --- the revocation (OCSP) check failed: curl, s_client's printed status, the lab's own checks ---
    # Before the certificate rules: "OCSP response has expired" is about the response, not the certificate.
    _r(r"No OCSP response received|OCSP response: no response sent|no OCSP response (?:was )?stapled",
       Kind.REVOCATION, "no-staple"),
    # JSSE: "OCSP response error: TRY_LATER".
    _r(r"Invalid OCSP response status|OCSP Response Status: (?!successful)|OCSP response status (?!successful)\w+|"
       r"OCSP response error: \w+", Kind.REVOCATION, "responder-error"),
    # JSSE (sun.security.provider.certpath.OCSPResponse): "Responder's certificate not within the
    # validity period", "... is not authorized to sign OCSP responses", "Error verifying OCSP Response's signature".
    # The lab's own staple check names the signer: "OCSP signer certificate CN=... expired on ...",
    # "OCSP signer CN=... lacks id-kp-OCSPSigning", "OCSP signer not found: ...".
    _r(r"OCSP response verification failed|OCSP signer (?:not found\b|certificate |[A-Z]+=)|OCSP_basic_verify|"
       r"Responder's certificate|"
       r"OCSP Response's signature|signature of OCSP Response|Invalid issuer or trusted responder certificate",
       Kind.REVOCATION, "untrusted-signer"),
    _r(r"OCSP response has expired|OCSP response (?:is )?expired", Kind.REVOCATION, "expired-response"),
    # JSSE words an expired and a not-yet-valid response alike; "out-of-date" is the common (expired) case.
    _r(r"Response is unreliable: its validity interval is out-of-date", Kind.REVOCATION, "expired-response"),
    _r(r"OCSP response (?:is )?not yet valid", Kind.REVOCATION, "not-yet-valid-response"),
    _r(r"certificate revoked|CERT_REVOKED|revocation status: revoked|ERR_CERT_REVOKED|revocation reason|"
       r"Cert Status: revoked|certificate status is revoked|Certificate has been revoked",
       Kind.REVOCATION, "revoked"),
    _r(r"Cert Status: unknown|certificate status is unknown|Could not find certificate ID|"
       r"Certificate's revocation status is unknown|No response found for CertId|"
       r"OCSP response does not include a response for a certificate", Kind.REVOCATION, "unknown"),
    _r(r"Invalid OCSP response|malformed OCSP response|not an OCSP response|Bad encoding in \w+(?: element of)? OCSP response",
       Kind.REVOCATION, "malformed"),
    _r(r"OCSP responder (?:did not answer|refused|unreachable)|OCSP request failed|"
       r"Unable to determine revocation status due to network error", Kind.REVOCATION, "unavailable"),
    # GnuTLS (gnutls-cli 3.7.9) "- Status: The certificate is NOT trusted. ...": a must-staple leaf without
    # a staple, and a stapled "revoked".
    _r(r"requires the server to include an OCSP status in its response, but the OCSP status is missing",
       Kind.REVOCATION, "no-staple"),
    _r(r"The certificate chain is revoked", Kind.REVOCATION, "revoked"),
    # NSS (tstclnt 3.87 -T -O -F) states its fresh-revocation verdict by exit code only; the probe
    # words it with tstclnt -h's text and tstclnt's own "Received N Cert Status items" count.
    # Exit 2 lumps a missing, stale and unverifiable staple: only the count tells "missing" apart.
    _r(r"status revoked|SEC_ERROR_REVOKED_CERTIFICATE", Kind.REVOCATION, "revoked"),
    _r(r"missing, old or invalid revocation data \(Received 0 Cert Status items", Kind.REVOCATION, "no-staple"),
    _r(r"missing, old or invalid revocation data", Kind.REVOCATION, "old-or-invalid"),
    # --- this client rejected the peer's certificate -------------------------------------
    # Go 1.19 (crypto/x509) words an expired and a not-yet-valid certificate in one sentence; the
    # clause after it tells which: "x509: certificate has expired or is not yet valid: current time
    # 2026-12-01T20:00:00Z is before 2026-12-02T...".
    _r(r"certificate has expired or is not yet valid: current time \S+ is before", Kind.VERIFY, "not-yet-valid"),
    # nginx 1.22.1's error log (proxy_ssl_verify on, southbound): 'upstream SSL certificate does not match
    # "myorg.domain.lab.test" while SSL handshaking to upstream'.
    _r(r'upstream SSL certificate does not match "', Kind.VERIFY, "hostname-mismatch"),
    # Go 1.19: "x509: certificate is valid for something.domain.lab.test, not myorg.domain.lab.test";
    # GnuTLS 3.7.9: "The name in the certificate does not match the expected."; NSS 3.87: SSL_ERROR_BAD_CERT_DOMAIN.
    _r(r"x509: certificate is (?:valid for .+, not |not valid for any names)|because it doesn't contain any IP SANs|"
       r"The name in the certificate does not match the expected|SSL_ERROR_BAD_CERT_DOMAIN",
       Kind.VERIFY, "hostname-mismatch"),
    # Go 1.19 words a SHA-1 signature as an unknown authority, with the reason in brackets: 'x509: certificate
    # signed by unknown authority (possibly because of "x509: cannot verify signature: insecure algorithm
    # SHA1-RSA (temporarily override with GODEBUG=x509sha1=1)" ...)'; GnuTLS 3.7.9: "The certificate chain
    # uses insecure algorithm." Before the unknown-authority rule: the bracket is what to fix.
    _r(r"cannot verify signature: insecure algorithm SHA1|The certificate chain uses insecure algorithm",
       Kind.VERIFY, "weak-signature"),
    # Go 1.19: "x509: certificate signed by unknown authority"; GnuTLS 3.7.9: "The certificate issuer is
    # unknown."; NSS 3.87: "SEC_ERROR_UNKNOWN_ISSUER: Peer's Certificate issuer is not recognized."
    # NSS 3.87 on a chain that ends in a CA it was not told to trust (an intercepting proxy's):
    # "SEC_ERROR_UNTRUSTED_ISSUER: Peer's certificate issuer has been marked as not trusted by the user."
    _r(r"x509: certificate signed by unknown authority|The certificate issuer is unknown|SEC_ERROR_UNKNOWN_ISSUER|"
       r"SEC_ERROR_UNTRUSTED_ISSUER",
       Kind.VERIFY, "unknown-issuer"),
    # GnuTLS 3.7.9: "The certificate chain uses expired certificate." / "... uses not yet valid certificate.";
    # NSS 3.87: SEC_ERROR_EXPIRED_CERTIFICATE ("Peer's Certificate has expired."), also for a certificate
    # that is not yet valid: NSS's words do not tell them apart, so neither can the symptom.
    _r(r"The certificate chain uses expired certificate|SEC_ERROR_EXPIRED(?:_ISSUER)?_CERTIFICATE", Kind.VERIFY, "expired"),
    _r(r"The certificate chain uses not yet valid certificate", Kind.VERIFY, "not-yet-valid"),
    # Only a *name* that does not match: "private key does not match certificate" is a broken set-up.
    _r(r"hostname mismatch|no alternative certificate subject name matches|"
       r"ip address mismatch|DNSMismatch|IPAddressMismatch|hostname '[^']*' doesn't match|"
       r"does not match (?:target host name|hostname|certificate's altnames)|owner does not match hostname|"
       # nginx 1.22 as a gateway: 'upstream SSL certificate does not match "api.lab.test"'
       r"SSL certificate does not match \"[^\"]*\"|"
       r"No subject alternative (?:DNS )?names? matching|No name matching|ERR_CERT_COMMON_NAME_INVALID|"
       # Go crypto/tls (1.19): "x509: certificate is valid for a.lab.test, b.lab.test, not c.lab.test"
       r"x509: certificate is valid for .*, not |x509: certificate is not valid for any names|"
       r"relies on legacy Common Name field|does not contain any .?subjectAltName",
       Kind.VERIFY, "hostname-mismatch"),
    # Go words expiry and not-yet-valid alike; only the comparison tells them apart.
    _r(r"x509: certificate has expired or is not yet valid: current time \S+ is before", Kind.VERIFY,
       "not-yet-valid"),
    _r(r"certificate has expired|CertificateExpiredException|certificate expired on|NotAfter:|ERR_CERT_DATE_INVALID.*expired|"
       r"X509_V_ERR_CERT_HAS_EXPIRED|\bnum=10\b", Kind.VERIFY, "expired"),
    _r(r"certificate is not yet valid|CertificateNotYetValidException|NotBefore:|X509_V_ERR_CERT_NOT_YET_VALID|\bnum=9\b",
       Kind.VERIFY, "not-yet-valid"),
    _r(r"ERR_CERT_DATE_INVALID", Kind.VERIFY, "expired"),
    _r(r"unable to get local issuer certificate|unable to get issuer certificate|"
       r"unable to verify the first certificate|PKIX path building failed|"
       r"unable to find valid certification path|No trusted certificate found|ERR_CERT_AUTHORITY_INVALID|"
       r"self[- ]signed certificate in certificate chain|\bnum=(?:2|19|20|21)\b|"
       r"x509: certificate signed by unknown authority",  # Go crypto/tls
       Kind.VERIFY, "unknown-issuer"),
    _r(r"(?<!in certificate chain)self[- ]signed certificate\b(?! in)|\bnum=18\b", Kind.VERIFY, "self-signed"),
    # OpenSSL's security level refuses the certificate itself (X509_V_ERR_EE_KEY_TOO_SMALL,
    # X509_V_ERR_CA_MD_TOO_WEAK; "ee key too small" / "ca md too weak" where a server loads it).
    _r(r"EE certificate key too weak|CA certificate key too weak|ee key too small|ca key too small|"
       r"\bnum=6[67]\b|ERR_CERT_WEAK_KEY", Kind.VERIFY, "weak-key"),
    _r(r"CA signature digest algorithm too weak|ca md too weak|\bnum=68\b|ERR_CERT_WEAK_SIGNATURE_ALGORITHM",
       Kind.VERIFY, "weak-signature"),
    # Go 1.19: "x509: certificate specifies an incompatible key usage"; GnuTLS 3.7.9: "The certificate chain
    # does not match the intended purpose."; NSS 3.87: "SEC_ERROR_INADEQUATE_CERT_TYPE: Certificate type not
    # approved for application."
    _r(r"unsupported certificate purpose|unsuitable certificate purpose|\bnum=26\b|"
       r"Extended key usage does not permit|KeyUsage does not allow|certificate specifies an incompatible key usage|"
       r"does not match the intended purpose|SEC_ERROR_INADEQUATE_CERT_TYPE", Kind.VERIFY, "wrong-purpose"),
    # No trust anchors at all: curl's CA file holds none, Java's truststore is empty, gnutls-cli 3.7.9's
    # --x509cafile holds none ("Error setting the x509 trust file: No certificate was found.").
    _r(r"error setting certificate (?:verify locations|file)|trustAnchors parameter must be non-empty|"
       r"Error setting the x509 trust file",
       Kind.VERIFY, "no-trust-store"),
    _r(r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|SSL certificate problem|ERR_CERT_INVALID",
       Kind.VERIFY, "failed"),
    # --- the peer sent a fatal alert -----------------------------------------------------
    _r(r"tlsv1 unrecognized name|unrecognized_name", Kind.ALERT, "unrecognized_name"),
    # Chromium folds every alert rejecting its certificate (bad_certificate, certificate_expired,
    # unknown_ca, certificate_unknown, ...) into one code: the alert's name is lost, so is ours.
    _r(r"ERR_SSL_CLIENT_AUTH_CERT_NEEDED", Kind.ALERT, "certificate_required"),
    _r(r"ERR_BAD_SSL_CLIENT_AUTH_CERT", Kind.ALERT, "client-certificate-rejected"),
    _r(r"(?:sslv3|tlsv1|tlsv13|ssl/tls|tls) alert ([a-z ]+?)(?=\s*(?:$|[:,(\]'\"]|\berrno\b|\bSSL\b))", Kind.ALERT),
    # Go 1.19 (crypto/tls alertText) names alerts in its own words: "remote error: tls: handshake failure",
    # "remote error: tls: expired certificate", "remote error: tls: certificate required".
    _r(r"remote error: tls: expired certificate", Kind.ALERT, "certificate_expired"),
    _r(r"remote error: tls: unknown certificate authority", Kind.ALERT, "unknown_ca"),
    _r(r"remote error: tls: protocol version not supported", Kind.ALERT, "protocol_version"),
    _r(r"remote error: tls: revoked certificate", Kind.ALERT, "certificate_revoked"),
    _r(r"remote error: tls: unsupported certificate", Kind.ALERT, "unsupported_certificate"),
    # ... and the rest of Go's alertText that is not the RFC name spelt with spaces
    _r(r"remote error: tls: unknown certificate(?! authority)", Kind.ALERT, "certificate_unknown"),
    _r(r"remote error: tls: error decoding message", Kind.ALERT, "decode_error"),
    _r(r"remote error: tls: error decrypting message", Kind.ALERT, "decrypt_error"),
    _r(r"remote error: tls: insufficient security level", Kind.ALERT, "insufficient_security"),
    _r(r"remote error: tls: ([a-z ]+?)(?=\s*(?:$|[:,(\]'\"]))", Kind.ALERT),
    # GnuTLS 3.7.9: "*** Received alert [40]: Handshake failed" (the number is the alert).
    _r(r"Received alert \[(\d+)\]", Kind.ALERT),
    # NSS 3.87 names a received alert SSL_ERROR_<NAME>_ALERT: "SSL_ERROR_EXPIRED_CERT_ALERT: SSL peer
    # rejected your certificate as expired.", "SSL_ERROR_UNKNOWN_CA_ALERT".
    _r(r"SSL_ERROR_EXPIRED_CERT_ALERT", Kind.ALERT, "certificate_expired"),
    _r(r"SSL_ERROR_REVOKED_CERT_ALERT", Kind.ALERT, "certificate_revoked"),
    _r(r"SSL_ERROR_BAD_CERT_ALERT", Kind.ALERT, "bad_certificate"),
    _r(r"SSL_ERROR_UNSUPPORTED_CERT_ALERT", Kind.ALERT, "unsupported_certificate"),
    _r(r"SSL_ERROR_RX_CERTIFICATE_REQUIRED_ALERT", Kind.ALERT, "certificate_required"),
    _r(r"SSL_ERROR_BAD_CERT_STATUS_RESPONSE_ALERT", Kind.ALERT, "bad_certificate_status_response"),
    _r(r"SSL_ERROR_([A-Z_]+?)_ALERT\b", Kind.ALERT),
    _r(r"Received fatal alert: (\w+)", Kind.ALERT),
    _r(r"SSL alert number (\d+)", Kind.ALERT),
    _r(r"alert_(\w+?)(?:'|\"|\)|\s|$)", Kind.ALERT),
    # --- this client could not negotiate by itself ---------------------------------------
    # Chromium shows one code for a handshake_failure or protocol_version alert: it cannot tell
    # a version mismatch from a cipher mismatch, so neither can the symptom.
    _r(r"ERR_SSL_VERSION_OR_CIPHER_MISMATCH", Kind.NEGOTIATION, "version-or-cipher"),
    # The server's finite-field DH group is below the client's security level.
    _r(r"dh key too small|DH ServerKeyExchange does not comply|ERR_SSL_WEAK_SERVER_EPHEMERAL_DH_KEY",
       Kind.NEGOTIATION, "weak-dh"),
    # NSS 3.87 words a received handshake_failure alert as it words its own failure to find a common
    # suite: "SSL_ERROR_NO_CYPHER_OVERLAP: Cannot communicate securely with peer: no common encryption
    # algorithm(s)." (ssl3_HandleAlert): the words cannot tell them apart, so neither can the symptom.
    _r(r"SSL_ERROR_NO_CYPHER_OVERLAP", Kind.NEGOTIATION, "no-ciphers"),
    # NSS 3.87: "SSL_ERROR_UNSUPPORTED_VERSION: Peer using unsupported version of security protocol.";
    # GnuTLS 3.7.9: "*** Fatal error: A packet with illegal or unsupported version was received."
    _r(r"SSL_ERROR_UNSUPPORTED_VERSION|A packet with illegal or unsupported version was received",
       Kind.NEGOTIATION, "protocol-version"),
    _r(r"no ciphers available|no cipher match|failed setting cipher list|no cipher suites? in common|"
       r"No appropriate cipher suite", Kind.NEGOTIATION, "no-ciphers"),
    _r(r"unsupported protocol|wrong ssl version|protocol version (?:is )?not (?:supported|accepted)|"
       r"is not accepted by client preferences",
       Kind.NEGOTIATION, "protocol-version"),
    # Java: "No appropriate protocol (protocol is disabled or cipher suites are inappropriate)"
    _r(r"no protocols available|No appropriate protocol", Kind.NEGOTIATION, "no-protocols"),
    # The answer is not TLS (a plain-HTTP port): Go 1.19 "http: server gave HTTP response to HTTPS client";
    # GnuTLS 3.7.9 "An unexpected TLS packet was received."; NSS 3.87 "SSL_ERROR_RX_RECORD_TOO_LONG".
    _r(r"server gave HTTP response to HTTPS client|An unexpected TLS packet was received|SSL_ERROR_RX_RECORD_TOO_LONG",
       Kind.NEGOTIATION, "wrong-version"),
    _r(r"wrong version number|packet length too long|record layer failure|"
       r"Unsupported or unrecognized SSL message", Kind.NEGOTIATION, "wrong-version"),
    # Chromium's catch-all for a malformed or unexpected handshake.
    _r(r"ERR_SSL_PROTOCOL_ERROR", Kind.NEGOTIATION, "protocol-error"),
    # --- the network level ---------------------------------------------------------------
    _r(r"timed? ?out|Operation timed out|\(28\)|SocketTimeoutException|ERR_TIMED_OUT", Kind.TIMEOUT),
    _r(r"connection refused|ConnectException|\(7\) Failed to connect|ERR_CONNECTION_REFUSED", Kind.REFUSED),
    _r(r"unexpected eof|EOF occurred in violation of protocol|connection reset|Connection closed|"
       r"Remote host terminated|Empty reply from server|SSL_ERROR_SYSCALL|ConnectionLost|"
       r"ERR_CONNECTION_(?:CLOSED|RESET)|ERR_EMPTY_RESPONSE|ERR_SOCKET_NOT_CONNECTED|closed by peer|SSLEOFError|"
       # GnuTLS 3.7.9: "The TLS connection was non-properly terminated." (gnutls_strerror of
       # GNUTLS_E_PREMATURE_TERMINATION); a TCP reset mid-exchange: "*** Fatal error: Error in the pull
       # function. | *** Server has terminated the connection abnormally." (gnutls-cli, seen by hand)
       r"The TLS connection was non-properly terminated|Server has terminated the connection abnormally|"
       # nginx's error log: "peer closed connection in SSL handshake", "upstream prematurely closed connection"
       r"(?:peer|prematurely) closed connection",
       Kind.CLOSED),
    # --- an HTTP answer (a gateway's 502/503, nginx's 400 for a client certificate): last, so any TLS
    # reason on the same line wins.
    _r(r"(?:HTTP/[\d.]+ |<title>|^|\s)([45]\d\d) (?:Service (?:Temporarily )?Unavailable|Bad Gateway|"
       r"Gateway Time-?out|Bad Request|The SSL certificate error|No required SSL certificate|SSL Certificate Error|"
       r"SSL Certificate Required)", Kind.HTTP),
)

# The reasons each kind may carry, one list per kind: what the table above produces and what a
# scenario file may expect (lab.scenario rejects anything else at load time). A test checks that
# every rule's detail is listed here. Alerts are named by ALERT_NAMES, plus the alert details
# fixed by a rule (Chromium's client-certificate-rejected).
REASONS: dict[Kind, tuple[str, ...]] = {
    Kind.VERIFY: ("hostname-mismatch", "expired", "not-yet-valid", "unknown-issuer", "self-signed", "failed",
                  "weak-key", "weak-signature", "wrong-purpose", "no-trust-store"),
    Kind.REVOCATION: ("no-staple", "revoked", "unknown", "expired-response", "not-yet-valid-response",
                      "untrusted-signer", "responder-error", "malformed", "unavailable", "old-or-invalid"),
    Kind.NEGOTIATION: ("protocol-version", "no-ciphers", "no-protocols", "wrong-version", "version-or-cipher",
                       "protocol-error", "weak-dh"),
}


def known_details(kind: Kind) -> tuple[str, ...] | None:
    """The details `kind` may carry ((): none at all), or None where any value is data (http: a status)."""
    if kind is Kind.ALERT:
        fixed = [r.detail for r in RULES if r.kind is Kind.ALERT and r.detail]
        return tuple(dict.fromkeys([*ALERT_NAMES.values(), *fixed]))
    if kind is Kind.HTTP:
        return None
    if kind is Kind.ERROR:
        return (UNCLASSIFIED.detail,)
    return REASONS.get(kind, ())


def check_expected(symptom: Symptom) -> None:
    """Raise ValueError unless `symptom` is one the lab can observe: a detail from the vocabulary."""
    allowed = known_details(symptom.kind)
    if allowed is None:
        if not (symptom.detail.isdigit() and len(symptom.detail) == 3 and 100 <= int(symptom.detail) <= 599):
            raise ValueError(f"{symptom} needs an HTTP status 100-599, e.g. http:503")
        return
    if symptom.detail in allowed or (not allowed and not symptom.detail):
        return
    if not allowed:
        raise ValueError(f"{symptom.kind.value!r} takes no detail; write {symptom.kind.value!r}")
    what = "an alert name" if symptom.kind is Kind.ALERT else f"a {symptom.kind.value} reason"
    raise ValueError(f"{str(symptom)!r} needs {what}, one of: {', '.join(allowed)}")


def normalise(raw: str) -> Symptom:
    """Map a client's raw error text to the vocabulary; unknown text maps to ``error:unclassified``.

    The lab's own messages (:data:`LAB_PREFIX`) are ``error:lab`` whatever words they quote.
    """
    if raw.lstrip().startswith(LAB_PREFIX):
        return LAB_ERROR
    for rule in RULES:
        symptom = rule.match(raw)
        if symptom is not None:
            return symptom
    return UNCLASSIFIED


def http_symptom(status: int) -> Symptom:
    return OK if status == 200 else Symptom(Kind.HTTP, str(status))


# OpenSSL's X509_V_ERR_* numbers, for clients (pyOpenSSL) that hand out only the number.
X509_VERIFY_ERRORS: dict[int, str] = {
    2: "unable to get issuer certificate", 9: "certificate is not yet valid", 10: "certificate has expired",
    18: "self-signed certificate", 19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate", 21: "unable to verify the first certificate",
    23: "certificate revoked", 24: "invalid CA certificate", 26: "unsupported certificate purpose",
    66: "EE certificate key too weak", 67: "CA certificate key too weak", 68: "CA signature digest algorithm too weak",
    47: "permitted subtree violation", 62: "hostname mismatch", 64: "IP address mismatch",
}
