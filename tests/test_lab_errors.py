"""The lab's own failures can never read as a client's fault symptom.

A broken set-up (a key that does not match its certificate, a missing CA file, a file that is not
PEM, the staple check finding no chain) must not pass for the fault a scenario expects: those
messages are fed through the one table, and real probes are run with broken material.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.pki import Pki
from lab.probes.base import LAB, ClientFiles, Target
from lab.probes.pyopenssl_probe import PyOpenSslProbe
from lab.probes.python_ssl import PythonSslProbe
from lab.scenario import Catalog
from lab.specs import ClientSpec
from lab.symptoms import LAB_ERROR, Symptom, lab_message, normalise


def fault_symptoms(catalog: Catalog) -> set[Symptom]:
    """Every symptom any scenario expects of any client, backend or gateway."""
    out: set[Symptom] = set()
    for scenario in catalog:
        e = scenario.expect
        out.update(e.default)
        for symptoms in e.probes.values():
            out.update(symptoms)
        for table in e.backends.values():
            for symptoms in table.values():
                out.update(symptoms)
    return out


# Messages the lab and its libraries produce about the lab's own material, as they were printed
# here (Python 3.11.2 with OpenSSL 3.0, pyOpenSSL 25 with cryptography's OpenSSL 3.x).
LAB_WORDS = [
    "SSL: private key does not match certificate",
    "[SSL: KEY_VALUES_MISMATCH] key values mismatch (_ssl.c:3903)",
    "Error: [('x509 certificate routines', '', 'key values mismatch')]",
    "OCSP signer: no verified chain to check the staple against",
    "OCSP signer: the chain holds no issuer to check the staple against",
    "[Errno 2] No such file or directory",
    "[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl found (_ssl.c:4149)",
    "Error: [('PEM routines', '', 'no start line')]",
    "the OCSP responder could not be started: port in use",
]


@pytest.mark.parametrize("words", LAB_WORDS)
def test_the_labs_words_are_no_fault_symptom(catalog: Catalog, words: str) -> None:
    assert normalise(words) not in fault_symptoms(catalog), words
    assert normalise(lab_message(words)) == LAB_ERROR


def test_real_client_words_still_map() -> None:
    """The narrowed rules still read what real clients print (negative control of the above)."""
    assert str(normalise("curl: (60) SSL: no alternative certificate subject name matches target host name 'x'")) == "verify:hostname-mismatch"
    assert str(normalise("Hostname/IP does not match certificate's altnames: Host: x. is not in the cert's altnames")) == "verify:hostname-mismatch"
    assert str(normalise("The certificate's owner does not match hostname 'api.lab.test'")) == "verify:hostname-mismatch"
    assert str(normalise("OCSP staple rejected: OCSP signer certificate CN=tlslab OCSP Responder,O=tlslab expired on 2026-01-01")) == "revocation:untrusted-signer"


def _mismatched(pki: Pki, tmp_path: Path) -> ClientFiles:
    return ClientFiles(pki.cert_path("root"), pki.fullchain_path("client"), pki.key_path("server"))


@pytest.mark.parametrize("probe", [PythonSslProbe(), PyOpenSslProbe()], ids=lambda p: p.name)
@pytest.mark.parametrize("broken", ["mismatched-key", "missing-ca", "not-pem"])
def test_a_probe_with_broken_material_reports_the_lab(probe, broken: str, pki: Pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    files = {
        "mismatched-key": _mismatched(pki, tmp_path),
        "missing-ca": ClientFiles(tmp_path / "absent.pem"),
        "not-pem": ClientFiles(junk),
    }[broken]
    # Nothing listens here: the lab's failure must be reported before any connection is tried.
    outcome = probe.run(Target("127.0.0.1", 9, "api.lab.test"), ClientSpec(), files)
    assert outcome.symptom == LAB_ERROR, outcome
    assert outcome.judged_by == LAB and outcome.raw.startswith("tlslab:")


