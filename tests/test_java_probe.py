"""The Java (JSSE) probe: every APIGEE scenario, the documented Java messages, one JVM, the compile cache.

Real JVM, real TLS on 127.0.0.1. Each scenario test is a negative control: the fault must
fail with the expected Java symptom, every resolution must succeed.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from lab.harness import Harness
from lab.pki import Pki
from lab.probes.base import ClientFiles
from lab.probes.java_probe import SOURCE, JavaProbe, ensure_compiled, jsse_protocols
from lab.scenario import Catalog
from lab.backends import make_backend
from lab.servers.base import DeployRequest
from lab.specs import ClientSpec
from lab.tls import Protocol

from clients_support import backend_or_skip, explain, require_probe
from conftest import APIGEE_IDS

# Where the document (or the JSSE behaviour it describes) gives Java's words, the raw text must hold them.
DOCUMENTED_JAVA_WORDS = {
    "cipher-mismatch": "Received fatal alert: handshake_failure",
    "sni-required": "Received fatal alert: handshake_failure",
    "unknown-server-cert": "PKIX path building failed",
    "incomplete-chain": "PKIX path building failed",
    "hostname-mismatch": "No subject alternative DNS name matching myorg.domain.lab.test found",
    "expired-server-cert": "CertificateExpiredException: NotAfter",
    "protocol-mismatch": "Received fatal alert: protocol_version",
}


HARNESS_CLIENTS = ["java"]  # the conftest harness: Twisted and this module's JVM


@pytest.fixture(scope="module", params=["twisted", "nginx"])
def any_backend(request: pytest.FixtureRequest, java: JavaProbe, pki: Pki) -> Harness:
    """The same probe on every backend: the in-process one and nginx in docker."""
    backend = request.getfixturevalue("nginx_backend") if request.param == "nginx" else backend_or_skip(request.param)
    return Harness(backend, [java], pki)


@pytest.mark.parametrize("scenario_id", APIGEE_IDS)
def test_scenario(any_backend: Harness, catalog: Catalog, scenario_id: str) -> None:
    harness = any_backend
    scenario = catalog.get(scenario_id)
    assert "java" in scenario.expect.probes, "every APIGEE scenario states the Java symptom"
    result = harness.run_scenario(scenario)
    assert result.passed, explain(result)
    fault, *fixes = result.phases
    java_fault = next(c for c in fault.checks if c.client == "java")
    assert java_fault.outcome is not None and not java_fault.outcome.ok
    assert java_fault.outcome.symptom in java_fault.expected
    if scenario_id in DOCUMENTED_JAVA_WORDS:
        assert DOCUMENTED_JAVA_WORDS[scenario_id] in java_fault.outcome.raw
    assert len(fixes) == len(scenario.resolutions)
    for fix in fixes:
        check = next(c for c in fix.checks if c.client == "java")
        assert check.outcome is not None and check.outcome.ok, f"{fix.resolution}: {check.outcome}"


def test_fault_already_fixed_fails(harness: Harness, catalog: Catalog) -> None:
    """Negative control of the check itself: a 'fault' that is really the fix must not pass."""
    scenario = catalog.get("sni-required")
    fixed_client = dataclasses.replace(scenario.client, sni=True)
    result = harness.run_scenario(dataclasses.replace(scenario, client=fixed_client))
    assert not result.passed
    assert next(c for c in result.phases[0].checks if c.client == "java").outcome.ok  # type: ignore[union-attr]


def test_force_tls10_really_speaks_tls10(harness: Harness, catalog: Catalog) -> None:
    """Java 17 disables TLSv1; the probe re-enables it so the documented fix works."""
    result = harness.run_scenario(catalog.get("protocol-mismatch"), only=["gateway-force-tls10"])
    outcome = next(c for c in result.phases[-1].checks if c.client == "java").outcome
    assert outcome is not None and outcome.ok and outcome.protocol == "TLSv1", outcome


def test_one_jvm_serves_every_probe(java: JavaProbe, harness: Harness, catalog: Catalog) -> None:
    pid = java.jvm_pid
    starts = java.jvm_starts
    for scenario_id in ("hostname-mismatch", "cipher-mismatch"):
        assert harness.run_scenario(catalog.get(scenario_id)).passed
    assert java.jvm_pid == pid and java.jvm_starts == starts == 1


def test_jvm_ends_with_the_block(pki: Pki) -> None:
    probe = require_probe(JavaProbe())
    with probe:
        jvm = probe._jvm
        assert jvm is not None and jvm.proc.poll() is None
    assert jvm.proc.poll() is not None, "the JVM must be gone when the with-block ends"


def test_jce_limited_policy_drops_aes256(pki: Pki, catalog: Catalog) -> None:
    """crypto.policy=limited (the Java before the JCE step): even the fixed client cannot meet a
    256-bit-only router, because JSSE itself drops the AES-256 suites."""
    scenario = catalog.get("cipher-mismatch")
    server, client = scenario.specs(scenario.resolution("client-high-encryption"))
    request = DeployRequest(scenario, server, client, scenario.direction, pki)
    files = ClientFiles.for_spec(client, pki)
    with make_backend("twisted").deploy(request) as deployment:
        with require_probe(JavaProbe(crypto_policy="limited")) as limited:
            refused = limited.run(deployment.tls_target, client, files)
        with JavaProbe() as unlimited:
            accepted = unlimited.run(deployment.tls_target, client, files)
    assert str(refused.symptom) == "alert:handshake_failure", refused.raw
    assert "Received fatal alert: handshake_failure" in refused.raw
    assert accepted.ok and accepted.cipher and "AES_256" in accepted.cipher, accepted


def test_compile_cache(tmp_path: Path) -> None:
    require_probe(JavaProbe())
    source = tmp_path / "TlsProbe.java"
    shutil.copy(SOURCE, source)
    first = ensure_compiled(source, tmp_path / "cache")
    again = ensure_compiled(source, tmp_path / "cache")
    assert first.compiled_now and not again.compiled_now and first.classpath == again.classpath
    source.write_text(source.read_text() + "\n// edited\n")
    edited = ensure_compiled(source, tmp_path / "cache")
    assert edited.compiled_now and edited.classpath != first.classpath
    assert (edited.classpath / "TlsProbe.class").exists()


def test_protocol_names() -> None:
    assert jsse_protocols(ClientSpec()) is None
    assert jsse_protocols(ClientSpec(min_protocol=Protocol.TLSv1_0, max_protocol=Protocol.TLSv1_0)) == ["TLSv1"]
    assert jsse_protocols(ClientSpec(max_protocol=Protocol.TLSv1_2)) == ["TLSv1.2"]
    assert jsse_protocols(ClientSpec(min_protocol=Protocol.TLSv1_2)) == ["TLSv1.2", "TLSv1.3"]


def test_run_outside_with_block_says_what_to_do() -> None:
    from lab.errors import LabError
    from lab.probes.base import Target
    with pytest.raises(LabError, match="with JavaProbe"):
        JavaProbe().run(Target("127.0.0.1", 1, "api.lab.test"), ClientSpec(), ClientFiles(Path("/nonexistent")))


# --- OCSP: JSSE's PKIXRevocationChecker on real staples ------------------------------------

# JSSE's own words for each OCSP fault; the missing-staple ones are the probe's (JSSE has no
# staple-required switch), and say so.
JAVA_OCSP_WORDS = {
    "ocsp-revoked": "Certificate has been revoked, reason: KEY_COMPROMISE",
    "ocsp-clock-skew": "Response is unreliable: its validity interval is out-of-date",
    "ocsp-signer-untrusted": "Responder's certificate not within the validity period",
    "ocsp-missing-intermediate": "PKIX path building failed",
    "ocsp-stapling-off": "no OCSP response was stapled, and this client requires one",
    "ocsp-responder-down": "no OCSP response was stapled, and this client requires one",
    "ocsp-responder-blocked": "no OCSP response was stapled, and this client requires one",
}


@pytest.mark.parametrize("scenario_id", sorted(JAVA_OCSP_WORDS))
def test_ocsp_scenario(harness: Harness, catalog: Catalog, scenario_id: str) -> None:
    scenario = catalog.get(scenario_id)
    assert "java" in scenario.expect.probes, "every OCSP scenario states the Java symptom"
    result = harness.run_scenario(scenario)
    assert result.passed, explain(result)
    fault, *fixes = result.phases
    check = next(c for c in fault.checks if c.client == "java")
    assert check.status == "pass" and check.outcome is not None and not check.outcome.ok, check.note
    assert JAVA_OCSP_WORDS[scenario_id] in check.outcome.raw
    for fix in fixes:
        fixed = next(c for c in fix.checks if c.client == "java")
        assert fixed.status == "pass" and fixed.outcome is not None and fixed.outcome.ok, f"{fix.resolution}: {fixed.outcome}"


def _java_against(java: JavaProbe, pki: Pki, catalog: Catalog, scenario_id: str, client: ClientSpec,
                  **server_changes: object):  # type: ignore[no-untyped-def]
    scenario = catalog.get(scenario_id)
    server = dataclasses.replace(scenario.server, **server_changes)  # type: ignore[arg-type]
    request = DeployRequest(scenario, server, client, scenario.direction, pki)
    with make_backend("twisted").deploy(request) as deployment:
        return java.run(deployment.tls_target, client, ClientFiles.for_spec(client, pki))


def test_staple_mode_semantics(java: JavaProbe, pki: Pki, catalog: Catalog) -> None:
    """'staple': no staple is fine, except for a must-staple certificate (the probe's RFC 7633 check);
    an error-status staple is tolerated (no status either way); a revoked one is not."""
    from lab.specs import OcspNetwork, ResponderStatus, RevocationMode
    soft = ClientSpec(revocation=RevocationMode.STAPLE, timeout=2.0)
    must = _java_against(java, pki, catalog, "ocsp-stapling-off", soft)
    assert str(must.symptom) == "revocation:no-staple" and "must-staple" in must.raw, must.raw
    plain = _java_against(java, pki, catalog, "ocsp-stapling-off", soft, certificate="ocsp-server")
    assert plain.ok, plain.raw
    error = dict(ocsp_network=OcspNetwork.OPEN, ocsp_response_status=ResponderStatus.TRY_LATER)
    assert _java_against(java, pki, catalog, "ocsp-responder-down", soft, **error).ok
    strict = _java_against(java, pki, catalog, "ocsp-responder-down", dataclasses.replace(
        soft, revocation=RevocationMode.REQUIRE_STAPLE), **error)
    assert str(strict.symptom) == "revocation:responder-error" and "OCSP response error: TRY_LATER" in strict.raw
    revoked = _java_against(java, pki, catalog, "ocsp-revoked", soft)
    assert str(revoked.symptom) == "revocation:revoked", revoked.raw


def test_clock_offset_moves_the_chain_check_too(java: JavaProbe, pki: Pki, catalog: Catalog) -> None:
    """setDate is the client's clock for the certificates as well: 100 days ahead the 90-day leaf has expired;
    a 3-day skew without revocation checking passes (the certificate is still valid)."""
    ahead = _java_against(java, pki, catalog, "ocsp-clock-skew", ClientSpec(clock_offset_days=100.0, timeout=2.0))
    assert str(ahead.symptom) == "verify:expired", ahead.raw
    assert _java_against(java, pki, catalog, "ocsp-clock-skew", ClientSpec(clock_offset_days=3.0, timeout=2.0)).ok


def test_ocsp_over_tls12(java: JavaProbe, pki: Pki, catalog: Catalog) -> None:
    """TLS 1.2 carries the staple in CertificateStatus (after Certificate); JSSE defers its check for it."""
    from lab.specs import RevocationMode
    client = ClientSpec(revocation=RevocationMode.REQUIRE_STAPLE, max_protocol=Protocol.TLSv1_2, timeout=2.0)
    revoked = _java_against(java, pki, catalog, "ocsp-revoked", client)
    assert str(revoked.symptom) == "revocation:revoked" and revoked.protocol is None, revoked.raw
    good = _java_against(java, pki, catalog, "ocsp-revoked", client, certificate="ocsp-server-renewed")
    assert good.ok and good.protocol == "TLSv1.2", good
