"""Real error messages, as real clients printed them, for tlslab explain's tests and benchmark.

Material the lab did not make. Two kinds:

* Generated on the lab machine (Debian 12) on 2026-12-01 against servers set up by hand: certificates
  made with the openssl CLI (a name-constrained root A with intermediate A, an unrelated root B with
  intermediate B, an expired and a not-yet-valid leaf made under faketime, a self-signed leaf, client
  certificates valid/expired/from root B) and `openssl s_server` on 127.0.0.1 (leaf only; wrong
  intermediate; unknown CA; wrong name; TLSv1.0 only; AES256-only TLS 1.2; client certificate required
  with -verify_return_error, TLS 1.3 and 1.2; -servername_fatal), a hand-written Python SNI-only server
  (handshake_failure without server_name), a plain-HTTP port, and a hand-written nginx 1.22.1 gateway
  config (proxy_ssl_verify on) in front of them. Clients and versions: curl 7.88.1 (OpenSSL 3.0.22),
  openssl s_client 3.0.22, Python 3.11.2 ssl (OpenSSL 3.0.22), requests 2.34.2 / urllib3 2.8.0,
  OpenJDK 17.0.21.1 (HttpsURLConnection), Go 1.19.8 net/http, Node.js v20.20.2 https, gnutls-cli 3.7.9,
  nginx 1.22.1, Chromium 156.0.8078.114 (Playwright). Per-run details (ports, thread ids, source lines, dates) are as printed.
* Quoted verbatim from public issue trackers, for clients this machine does not have (Schannel, .NET,
  SecureTransport, NSS, Firefox, OpenSSL 1.0.2/1.1.x, LibreSSL, Envoy/Istio, curl on GnuTLS); the
  comment names the repository and issue.

Each entry: the text, the family it must be recognised as, the symptom, and the scenarios that must
rank best (within 0.1 of the top score) -- so a test fails when a cause stops being named.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Real:
    text: str
    family: str  # a key of lab.explain.messages.FAMILIES
    symptom: str
    top: tuple[str, ...] = ()  # scenarios that must be among the best-scored candidates
    source: str = ""


_UNKNOWN_ISSUER = ("incomplete-chain", "wrong-intermediate", "unknown-server-cert", "ocsp-missing-intermediate")
_LEAF_ONLY = ("incomplete-chain", "wrong-intermediate", "ocsp-missing-intermediate")
_HANDSHAKE = ("cipher-mismatch", "sni-required")

CORPUS: tuple[Real, ...] = (
    # ---------------------------------------------------------------- curl 7.88.1 / OpenSSL 3.0.22 (here)
    Real("curl: (60) SSL certificate problem: unable to get local issuer certificate", "curl",
         "verify:unknown-issuer", _UNKNOWN_ISSUER, "curl 7.88.1, s_server sending the leaf only"),
    Real("curl: (60) SSL certificate problem: certificate has expired", "curl", "verify:expired",
         ("expired-server-cert",), "curl 7.88.1, expired leaf"),
    Real("curl: (60) SSL certificate problem: certificate is not yet valid", "curl", "verify:not-yet-valid",
         (), "curl 7.88.1, leaf valid from 2027: no catalog scenario yet"),
    Real("curl: (60) SSL: no alternative certificate subject name matches target host name 'api.lab.test'",
         "curl", "verify:hostname-mismatch", ("hostname-mismatch", "sni-default-cert"), "curl 7.88.1, wrong name"),
    Real("curl: (60) SSL certificate problem: self-signed certificate", "curl", "verify:self-signed", (),
         "curl 7.88.1, self-signed leaf"),
    Real("curl: (35) OpenSSL/3.0.22: error:0A00014D:SSL routines::legacy sigalg disallowed or unsupported",
         "openssl-3", "negotiation:protocol-version", ("protocol-mismatch",), "curl 7.88.1, TLSv1.0-only server"),
    Real("curl: (35) OpenSSL/3.0.22: error:0A000102:SSL routines::unsupported protocol", "openssl-3",
         "negotiation:protocol-version", ("protocol-mismatch",), "curl 7.88.1 --tlsv1.2, TLSv1.0-only server"),
    Real("curl: (35) OpenSSL/3.0.22: error:0A00010B:SSL routines::wrong version number", "openssl-3",
         "negotiation:wrong-version", (), "curl 7.88.1 against a plain-HTTP port"),
    Real("curl: (35) OpenSSL/3.0.22: error:0A000410:SSL routines::sslv3 alert handshake failure", "openssl-3",
         "alert:handshake_failure", _HANDSHAKE, "curl 7.88.1 --ciphers AES128 against an AES256-only server"),
    Real("curl: (56) OpenSSL SSL_read: OpenSSL/3.0.22: error:0A00045C:SSL routines::tlsv13 alert certificate "
         "required, errno 0", "openssl-3", "alert:certificate_required", ("client-cert-not-sent",),
         "curl 7.88.1, TLS 1.3 server requiring a client certificate, none sent"),
    Real("curl: (56) OpenSSL SSL_read: OpenSSL/3.0.22: error:0A000415:SSL routines::sslv3 alert certificate "
         "expired, errno 0", "openssl-3", "alert:certificate_expired", ("expired-client-cert",),
         "curl 7.88.1, TLS 1.3, expired client certificate"),
    Real("curl: (56) OpenSSL SSL_read: OpenSSL/3.0.22: error:0A000418:SSL routines::tlsv1 alert unknown ca, "
         "errno 0", "openssl-3", "alert:unknown_ca", ("unknown-client-cert",),
         "curl 7.88.1, TLS 1.3, client certificate from root B"),
    Real("curl: (60) SSL certificate verification failed", "curl", "alert:certificate_expired",
         ("expired-client-cert",), "curl 7.88.1, TLS 1.2 server rejecting an expired client certificate"),
    Real("curl: (35) OpenSSL/3.0.22: error:0A000458:SSL routines::tlsv1 unrecognized name", "openssl-3",
         "alert:unrecognized_name", ("sni-required",), "curl 7.88.1, s_server -servername_fatal, other name"),
    Real("curl: (91) No OCSP response received", "curl", "revocation:no-staple",
         ("ocsp-stapling-off", "ocsp-responder-down", "ocsp-responder-blocked"),
         "curl 7.88.1 --cert-status, s_server without -status"),
    # ---------------------------------------------------------------- openssl s_client 3.0.22 (here)
    Real("verify error:num=20:unable to get local issuer certificate", "openssl", "verify:unknown-issuer",
         _UNKNOWN_ISSUER, "s_client 3.0.22, unknown CA"),
    Real("80DB1EFF317F0000:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify "
         "failed:../ssl/statem/statem_clnt.c:1889:", "openssl-3", "verify:failed", (),
         "s_client 3.0.22, the line after any verify error"),
    Real("verify error:num=10:certificate has expired", "openssl", "verify:expired", ("expired-server-cert",),
         "s_client 3.0.22, expired leaf"),
    Real("verify error:num=62:hostname mismatch", "openssl", "verify:hostname-mismatch",
         ("hostname-mismatch", "sni-default-cert"), "s_client 3.0.22 -verify_hostname, wrong name"),
    Real("805B255A417F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:"
         "../ssl/record/rec_layer_s3.c:1602:SSL alert number 40", "openssl-3", "alert:handshake_failure",
         _HANDSHAKE, "s_client 3.0.22 -tls1_2 -cipher AES128 against an AES256-only server"),
    Real("80CB6AFBB77F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:"
         "../ssl/record/rec_layer_s3.c:1602:SSL alert number 40", "openssl-3", "alert:handshake_failure",
         _HANDSHAKE, "s_client 3.0.22 -noservername against the hand-written SNI-only server"),
    Real("802B9E16787F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:"
         "../ssl/record/rec_layer_s3.c:1602:SSL alert number 116", "openssl-3", "alert:certificate_required",
         ("client-cert-not-sent",), "s_client 3.0.22, TLS 1.3, no client certificate"),
    Real("OCSP response: no response sent", "openssl", "revocation:no-staple",
         ("ocsp-stapling-off", "ocsp-responder-down", "ocsp-responder-blocked"), "s_client 3.0.22 -status"),
    # ---------------------------------------------------------------- Python 3.11.2 ssl, requests (here)
    Real("ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to "
         "get local issuer certificate (_ssl.c:992)", "python", "verify:unknown-issuer", _UNKNOWN_ISSUER,
         "Python 3.11.2 ssl, leaf only"),
    Real("ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname "
         "mismatch, certificate is not valid for 'api.lab.test'. (_ssl.c:992)", "python",
         "verify:hostname-mismatch", ("hostname-mismatch", "sni-default-cert"), "Python 3.11.2 ssl, wrong name"),
    Real("ssl.SSLError: [SSL] legacy sigalg disallowed or unsupported (_ssl.c:992)", "python",
         "negotiation:protocol-version", ("protocol-mismatch",), "Python 3.11.2 ssl, TLSv1.0-only server"),
    Real("ssl.SSLError: [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required "
         "(_ssl.c:2546)", "python", "alert:certificate_required", ("client-cert-not-sent",),
         "Python 3.11.2 ssl, TLS 1.3, no client certificate"),
    Real("ssl.SSLError: [SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert certificate expired (_ssl.c:992)",
         "python", "alert:certificate_expired", ("expired-client-cert",), "Python 3.11.2 ssl, expired client cert"),
    Real("ssl.SSLError: [SSL: TLSV1_UNRECOGNIZED_NAME] tlsv1 unrecognized name (_ssl.c:992)", "python",
         "alert:unrecognized_name", ("sni-required",), "Python 3.11.2 ssl, s_server -servername_fatal"),
    Real("requests.exceptions.SSLError: HTTPSConnectionPool(host='localhost', port=44702): Max retries exceeded "
         "with url: / (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
         "certificate verify failed: unable to get local issuer certificate (_ssl.c:992)')))", "requests",
         "verify:unknown-issuer", _UNKNOWN_ISSUER, "requests 2.34.2 / urllib3 2.8.0, leaf only"),
    Real("requests.exceptions.SSLError: HTTPSConnectionPool(host='localhost', port=44706): Max retries exceeded "
         "with url: / (Caused by SSLError(SSLError(1, '[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol "
         "version (_ssl.c:992)')))", "requests", "alert:protocol_version", ("protocol-mismatch",),
         "requests 2.34.2 / urllib3 2.8.0 (TLS 1.2+), TLSv1.0-only server"),
    Real("urllib.error.URLError: <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
         "certificate has expired (_ssl.c:992)>", "python", "verify:expired", ("expired-server-cert",),
         "Python 3.11.2 urllib, expired leaf"),
    # ---------------------------------------------------------------- OpenJDK 17.0.21.1 (here)
    Real("javax.net.ssl.SSLHandshakeException: (certificate_unknown) PKIX path building failed: "
         "sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path "
         "to requested target", "java", "verify:unknown-issuer", _UNKNOWN_ISSUER, "Java 17, leaf only"),
    Real("Caused by: java.security.cert.CertificateExpiredException: NotAfter: Sun Oct 04 00:00:00 UTC 2026",
         "java", "verify:expired", ("expired-server-cert",), "Java 17, expired leaf (root cause line)"),
    Real("Caused by: java.security.cert.CertificateNotYetValidException: NotBefore: Tue Jun 01 00:00:00 UTC 2027",
         "java", "verify:not-yet-valid", (), "Java 17, leaf valid from 2027"),
    Real("javax.net.ssl.SSLHandshakeException: (certificate_unknown) No subject alternative DNS name matching "
         "localhost found.", "java", "verify:hostname-mismatch", ("hostname-mismatch", "sni-default-cert"),
         "Java 17, wrong name"),
    Real("javax.net.ssl.SSLHandshakeException: (protocol_version) Received fatal alert: protocol_version", "java",
         "alert:protocol_version", ("protocol-mismatch",), "Java 17, TLSv1.0-only server"),
    Real("javax.net.ssl.SSLHandshakeException: (handshake_failure) Received fatal alert: handshake_failure",
         "java", "alert:handshake_failure", _HANDSHAKE, "Java 17 -Djsse.enableSNIExtension=false, SNI-only server"),
    Real("javax.net.ssl.SSLHandshakeException: No appropriate protocol (protocol is disabled or cipher suites "
         "are inappropriate)", "java", "negotiation:no-protocols", ("protocol-mismatch",),
         "Java 17 -Djdk.tls.client.protocols=TLSv1 (disabled in java.security)"),
    Real("javax.net.ssl.SSLHandshakeException: (certificate_required) Received fatal alert: certificate_required",
         "java", "alert:certificate_required", ("unknown-client-cert",), "Java 17, TLS 1.3, no client cert"),
    Real("javax.net.ssl.SSLHandshakeException: (certificate_expired) Received fatal alert: certificate_expired",
         "java", "alert:certificate_expired", ("expired-client-cert",), "Java 17, expired client certificate"),
    Real("javax.net.ssl.SSLHandshakeException: Remote host terminated the handshake", "java", "closed", (),
         "Java 17, a hand-written server that closes after the Client Hello"),
    Real("javax.net.ssl.SSLException: Unsupported or unrecognized SSL message", "java",
         "negotiation:wrong-version", (), "Java 17 against a plain-HTTP port"),
    # Java 8 and 11+, quoted: apache/activemq#301 (Java 8), warmuuh/milkman#41 (Java 11+),
    # kevinsawicki/http-request#143 (Java 8)
    Real("Caused by: javax.net.ssl.SSLHandshakeException: java.security.cert.CertificateException: No name matching "
         "{HOST} found", "java", "verify:hostname-mismatch", ("hostname-mismatch", "sni-default-cert"),
         "apache/activemq#301"),
    Real("javax.net.ssl.SSLHandshakeException: The server selected protocol version TLS10 is not accepted by client "
         "preferences [TLS13, TLS12]", "java", "negotiation:protocol-version", ("protocol-mismatch",),
         "warmuuh/milkman#41"),
    Real("http.HttpRequest$HttpRequestException: javax.net.ssl.SSLProtocolException: handshake alert:  "
         "unrecognized_name", "java", "alert:unrecognized_name", ("sni-required",), "kevinsawicki/http-request#143"),
    # ---------------------------------------------------------------- Go 1.19.8 net/http (here)
    Real('Get "https://localhost:44702/": x509: certificate signed by unknown authority', "go",
         "verify:unknown-issuer", _UNKNOWN_ISSUER, "Go 1.19.8, leaf only"),
    Real('Get "https://localhost:44703/": x509: certificate has expired or is not yet valid: current time '
         '2026-12-01T19:43:38Z is after 2026-10-04T00:00:00Z', "go", "verify:expired", ("expired-server-cert",),
         "Go 1.19.8, expired leaf"),
    Real('Get "https://localhost:44711/": x509: certificate has expired or is not yet valid: current time '
         '2026-12-01T19:43:38Z is before 2027-06-01T00:00:00Z', "go", "verify:not-yet-valid", (),
         "Go 1.19.8, leaf valid from 2027"),
    Real('Get "https://localhost:44704/": x509: certificate is valid for other.lab.test, not localhost', "go",
         "verify:hostname-mismatch", ("hostname-mismatch", "sni-default-cert"), "Go 1.19.8, wrong name"),
    Real('Get "https://localhost:44706/": remote error: tls: protocol version not supported', "go",
         "alert:protocol_version", ("protocol-mismatch",), "Go 1.19.8, TLSv1.0-only server"),
    Real('Get "https://localhost:44707/": remote error: tls: handshake failure', "go", "alert:handshake_failure",
         _HANDSHAKE, "Go 1.19.8, AES128-only client, AES256-only server"),
    Real('Get "https://localhost:44708/": remote error: tls: certificate required', "go",
         "alert:certificate_required", ("unknown-client-cert",), "Go 1.19.8, TLS 1.3, no client certificate"),
    Real('Get "https://localhost:44713/": remote error: tls: expired certificate', "go",
         "alert:certificate_expired", ("expired-client-cert",), "Go 1.19.8, expired client certificate"),
    Real('Get "https://localhost:44713/": remote error: tls: unknown certificate authority', "go",
         "alert:unknown_ca", ("unknown-client-cert",), "Go 1.19.8, client certificate from root B"),
    Real('Get "https://localhost:44714/": tls: first record does not look like a TLS handshake', "go",
         "negotiation:wrong-version", (), "Go 1.19.8 against a plain-HTTP port"),
    Real('Get "https://localhost:44799/": dial tcp 127.0.0.1:44799: connect: connection refused', "go", "refused",
         (), "Go 1.19.8, nothing listening: not a TLS fault, no scenario"),
    # ---------------------------------------------------------------- Node.js v20.20.2 https (here)
    Real("Error: unable to verify the first certificate (code: UNABLE_TO_VERIFY_LEAF_SIGNATURE)", "node",
         "verify:unknown-issuer", _LEAF_ONLY, "Node 20.20.2, leaf only (also: wrong intermediate)"),
    Real("Error: unable to get local issuer certificate (code: UNABLE_TO_GET_ISSUER_CERT_LOCALLY)", "node",
         "verify:unknown-issuer", _UNKNOWN_ISSUER, "Node 20.20.2, full chain to the unknown root B"),
    Real("Error: certificate has expired (code: CERT_HAS_EXPIRED)", "node", "verify:expired",
         ("expired-server-cert",), "Node 20.20.2, expired leaf"),
    Real("Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: Host: "
         "localhost. is not in the cert's altnames: DNS:other.lab.test", "node", "verify:hostname-mismatch",
         ("hostname-mismatch", "sni-default-cert"), "Node 20.20.2, wrong name"),
    Real("Error: write EPROTO 80DC2B44657F0000:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol "
         "version:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 70", "node",
         "alert:protocol_version", ("protocol-mismatch",), "Node 20.20.2, TLSv1.0-only server"),
    Real("Error: write EPROTO 801C099D877F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake "
         "failure:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 40", "node",
         "alert:handshake_failure", _HANDSHAKE, "Node 20.20.2, AES128-only client, AES256-only server"),
    Real("Error: Client network socket disconnected before secure TLS connection was established (code: "
         "ECONNRESET)", "node", "closed", (), "Node 20.20.2, a server that closes after the Client Hello"),
    Real("Error: certificate is not yet valid (code: CERT_NOT_YET_VALID)", "node", "verify:not-yet-valid", (),
         "Node 20.20.2, leaf valid from 2027"),
    Real("Error: self-signed certificate (code: DEPTH_ZERO_SELF_SIGNED_CERT)", "node", "verify:self-signed", (),
         "Node 20.20.2, self-signed leaf"),
    # ---------------------------------------------------------------- gnutls-cli 3.7.9 (here)
    Real("- Status: The certificate is NOT trusted. The certificate issuer is unknown.", "gnutls",
         "verify:unknown-issuer", _UNKNOWN_ISSUER, "gnutls-cli 3.7.9, leaf only"),
    Real("- Status: The certificate is NOT trusted. The certificate chain uses expired certificate.", "gnutls",
         "verify:expired", ("expired-server-cert",), "gnutls-cli 3.7.9, expired leaf"),
    Real("- Status: The certificate is NOT trusted. The certificate chain uses not yet valid certificate.", "gnutls",
         "verify:not-yet-valid", (), "gnutls-cli 3.7.9, leaf valid from 2027"),
    Real("- Status: The certificate is NOT trusted. The name in the certificate does not match the expected.",
         "gnutls", "verify:hostname-mismatch", ("hostname-mismatch", "sni-default-cert"), "gnutls-cli 3.7.9"),
    Real("*** Received alert [40]: Handshake failed", "gnutls", "alert:handshake_failure", _HANDSHAKE,
         "gnutls-cli 3.7.9 --disable-sni, SNI-only server"),
    Real("*** Received alert [45]: Certificate is expired", "gnutls", "alert:certificate_expired",
         ("expired-client-cert",), "gnutls-cli 3.7.9, expired client certificate"),
    Real("*** Received alert [48]: CA is unknown", "gnutls", "alert:unknown_ca", ("unknown-client-cert",),
         "gnutls-cli 3.7.9, client certificate from root B"),
    Real("*** Received alert [112]: The server name sent was not recognized", "gnutls", "alert:unrecognized_name",
         ("sni-required",), "gnutls-cli 3.7.9, s_server -servername_fatal"),
    Real("*** Fatal error: A packet with illegal or unsupported version was received.", "gnutls",
         "negotiation:protocol-version", ("protocol-mismatch",), "gnutls-cli 3.7.9 TLS1.2-only, TLSv1.0 server"),
    Real("*** Fatal error: An unexpected TLS packet was received.", "gnutls", "negotiation:wrong-version", (),
         "gnutls-cli 3.7.9 against a plain-HTTP port"),
    Real("*** Fatal error: A TLS fatal alert has been received.", "gnutls", "alert:unspecified", _HANDSHAKE,
         "gnutls-cli 3.7.9 (summary line before 'Received alert')"),
    # ---------------------------------------------------------------- nginx 1.22.1 error log (here)
    Real('2026/12/01 19:44:18 [error] 14988#14988: *1 upstream SSL certificate verify error: (21:unable to verify '
         'the first certificate) while SSL handshaking to upstream, client: 127.0.0.1, server: , request: "GET / '
         'HTTP/1.1", upstream: "https://127.0.0.1:44702/", host: "127.0.0.1:44802"', "nginx",
         "verify:unknown-issuer", _LEAF_ONLY, "nginx 1.22.1 gateway, backend sending the leaf only"),
    Real('2026/12/01 19:44:18 [error] 14988#14988: *7 upstream SSL certificate verify error: (20:unable to get '
         'local issuer certificate) while SSL handshaking to upstream, client: 127.0.0.1, server: , request: "GET '
         '/ HTTP/1.1", upstream: "https://127.0.0.1:44705/", host: "127.0.0.1:44805"', "nginx",
         "verify:unknown-issuer", ("unknown-server-cert",), "nginx 1.22.1 gateway, backend of an unknown CA"),
    Real('2026/12/01 19:44:18 [error] 14988#14988: *3 upstream SSL certificate verify error: (10:certificate has '
         'expired) while SSL handshaking to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", '
         'upstream: "https://127.0.0.1:44703/", host: "127.0.0.1:44803"', "nginx", "verify:expired",
         ("expired-server-cert",), "nginx 1.22.1 gateway, expired backend leaf"),
    Real('2026/12/01 19:44:18 [error] 14988#14988: *5 upstream SSL certificate does not match "api.lab.test" while '
         'SSL handshaking to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: '
         '"https://127.0.0.1:44704/", host: "127.0.0.1:44804"', "nginx", "verify:hostname-mismatch",
         ("hostname-mismatch",), "nginx 1.22.1 gateway, backend with another name"),
    Real('2026/12/01 19:44:18 [crit] 14988#14988: *9 SSL_do_handshake() failed (SSL: error:0A00014D:SSL routines::'
         'legacy sigalg disallowed or unsupported) while SSL handshaking to upstream, client: 127.0.0.1, server: , '
         'request: "GET / HTTP/1.1", upstream: "https://127.0.0.1:44706/", host: "127.0.0.1:44806"', "nginx",
         "negotiation:protocol-version", ("protocol-mismatch",), "nginx 1.22.1 gateway, TLSv1.0-only backend"),
    Real('2026/12/01 19:44:18 [error] 14988#14988: *15 SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::'
         'sslv3 alert handshake failure:SSL alert number 40) while SSL handshaking to upstream, client: 127.0.0.1, '
         'server: , request: "GET / HTTP/1.1", upstream: "https://127.0.0.1:44715/", host: "127.0.0.1:44815"',
         "nginx", "alert:handshake_failure", _HANDSHAKE,
         "nginx 1.22.1 gateway, proxy_ssl_server_name off, SNI-only backend"),
    Real('2026/12/01 19:44:18 [info] 14988#14988: *23 client sent no required SSL certificate while reading client '
         'request headers, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", host: "api.lab.test:44820"',
         "nginx-server", "alert:certificate_required", ("unknown-client-cert",),
         "nginx 1.22.1 ssl_verify_client on, curl without a client certificate"),
    Real('2026/12/01 19:44:18 [info] 14988#14988: *24 client SSL certificate verify error: (10:certificate has '
         'expired) while reading client request headers, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", '
         'host: "api.lab.test:44820"', "nginx-server", "alert:certificate_expired", ("expired-client-cert",),
         "nginx 1.22.1 ssl_verify_client on, expired client certificate"),
    Real('2026/12/01 19:44:18 [info] 14988#14988: *25 client SSL certificate verify error: (21:unable to verify the '
         'first certificate) while reading client request headers, client: 127.0.0.1, server: , request: "GET / '
         'HTTP/1.1", host: "api.lab.test:44820"', "nginx-server", "alert:unknown_ca", ("unknown-client-cert",),
         "nginx 1.22.1 ssl_verify_client on, client certificate from root B"),
    Real("<head><title>400 The SSL certificate error</title></head>", "http", "http:400",
         ("expired-client-cert", "unknown-client-cert"), "nginx 1.22.1's answer page to curl, expired client cert"),
    Real("HTTP/1.1 502 Bad Gateway", "http", "http:502", (), "nginx 1.22.1 gateway in front of any bad backend"),
    # ---------------------------------------------------------------- quoted from public issue trackers
    # OpenSSL 1.1.0f s_client without -servername against an SNI-only site: openssl/openssl#3652
    Real("3024:error:14094410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:.\\..\\openssl-1.1.0f"
         "\\ssl\\record\\rec_layer_s3.c:1399:SSL alert number 40", "openssl-1.1", "alert:handshake_failure",
         _HANDSHAKE, "openssl/openssl#3652"),
    # OpenSSL 1.1.1 (PHP): composer/composer#8312
    Real("error:1416F086:SSL routines:tls_process_server_certificate:certificate verify failed", "openssl-1.1",
         "verify:failed", (), "composer/composer#8312"),
    # OpenSSL 1.0.2h (Nim httpclient): nim-lang/Nim#4614
    Real("error:14077410:SSL routines:SSL23_GET_SERVER_HELLO:sslv3 alert handshake failure [SslError]",
         "openssl-1.0", "alert:handshake_failure", _HANDSHAKE, "nim-lang/Nim#4614"),
    # OpenSSL 1.0.x s_client against a non-TLS port: grpc/grpc#3360
    Real("139641528207008:error:140770FC:SSL routines:SSL23_GET_SERVER_HELLO:unknown protocol:s23_clnt.c:795:",
         "openssl-1.0", "negotiation:wrong-version", (), "grpc/grpc#3360"),
    # LibreSSL 3.3.6 (macOS curl): openssl/web#468
    Real("curl: (35) LibreSSL/3.3.6: error:1404B410:SSL routines:ST_CONNECT:sslv3 alert handshake failure",
         "libressl", "alert:handshake_failure", _HANDSHAKE, "openssl/web#468"),
    # Schannel (curl/git on Windows): r-lib/httr#691, rust-lang/cargo#9788, loda-lang/loda-cpp#178
    Real("schannel: next InitializeSecurityContext failed: SEC_E_UNTRUSTED_ROOT (0x80090325) - The certificate "
         "chain was issued by an authority that is not trusted.", "schannel", "verify:unknown-issuer",
         _UNKNOWN_ISSUER, "r-lib/httr#691"),
    Real("[35] SSL connect error (schannel: initial InitializeSecurityContext failed: SEC_E_ILLEGAL_MESSAGE "
         "(0x80090326) - This error usually occurs when a fatal SSL/TLS alert is received (e.g. handshake failed). "
         "More detail may be available in the Windows System event log.)", "schannel", "alert:unspecified",
         _HANDSHAKE, "rust-lang/cargo#9788"),
    Real("curl: (35) schannel: next InitializeSecurityContext failed: Unknown error (0x80092012) - Die "
         "Sperrfunktion konnte keine Sperrprüfung für das Zertifikat durchführen.", "schannel",
         "revocation:unavailable", ("ocsp-responder-blocked", "ocsp-responder-down"), "loda-lang/loda-cpp#178"),
    # curl on Windows (Schannel) for a revoked certificate: curl/curl#4436
    Real("curl: (35) schannel: next InitializeSecurityContext failed: CRYPT_E_REVOKED (0x80092010) - The "
         "certificate is revoked", "schannel", "revocation:revoked", ("ocsp-revoked",), "curl/curl#4436"),
    # .NET: dotnet/wcf#5161, win-acme/win-acme#1634, dotnet/corefx#4822
    Real("System.Security.Authentication.AuthenticationException: 'The remote certificate is invalid according to "
         "the validation procedure: RemoteCertificateNameMismatch, RemoteCertificateChainErrors'", "dotnet",
         "verify:hostname-mismatch", ("hostname-mismatch", "sni-default-cert"), "dotnet/wcf#5161"),
    Real("Entire error:  (AuthenticationException): The remote certificate is invalid according to the "
         "validation procedure.", "dotnet", "verify:failed", (), "win-acme/win-acme#1634"),
    Real("System.IO.IOException: Authentication failed because the remote party has closed the transport stream.",
         "dotnet", "closed", (), "dotnet/corefx#4822"),
    # SecureTransport (macOS curl): travis-ci/travis-ci#10277 -- the APIGEE document's own wrong-intermediate text
    # SecureTransport's one word for every chain problem: since the field scenarios (SHA-1 signature,
    # wrong EKU) it is genuinely ambiguous, so no ranking is asserted; the tell-apart observations decide.
    Real("curl: (60) SSL certificate problem: Invalid certificate chain", "securetransport", "verify:failed",
         (), "travis-ci/travis-ci#10277"),
    # NSS (curl 7.29 on CentOS 7): apache/incubator-pagespeed-ngx#1661, curl/curl#851
    Real("curl: (60) Peer's Certificate issuer is not recognized.", "nss", "verify:unknown-issuer",
         _UNKNOWN_ISSUER, "apache/incubator-pagespeed-ngx#1661"),
    Real("* SSL read: errno -12195 (SSL_ERROR_UNKNOWN_CA_ALERT)", "nss", "alert:unknown_ca",
         ("unknown-client-cert",), "curl/curl#851"),
    # NSS (curl 7.29, verbose): rolandshoemaker/theca#1
    Real("* NSS error -12286 (SSL_ERROR_NO_CYPHER_OVERLAP)", "nss", "negotiation:no-ciphers", ("cipher-mismatch",),
         "rolandshoemaker/theca#1"),
    # Firefox: srvrco/getssl#725, SchemaStore/schemastore#1734, EFForg/https-everywhere#17275
    Real("Firefox gives me the following SSL error: SEC_ERROR_UNKNOWN_ISSUER.", "nss", "verify:unknown-issuer",
         _UNKNOWN_ISSUER, "srvrco/getssl#725"),
    Real("Getting SSL_ERROR_BAD_CERT_DOMAIN when navigating to website", "firefox", "verify:hostname-mismatch",
         ("hostname-mismatch", "sni-default-cert"), "SchemaStore/schemastore#1734"),
    Real("Error code: MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT", "firefox", "verify:self-signed", (),
         "EFForg/https-everywhere#17275"),
    # Firefox, quoted: pyalot/webglstats-site#44, ssllabs/ssllabs-scan#973, ssllabs/ssllabs-scan#269,
    # HabitRPG/habitica#3243, webcompat/web-bugs#45866, mnot/redbot#287, librespeed/speedtest#660,
    # sitespeedio/browsertime#249 (URL-encoded as Firefox's error page put it), gogs/gogs#3606, syncthing#3593
    Real("> Error code: SEC_ERROR_EXPIRED_CERTIFICATE", "nss", "verify:expired", ("expired-server-cert",),
         "pyalot/webglstats-site#44"),
    Real(">Error code: SSL_ERROR_RX_RECORD_TOO_LONG", "nss", "negotiation:wrong-version", (),
         "ssllabs/ssllabs-scan#973"),
    Real("An error occurred during a connection to must-staple-no-ocsp.serverhello.com. A required TLS feature is "
         "missing. Error code: MOZILLA_PKIX_ERROR_REQUIRED_TLS_FEATURE_MISSING", "firefox", "revocation:no-staple",
         ("ocsp-stapling-off", "ocsp-responder-down", "ocsp-responder-blocked"), "ssllabs/ssllabs-scan#269"),
    Real("An error occurred during a connection to habitrpg.com. Peer's Certificate has been revoked. (Error code: "
         "sec_error_revoked_certificate)", "nss", "revocation:revoked", ("ocsp-revoked",), "HabitRPG/habitica#3243"),
    Real("Error code: SSL_ERROR_UNSUPPORTED_VERSION", "nss", "negotiation:protocol-version", ("protocol-mismatch",),
         "webcompat/web-bugs#45866"),
    Real("So in my strict Firefox I get: `SSL_ERROR_PROTOCOL_VERSION_ALERT`", "nss", "alert:protocol_version",
         ("protocol-mismatch",), "mnot/redbot#287"),
    Real("An error occurred during a connection to librespeed.org. The OCSP response contains out-of-date "
         "information.", "firefox", "revocation:expired-response", ("ocsp-clock-skew",), "librespeed/speedtest#660 (1/2)"),
    Real("Error code: SEC_ERROR_OCSP_OLD_RESPONSE", "nss", "revocation:expired-response", ("ocsp-clock-skew",),
         "librespeed/speedtest#660 (2/2)"),
    Real("Error%20code%3A%20%3Ca%20id%3D%22errorCode%22%20title%3D%22SEC_ERROR_OCSP_FUTURE_RESPONSE%22%3E"
         "SEC_ERROR_OCSP_FUTURE_RESPONSE%3C/a%3E%0A", "nss", "revocation:not-yet-valid-response", ("ocsp-clock-skew",),
         "sitespeedio/browsertime#249"),
    Real("An error occurred during a connection to gogs.io. Invalid OCSP signing certificate in OCSP response. Error "
         "code: SEC_ERROR_OCSP_INVALID_SIGNING_CERT", "nss", "revocation:untrusted-signer", ("ocsp-signer-untrusted",),
         "gogs/gogs#3606"),
    Real("An error occurred during a connection to forum.syncthing.net. The OCSP server experienced an internal "
         "error. Error code: SEC_ERROR_OCSP_SERVER_ERROR", "nss", "revocation:responder-error", (),
         "syncthing/syncthing#3593"),
    # Schannel / .NET, quoted: olafmersmann/sendmailR#7, Mbed-TLS/mbedtls#436, dotnet/MQTTnet#1095
    Real("schannel: next InitializeSecurityContext failed: SEC_E_CERT_EXPIRED (0x80090328)", "schannel",
         "verify:expired", ("expired-server-cert",), "olafmersmann/sendmailR#7"),
    Real("0 - A required certificate is not within its validity period when verifying against the current system "
         "clock or the timestamp in the signed file.", "schannel", "verify:expired", ("expired-server-cert",),
         "Mbed-TLS/mbedtls#436 (.NET's RemoteCertificateChainErrors detail)"),
    Real("---> System.ComponentModel.Win32Exception (0x80090331): The client and server cannot communicate, because "
         "they do not possess a common algorithm.", "dotnet", "negotiation:version-or-cipher",
         ("cipher-mismatch", "protocol-mismatch"), "dotnet/MQTTnet#1095"),
    # SecureTransport (macOS curl), quoted: CauldronDevelopmentLLC/oh-brother#14
    Real("curl: (35) SSL peer handshake failed, the server most likely requires a client certificate to connect",
         "securetransport", "alert:handshake_failure", _HANDSHAKE, "CauldronDevelopmentLLC/oh-brother#14"),
    # curl on GnuTLS, quoted: envoyproxy/envoy#615 (no client certificate sent)
    Real("curl: (56) GnuTLS recv error (-110): The TLS connection was non-properly terminated.", "gnutls", "closed",
         (), "envoyproxy/envoy#615"),
    # curl on GnuTLS: jeroen/curl#259, icing/mod_md#32
    Real("server certificate verification failed. CAfile: /etc/ssl/certs/ca-certificates.crt CRLfile: none",
         "gnutls", "verify:failed", (), "jeroen/curl#259"),
    Real("curl: (35) gnutls_handshake() failed: Error in the certificate.", "gnutls", "verify:failed", (),
         "icing/mod_md#32"),
    # Envoy/Istio 503 bodies: istio/istio#34920, envoyproxy/envoy#15584 (GitHub cut its title at
    # "...WRONG_VERSION_NUMBE"; BoringSSL's reason is WRONG_VERSION_NUMBER), istio/istio#47052
    Real("upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport "
         "failure reason: TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED", "envoy",
         "verify:failed", (), "istio/istio#34920"),
    Real("upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport "
         "failure reason: TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER", "envoy",
         "negotiation:wrong-version", (), "envoyproxy/envoy#15584"),
    Real("upstream connect error or disconnect/reset before headers. reset reason: connection termination",
         "envoy", "closed", (), "istio/istio#47052"),
    # Chromium 156.0.8078.114 through Playwright (here), against the hand-built servers
    Real("Page.goto: net::ERR_CERT_AUTHORITY_INVALID at https://localhost:44702/", "chrome", "verify:unknown-issuer",
         _UNKNOWN_ISSUER, "Chromium 156 (here), leaf only from a CA it does not trust"),
    Real("Page.goto: net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH at https://localhost:44706/", "chrome",
         "negotiation:version-or-cipher", ("cipher-mismatch", "protocol-mismatch"),
         "Chromium 156 (here), TLSv1.0-only server"),
    Real("Page.goto: net::ERR_SSL_PROTOCOL_ERROR at https://localhost:44714/", "chrome", "negotiation:protocol-error",
         (), "Chromium 156 (here), plain-HTTP port"),
    # Chrome, quoted from EFForg/https-everywhere#17275 and tailscale/tailscale#8422
    # Chromium says the same for a certificate with the name only in its CN (cn-only-certificate)
    Real("NET::ERR_CERT_COMMON_NAME_INVALID", "chrome", "verify:hostname-mismatch",
         ("cn-only-certificate", "hostname-mismatch"), "EFForg/https-everywhere#17275"),
    Real("ERR_SSL_PROTOCOL_ERROR", "chrome", "negotiation:protocol-error", (), "tailscale/tailscale#8422"),
)

# A pasted multi-line log with noise: curl -si through a hand-written nginx 1.22.1 gateway
# (error_page 502 =503, proxy_ssl_server_name off) to the SNI-only backend, then its error log.
PASTED_LOG = '$ curl -si http://127.0.0.1:44830/orders\nHTTP/1.1 503 Service Temporarily Unavailable\nServer: nginx/1.22.1\nDate: Tue, 01 Dec 2026 19:51:48 GMT\nContent-Type: text/html\nContent-Length: 197\nConnection: keep-alive\n\n<html>\n<head><title>503 Service Temporarily Unavailable</title></head>\n<body>\n<center><h1>503 Service Temporarily Unavailable</h1></center>\n<hr><center>nginx/1.22.1</center>\n</body>\n</html>\n$ tail -1 error.log\n2026/12/01 19:51:48 [error] 24513#24513: *1 SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40) while SSL handshaking to upstream, client: 127.0.0.1, server: , request: "GET /orders HTTP/1.1", upstream: "https://127.0.0.1:44715/orders", host: "127.0.0.1:44830"\n'

# A Java 17 stack trace as users paste it (HttpsURLConnection to the leaf-only server; frames are noise).
JAVA_TRACE = 'javax.net.ssl.SSLHandshakeException: (certificate_unknown) PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target\n\tat java.base/sun.security.ssl.Alert.createSSLException(Alert.java:131)\n\tat java.base/sun.security.ssl.TransportContext.fatal(TransportContext.java:383)\n\tat java.base/sun.security.ssl.TransportContext.fatal(TransportContext.java:326)\n\tat java.base/sun.security.ssl.TransportContext.fatal(TransportContext.java:321)\n\tat java.base/sun.security.ssl.CertificateMessage$T13CertificateConsumer.checkServerCerts(CertificateMessage.java:1294)\n\tat java.base/sun.security.ssl.CertificateMessage$T13CertificateConsumer.onConsumeCertificate(CertificateMessage.java:1169)\n\tat java.base/sun.security.ssl.CertificateMessage$T13CertificateConsumer.consume(CertificateMessage.java:1112)\n\tat java.base/sun.security.ssl.SSLHandshake.consume(SSLHandshake.java:396)\n\tat java.base/sun.security.ssl.HandshakeContext.dispatch(HandshakeContext.java:481)\n\tat java.base/sun.security.ssl.HandshakeContext.dispatch(HandshakeContext.java:459)\n\tat java.base/sun.security.ssl.TransportContext.dispatch(TransportContext.java:206)\n\tat java.base/sun.security.ssl.SSLTransport.decode(SSLTransport.java:172)\n\tat java.base/sun.security.ssl.SSLSocketImpl.decode(SSLSocketImpl.java:1509)\n\tat java.base/sun.security.ssl.SSLSocketImpl.readHandshakeRecord(SSLSocketImpl.java:1424)\n\tat java.base/sun.security.ssl.SSLSocketImpl.startHandshake(SSLSocketImpl.java:455)\n\tat java.base/sun.security.ssl.SSLSocketImpl.startHandshake(SSLSocketImpl.java:426)\n\tat java.base/sun.net.www.protocol.https.HttpsClient.afterConnect(HttpsClient.java:596)\n\tat java.base/sun.net.www.protocol.https.AbstractDelegateHttpsURLConnection.connect(AbstractDelegateHttpsURLConnection.java:190)\n\tat java.base/sun.net.www.protocol.http.HttpURLConnection.getInputStream0(HttpURLConnection.java:1719)\n\tat java.base/sun.net.www.protocol.http.HttpURLConnection.getInputStream(HttpURLConnection.java:1644)\n\tat java.base/java.net.HttpURLConnection.getResponseCode(HttpURLConnection.java:529)\n\tat java.base/sun.net.www.protocol.https.HttpsURLConnectionImpl.getResponseCode(HttpsURLConnectionImpl.java:308)\n\tat J.main(J.java:17)\nCaused by: sun.security.validator.ValidatorException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target\n\tat java.base/sun.security.validator.PKIXValidator.doBuild(PKIXValidator.java:439)\n\tat java.base/sun.security.validator.PKIXValidator.engineValidate(PKIXValidator.java:306)\n\tat java.base/sun.security.validator.Validator.validate(Validator.java:264)\n\tat java.base/sun.security.ssl.X509TrustManagerImpl.checkTrusted(X509TrustManagerImpl.java:231)\n\tat java.base/sun.security.ssl.X509TrustManagerImpl.checkServerTrusted(X509TrustManagerImpl.java:132)\n\tat java.base/sun.security.ssl.CertificateMessage$T13CertificateConsumer.checkServerCerts(CertificateMessage.java:1278)\n\t... 18 more\nCaused by: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target\n\tat java.base/sun.security.provider.certpath.SunCertPathBuilder.build(SunCertPathBuilder.java:148)\n\tat java.base/sun.security.provider.certpath.SunCertPathBuilder.engineBuild(SunCertPathBuilder.java:129)\n\tat java.base/java.security.cert.CertPathBuilder.build(CertPathBuilder.java:297)\n\tat java.base/sun.security.validator.PKIXValidator.doBuild(PKIXValidator.java:434)\n\t... 23 more\nCaused by: sun.security.validator.ValidatorException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target\nCaused by: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target\n'
