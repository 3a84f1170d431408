"""The headless Chromium probe: every APIGEE scenario it can express, real Chromium, real TLS.

Northbound the browser is the client app; southbound it stands in for the gateway's TLS client
wherever Chromium can express the gateway's configuration. What it cannot express is declared
not applicable from the spec alone, and this file pins exactly which phases those are, so a
probe that silently stopped applying would fail here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.harness import Harness
from lab.pki import Pki
from lab.probes.browser import BrowserProbe
from lab.scenario import Catalog
from lab.backends import make_backend
from lab.specs import ClientSpec
from lab.tls import Protocol

from clients_support import backend_or_skip, explain, require_probe
from conftest import APIGEE_IDS

# What Chromium says with each fault (the raw net:: code, verbatim).
FAULT_ERRORS = {
    "cipher-mismatch": "net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH",
    "protocol-mismatch": "net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH",
    "hostname-mismatch": "net::ERR_CERT_COMMON_NAME_INVALID",
    "incomplete-chain": "net::ERR_CERT_AUTHORITY_INVALID",
    "wrong-intermediate": "net::ERR_CERT_AUTHORITY_INVALID",
    "unknown-server-cert": "net::ERR_CERT_AUTHORITY_INVALID",
    "expired-server-cert": "net::ERR_CERT_DATE_INVALID",
    "expired-client-cert": "net::ERR_BAD_SSL_CLIENT_AUTH_CERT",
    "unknown-client-cert": "net::ERR_BAD_SSL_CLIENT_AUTH_CERT",
}
# (scenario, phase) pairs Chromium cannot express; None is the fault.
NOT_APPLICABLE = {
    ("sni-required", None), ("sni-default-cert", None),  # a browser always sends SNI
    ("protocol-mismatch", "gateway-force-tls10"),  # no TLS 1.0 in Chromium
}


HARNESS_CLIENTS = ["browser"]  # the conftest harness: Twisted and this module's Chromium


@pytest.fixture(scope="module", params=["twisted", "nginx"])
def any_backend(request: pytest.FixtureRequest, browser: BrowserProbe, pki: Pki) -> Harness:
    """The same probe on every backend: the in-process one and nginx in docker."""
    backend = request.getfixturevalue("nginx_backend") if request.param == "nginx" else backend_or_skip(request.param)
    return Harness(backend, [browser], pki)


@pytest.mark.parametrize("scenario_id", APIGEE_IDS)
def test_scenario(any_backend: Harness, catalog: Catalog, scenario_id: str) -> None:
    harness = any_backend
    scenario = catalog.get(scenario_id)
    result = harness.run_scenario(scenario)
    # Alone, the browser may have nothing to observe in a phase (n/a), which is not a pass: judge
    # every check it did run instead of result.passed.
    assert result.error is None and all(c.passed for p in result.phases for c in p.checks if not c.not_applicable), \
        explain(result)
    for phase in result.phases:
        check = next(c for c in phase.checks if c.client == "browser")
        assert (check.not_applicable is None) == ((scenario_id, phase.resolution) not in NOT_APPLICABLE), (phase.resolution, check.note)
        if check.not_applicable:
            continue
        assert check.outcome is not None
        if phase.resolution is None:
            assert "browser" in scenario.expect.probes, "a scenario the browser can run states its symptom"
            assert not check.outcome.ok
            if harness.backend.name == "twisted":  # nginx answers some faults in HTTP (its own expectations)
                assert check.outcome.raw == FAULT_ERRORS[scenario_id]
        else:
            assert check.outcome.ok, f"{phase.resolution}: {check.outcome.raw}"


def test_profile_is_temporary_and_browsers_are_reused(pki: Pki, catalog: Catalog) -> None:
    """The lab CA lives only in a temporary profile, removed on exit; one browser per distinct profile."""
    probe = require_probe(BrowserProbe())
    harness = Harness(make_backend("twisted"), [probe], pki)
    with probe:
        root = probe._root
        assert root is not None and not any(root.glob("home-*/.pki/nssdb"))
        for scenario_id in ("hostname-mismatch", "incomplete-chain", "wrong-intermediate"):
            assert harness.run_scenario(catalog.get(scenario_id)).passed
        assert probe.launches == 1, "same trust and switches: one browser, a new context per probe"
        assert harness.run_scenario(catalog.get("expired-client-cert")).passed
        assert probe.launches == 3, "one persistent profile per client certificate"
        assert len(list(root.glob("home-*/.pki/nssdb"))) == 3
    assert not root.exists(), "the temporary profiles (trusted CA, client keys) must be removed"
    real_db = Path.home() / ".pki" / "nssdb"
    if real_db.exists():
        import subprocess
        listed = subprocess.run(["certutil", "-L", "-d", f"sql:{real_db}"], capture_output=True, text=True)
        assert "tlslab" not in listed.stdout


def test_not_applicable_is_decided_from_the_spec() -> None:
    probe = BrowserProbe()
    assert probe.unsupported_reason(ClientSpec()) is None
    assert probe.unsupported_reason(ClientSpec(max_protocol=Protocol.TLSv1_2)) is None
    assert "SNI" in (probe.unsupported_reason(ClientSpec(sni=False)) or "")
    assert "TLS 1.0" in (probe.unsupported_reason(ClientSpec(min_protocol=Protocol.TLSv1_0)) or "")
    assert probe.unsupported_reason(ClientSpec(certificate="client")) is None  # the profile auto-selects it
    assert probe.unsupported_reason(ClientSpec(ciphers="ECDHE-RSA-AES128-SHA256"))  # not a Chromium suite
    assert probe.unsupported_reason(ClientSpec(ciphers="ECDHE-RSA-AES128-GCM-SHA256")) is None


def test_missing_chromium_is_named() -> None:
    reason = BrowserProbe(executable="/nonexistent/chromium").unavailable_reason()
    assert reason and "apt-get install chromium" in reason
