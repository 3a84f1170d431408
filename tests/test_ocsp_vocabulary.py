"""The OCSP rows of the symptom table, the not-applicable mechanism, and the ``tlslab ocsp query`` command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lab.harness import Check, Phase
from lab.probes.base import Probe
from lab.probes.curl import CurlProbe
from lab.probes.java_probe import JavaProbe
from lab.probes.openssl_cli import OpenSslProbe, judge_status
from lab.probes.pyopenssl_probe import PyOpenSslProbe
from lab.probes.python_ssl import PythonSslProbe
from lab.specs import ClientSpec, RevocationMode
from lab.symptoms import OK, normalise

# Real messages, as the tools printed them on this machine (curl 7.88 / OpenSSL 3.0, s_client -status).
@pytest.mark.parametrize("raw, expected", [
    ("curl: (91) No OCSP response received", "revocation:no-staple"),
    ("curl: (91) SSL certificate revocation reason: keyCompromise (1)", "revocation:revoked"),
    ("curl: (91) OCSP response has expired", "revocation:expired-response"),
    ("curl: (91) OCSP response verification failed", "revocation:untrusted-signer"),
    ("curl: (91) Invalid OCSP response status: trylater (3)", "revocation:responder-error"),
    ("curl: (91) Invalid OCSP response", "revocation:malformed"),
    ("OCSP response: no response sent (s_client -status printed it; the handshake itself went on)", "revocation:no-staple"),
    ("OCSP Response Status: trylater (s_client -status printed it)", "revocation:responder-error"),
    ("Cert Status: revoked (Revocation Reason: keyCompromise)", "revocation:revoked"),
    ("Cert Status: unknown", "revocation:unknown"),
    ("OCSP responder did not answer within 1s (http://127.0.0.1:1/)", "revocation:unavailable"),
    ("OCSP responder refused the connection (http://127.0.0.1:1/)", "revocation:unavailable"),
    # Java 17 (JSSE's PKIXRevocationChecker on the staple), as the probe reports them
    ("javax.net.ssl.SSLHandshakeException: (bad_certificate_status_response) PKIX path validation failed: "
     "java.security.cert.CertPathValidatorException: Certificate has been revoked, reason: KEY_COMPROMISE, "
     "revocation date: Sun Nov 22 07:21:06 UTC 2026, authority: CN=tlslab Intermediate CA, O=tlslab, extension OIDs: []",
     "revocation:revoked"),
    ("javax.net.ssl.SSLHandshakeException: (certificate_unknown) PKIX path validation failed: "
     "java.security.cert.CertPathValidatorException: Response is unreliable: its validity interval is out-of-date",
     "revocation:expired-response"),
    ("javax.net.ssl.SSLHandshakeException: (certificate_unknown) PKIX path validation failed: "
     "java.security.cert.CertPathValidatorException: Responder's certificate not within the validity period | "
     "Caused by: java.security.cert.CertificateExpiredException: NotAfter: Sat Nov 21 09:20:56 UTC 2026",
     "revocation:untrusted-signer"),
    ("javax.net.ssl.SSLHandshakeException: (bad_certificate_status_response) PKIX path validation failed: "
     "java.security.cert.CertPathValidatorException: OCSP response error: TRY_LATER", "revocation:responder-error"),
    ("java.security.cert.CertPathValidatorException: Unable to determine revocation status due to network error",
     "revocation:unavailable"),
    ("javax.net.ssl.SSLHandshakeException: (certificate_unknown) no OCSP response was stapled, and this client "
     "requires one (tlslab: JSSE has no staple-required option; it would query the AIA responder)",
     "revocation:no-staple"),
    # the certificate rules still win for certificate problems
    ("curl: (60) SSL certificate problem: certificate has expired", "verify:expired"),
])
def test_table(raw: str, expected: str) -> None:
    assert str(normalise(raw)) == expected


def test_probes_declare_what_they_can_check() -> None:
    require = ClientSpec(revocation=RevocationMode.REQUIRE_STAPLE)
    soft = ClientSpec(revocation=RevocationMode.STAPLE)
    assert "no OCSP API" in (PythonSslProbe().unsupported_reason(require) or "")
    assert PyOpenSslProbe().unsupported_reason(require) is None
    assert PyOpenSslProbe().unsupported_reason(soft) is None
    assert OpenSslProbe().unsupported_reason(soft) is None
    assert "--cert-status" in (CurlProbe().unsupported_reason(soft) or "")
    skew = ClientSpec(clock_offset_days=3)
    assert "clock" in (PythonSslProbe().unsupported_reason(skew) or "")
    assert OpenSslProbe().unsupported_reason(skew) is None
    for spec in (require, soft, skew):
        assert JavaProbe().unsupported_reason(spec) is None

    class NewProbe(Probe):  # a probe written without any revocation knowledge (java, browser, ...)
        name = "new"
    assert NewProbe().unsupported_reason(ClientSpec()) is None
    assert NewProbe().unsupported_reason(require) is not None


def test_not_applicable_neither_passes_nor_fails() -> None:
    na = Check("python-ssl", (OK,), None, False, "not applicable: x", not_applicable="x")
    ok = Check("pyopenssl", (OK,), None, True)
    bad = Check("curl", (OK,), None, False, "expected ok")
    assert (na.status, ok.status, bad.status) == ("n/a", "pass", "fail")
    assert Phase(None, "", (), (na, ok)).passed
    assert not Phase(None, "", (), (na, ok, bad)).passed
    assert not Phase(None, "", (), (na,)).passed  # nothing applicable: nothing was shown


def test_openssl_judgement_of_printed_status() -> None:
    require = ClientSpec(revocation=RevocationMode.REQUIRE_STAPLE)
    soft = ClientSpec(revocation=RevocationMode.STAPLE)
    assert judge_status("CONNECTED\nOCSP response: no response sent\n", require)
    assert judge_status("CONNECTED\nOCSP response: no response sent\n", soft) is None
    printed = ("OCSP response: \n======================================\nOCSP Response Data:\n"
               "    OCSP Response Status: successful (0x0)\n    Cert Status: good\n"
               "    This Update: Nov 22 07:31:47 2020 GMT\n    Next Update: Nov 23 08:31:47 2020 GMT\n"
               "======================================\n")
    assert "has expired" in (judge_status(printed, require) or "")  # 2020 is long past
    error = "OCSP response: \n======\nOCSP Response Data:\n    OCSP Response Status: trylater (0x3)\n======\n"
    assert "trylater" in (judge_status(error, require) or "")
    assert judge_status(error, soft) is None


def test_query_command(pki, certs_dir) -> None:  # type: ignore[no-untyped-def]
    from lab.commands.ocsp import ocsp_app
    runner = CliRunner()
    good = runner.invoke(ocsp_app, ["query", "ocsp-server", "--certs", str(certs_dir)])
    assert good.exit_code == 0, good.output
    assert "cert status   good" in good.output and "openssl ocsp -issuer" in good.output
    revoked = runner.invoke(ocsp_app, ["query", "ocsp-server-revoked", "--certs", str(certs_dir), "--json"])
    assert revoked.exit_code == 1
    data = json.loads(revoked.output)
    assert data["symptom"] == "revocation:revoked" and data["aia_ocsp_url"] == "http://ocsp.lab.test/"
    blocked = runner.invoke(ocsp_app, ["query", "ocsp-server", "--network", "blocked", "--timeout", "0.5",
                                       "--certs", str(certs_dir)])
    assert blocked.exit_code == 1 and "did not answer within 0.5s" in blocked.output
    signer = runner.invoke(ocsp_app, ["query", "ocsp-server", "--signer", "ocsp-responder-expired",
                                      "--certs", str(certs_dir)])
    assert signer.exit_code == 1 and "revocation:untrusted-signer" in signer.output
    bad = runner.invoke(ocsp_app, ["query", "nope", "--certs", str(certs_dir)])
    assert bad.exit_code == 2 and "no certificate named 'nope'" in bad.output
    bad_window = runner.invoke(ocsp_app, ["query", "ocsp-server", "--window", "old", "--certs", str(certs_dir)])
    assert bad_window.exit_code == 2 and "--window" in bad_window.output


def test_query_through_the_real_command(cli_env) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "lab", "ocsp", "query", "ocsp-server-revoked", "--json"],
                          env=cli_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["cert_status"] == "revoked"
