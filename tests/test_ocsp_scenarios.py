"""Every OCSP scenario on the in-process backend, as a negative control, both directions.

With the fault every client that can observe revocation must show the documented symptom,
python-ssl (no OCSP API) must be reported n/a with its reason, never passed; after each
resolution every applicable client must succeed. The controls of the control: a scenario whose
fault is already healed must fail, and the responder-error variants of ocsp-responder-down
must each read revocation:responder-error.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from lab.harness import APP, Harness
from lab.pki import Pki
from lab.scenario import Catalog, Direction, Expectation
from lab.backends import make_backend
from lab.servers.base import DeployRequest
from lab.specs import ClientSpec, OcspNetwork, ResponderStatus, RevocationMode
from lab.symptoms import Symptom

from ocsp_helpers import assert_fault_observed, OCSP_IDS, explain, observers, ocsp_clients, require_faketime


@pytest.fixture(scope="module", autouse=True)
def _faketime() -> None:
    require_faketime()  # curl's clock offset (ocsp-clock-skew): skip naming it, a failure under CI=true


HARNESS_CLIENTS = ocsp_clients  # the conftest harness: Twisted, the default probes and Java


def test_every_ocsp_row_has_a_scenario(catalog: Catalog) -> None:
    import re
    from conftest import REPO
    contract = REPO.parent / "shared" / "CATALOG.md"
    if contract.exists():
        assert set(re.findall(r"^\| (ocsp-[a-z-]+) \|", contract.read_text(), re.M)) == set(OCSP_IDS)
    assert set(OCSP_IDS) <= set(catalog.ids)


@pytest.mark.parametrize("direction", [Direction.NORTHBOUND, Direction.SOUTHBOUND])
@pytest.mark.parametrize("scenario_id", OCSP_IDS)
def test_fault_and_fixes(harness: Harness, catalog: Catalog, scenario_id: str, direction: Direction) -> None:
    scenario = catalog.get(scenario_id)
    result = harness.run_scenario(scenario, direction)
    assert_fault_observed(result, scenario, harness)
    fixes, seen = result.phases[1:], {c.client: c for c in result.phases[0].checks}
    for client, check in seen.items():
        if client not in observers(scenario_id, harness) | {"python-ssl", APP}:
            assert check.status == "n/a" and check.not_applicable, f"{client} neither observed nor declared n/a"
    if direction is Direction.SOUTHBOUND:
        app = seen[APP]
        assert app.outcome and app.outcome.http_status == 503 and app.outcome.upstream in scenario.expect.default
    for fix in fixes:
        for check in fix.checks:
            assert check.status in ("pass", "n/a")
            if check.status == "pass":
                assert check.outcome and check.outcome.ok
        assert any(c.client == "pyopenssl" and c.status == "pass" for c in fix.checks)


@pytest.mark.parametrize("scenario_id", OCSP_IDS)
def test_check_fails_without_the_fault(harness: Harness, catalog: Catalog, scenario_id: str) -> None:
    """Negative control of the control: replace the fault by the first fix; the fault phase must fail."""
    scenario = catalog.get(scenario_id)
    server, client = scenario.specs(scenario.resolutions[0])
    healed = dataclasses.replace(scenario, server=server, client=client, resolutions=scenario.resolutions[:1])
    result = harness.run_scenario(healed)
    assert not result.phases[0].passed
    observed = [c for c in result.phases[0].checks if c.outcome is not None]
    assert observed and all(c.outcome.ok for c in observed)  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [ResponderStatus.TRY_LATER, ResponderStatus.MALFORMED_REQUEST,
                                    ResponderStatus.INTERNAL_ERROR, ResponderStatus.UNAUTHORIZED])
def test_responder_error_variants(harness: Harness, catalog: Catalog, status: ResponderStatus) -> None:
    """ocsp-responder-down's other documented faults: the responder answers an error status.

    The Twisted stapler (ssl_stapling_verify off) passes the error response through, as
    Apache does by default; every staple-checking client then reports the error status.
    """
    scenario = catalog.get("ocsp-responder-down")
    server = dataclasses.replace(scenario.server, ocsp_network=OcspNetwork.OPEN, ocsp_response_status=status)
    variant = dataclasses.replace(scenario, server=server, expect=Expectation(
        default=(Symptom.parse("revocation:responder-error"),)))
    result = harness.run_scenario(variant)
    assert result.passed, explain(result)
    observed = {c.client: c.outcome for c in result.phases[0].checks if c.outcome}
    clients = {p.name for p in harness.probes}
    assert set(observed) == {"pyopenssl", "openssl", "curl", "java"} & clients
    assert status.value.lower() in observed["openssl"].raw.lower()  # type: ignore[union-attr]
    if "java" in observed:  # JSSE's own words, e.g. "OCSP response error: TRY_LATER"
        assert f"OCSP response error: {status.name}" in observed["java"].raw  # type: ignore[union-attr]


def test_stapling_verify_refuses_a_bad_response(harness: Harness, catalog: Catalog) -> None:
    """With ssl_stapling_verify on, an untrusted response is not stapled at all: the clients see none."""
    scenario = catalog.get("ocsp-signer-untrusted")
    server = dataclasses.replace(scenario.server, ocsp_stapling_verify=True)
    variant = dataclasses.replace(scenario, server=server, expect=Expectation(
        default=(Symptom.parse("revocation:no-staple"),)))
    result = harness.run_scenario(variant)
    assert result.passed, explain(result)


def test_server_log_tells_why_nothing_was_stapled(pki: Pki, catalog: Catalog) -> None:
    backend = make_backend("twisted")
    for scenario_id, words in [("ocsp-responder-blocked", "did not answer within 1s"),
                               ("ocsp-missing-intermediate", "issuer certificate not found"),
                               ("ocsp-responder-down", "refused")]:
        scenario = catalog.get(scenario_id)
        request = DeployRequest(scenario, scenario.server, scenario.client, Direction.NORTHBOUND, pki)
        with backend.deploy(request) as deployment:
            assert any(words in line for line in deployment.server_log()), deployment.server_log()
            assert any(e.role == "ocsp-responder" for e in deployment.endpoints)


def test_first_connection_carries_the_staple(pki: Pki, catalog: Catalog) -> None:
    """The staple is fetched before the server listens: the very first handshake has it."""
    from lab.probes.base import ClientFiles
    from lab.probes.pyopenssl_probe import fetch
    scenario = catalog.get("ocsp-stapling-off")
    server, client = scenario.specs(scenario.resolutions[0])
    request = DeployRequest(scenario, server, client, Direction.NORTHBOUND, pki)
    with make_backend("twisted").deploy(request) as deployment:
        outcome = fetch(deployment.tls_target, client, ClientFiles.for_spec(client, pki))
    assert outcome.ok, outcome.raw


def test_must_staple_is_honoured_in_soft_mode(pki: Pki, catalog: Catalog) -> None:
    """'staple' mode tolerates a missing staple, except for a must-staple certificate (RFC 7633)."""
    from lab.probes.base import ClientFiles
    from lab.probes.pyopenssl_probe import fetch
    scenario = catalog.get("ocsp-stapling-off")
    soft = ClientSpec(revocation=RevocationMode.STAPLE, timeout=2.0)
    files = ClientFiles.for_spec(soft, pki)
    outcomes = {}
    for cert in ("ocsp-server-must-staple", "ocsp-server"):
        server = dataclasses.replace(scenario.server, certificate=cert)
        with make_backend("twisted").deploy(DeployRequest(scenario, server, soft, Direction.NORTHBOUND, pki)) as d:
            outcomes[cert] = fetch(d.tls_target, soft, files)
    assert str(outcomes["ocsp-server-must-staple"].symptom) == "revocation:no-staple"
    assert "must-staple" in outcomes["ocsp-server-must-staple"].raw
    assert outcomes["ocsp-server"].ok


# --- what the nginx backend will need (exercised here against the Twisted server and responder) ---

def test_nginx_directives_and_prediction(pki: Pki, catalog: Catalog) -> None:
    from lab.nginx.stapling import StaplingFiles, nginx_stapling_directives, nginx_will_staple, trusted_pem
    from lab.ocsp import ResponderPolicy, run_responder
    fixed = catalog.get("ocsp-stapling-off").specs(catalog.get("ocsp-stapling-off").resolutions[0])[0]
    assert nginx_stapling_directives(fixed, "http://10.0.0.1:8080/", StaplingFiles(trusted="/etc/nginx/trusted.pem")) == [
        "ssl_stapling on;", "ssl_stapling_verify on;", "ssl_trusted_certificate /etc/nginx/trusted.pem;",
        "ssl_stapling_responder http://10.0.0.1:8080/;"]
    assert trusted_pem(fixed, pki).count(b"BEGIN CERTIFICATE") == 2
    as_file = dataclasses.replace(fixed, ocsp_stapling_file=True)
    assert nginx_stapling_directives(as_file, "http://x/", StaplingFiles(staple="/s.der"))[-1] == "ssl_stapling_file /s.der;"
    assert nginx_stapling_directives(catalog.get("ocsp-stapling-off").server, "http://x/", StaplingFiles()) == []
    expected = {"ocsp-revoked": False, "ocsp-signer-untrusted": True, "ocsp-clock-skew": True,
                "ocsp-responder-down": False, "ocsp-missing-intermediate": False, "ocsp-stapling-off": False}
    for scenario_id, staples in expected.items():
        spec = catalog.get(scenario_id).server
        with run_responder(pki, ResponderPolicy.from_spec(spec)) as responder:
            assert nginx_will_staple(spec, pki, responder) is staples, scenario_id


def test_wait_for_staple(pki: Pki, catalog: Catalog) -> None:
    from lab.nginx.stapling import wait_for_staple
    scenario = catalog.get("ocsp-stapling-off")
    for server, staples in ((scenario.specs(scenario.resolutions[0])[0], True), (scenario.server, False)):
        request = DeployRequest(scenario, server, scenario.client, Direction.NORTHBOUND, pki)
        with make_backend("twisted").deploy(request) as deployment:
            t = deployment.tls_target
            started = time.monotonic()
            staple = wait_for_staple(t.host, t.port, t.servername, deadline_s=0.5)
            assert bool(staple) is staples
            assert time.monotonic() - started < 5, "the wait must be bounded by its deadline"
