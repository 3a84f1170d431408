"""Every OCSP scenario with real nginx stapling, as a negative control, and nginx's lazy first fetch.

Northbound nginx is the TLS server: the stapling fields become nginx directives and the lab's
responder is the one nginx fetches from. With the fault every client that can observe revocation
must show the documented symptom as nginx produces it (``ocsp-revoked`` records nginx's own answer
in the scenario file), python-ssl must be n/a; after each resolution every applicable client must
succeed. The healed controls must fail. Southbound the faulty server is Twisted on both backends and
nginx, the gateway, has no OCSP check of its upstream: the app's check must be n/a, saying so.
"""

from __future__ import annotations

import dataclasses

import pytest

from lab.harness import APP, Harness
from lab.pki import Pki
from lab.probes.base import ClientFiles
from lab.probes.pyopenssl_probe import fetch
from lab.scenario import Catalog, Direction
from lab.servers.base import DeployRequest
from lab.nginx.backend import NginxBackend

from nginx_support import require_docker, wait_for
from ocsp_helpers import assert_fault_observed, OCSP_IDS, explain, observers, ocsp_clients, require_faketime

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend(nginx_backend: NginxBackend) -> NginxBackend:
    """The module's nginx backend (one container, reloaded per phase)."""
    return nginx_backend


HARNESS_BACKEND = "nginx"
@pytest.fixture(scope="module", autouse=True)
def _faketime() -> None:
    require_faketime()  # curl's clock offset (ocsp-clock-skew): skip naming it, a failure under CI=true


HARNESS_CLIENTS = ocsp_clients  # the default probes and Java (it checks staples too)


@pytest.mark.parametrize("scenario_id", OCSP_IDS)
def test_fault_and_fixes_with_nginx_stapling(harness: Harness, catalog: Catalog, scenario_id: str) -> None:
    scenario = catalog.get(scenario_id)
    result = harness.run_scenario(scenario, Direction.NORTHBOUND)
    assert_fault_observed(result, scenario, harness, "nginx")
    fixes, seen = result.phases[1:], {c.client: c for c in result.phases[0].checks}
    for client, check in seen.items():
        if client not in observers(scenario_id, harness) | {"python-ssl"}:
            assert check.status == "n/a" and check.not_applicable, f"{client} neither observed nor declared n/a"
    for fix in fixes:
        assert all(c.status in ("pass", "n/a") for c in fix.checks)
        assert all(c.outcome and c.outcome.ok for c in fix.checks if c.status == "pass")
        assert any(c.client == "pyopenssl" and c.status == "pass" for c in fix.checks)
    if scenario.server.ocsp_stapling or any(r.server.get("ocsp_stapling") for r in scenario.resolutions):
        stapling = next(p for p in result.phases if "ssl_stapling on;" in (p.config_text or ""))
        assert "ssl_stapling_responder http://127.0.0.1:" in (stapling.config_text or "") \
            or "ssl_stapling_file " in (stapling.config_text or "")


def test_revoked_is_no_staple_on_nginx_because_nginx_refuses_to_staple_it(harness: Harness,
                                                                          catalog: Catalog) -> None:
    """The one recorded difference: nginx keeps no staple for a "revoked" answer, and logs why."""
    scenario = catalog.get("ocsp-revoked")
    assert [str(s) for s in scenario.expect.for_client("curl", "nginx", Direction.NORTHBOUND)] == ["revocation:no-staple"]
    assert [str(s) for s in scenario.expect.for_client("curl", "nginx", Direction.SOUTHBOUND)] == ["revocation:revoked"]
    request = DeployRequest(scenario, scenario.server, scenario.client, Direction.NORTHBOUND, harness.pki)
    with harness.backend.deploy(request) as deployment:
        outcome = fetch(deployment.tls_target, scenario.client, ClientFiles.for_spec(scenario.client, harness.pki))
        assert str(outcome.symptom) == "revocation:no-staple", outcome.raw
        wait_for("nginx to log why it keeps no staple", lambda: any(
            'certificate status "revoked" in the OCSP response' in ln for ln in deployment.server_log()), timeout=5)


@pytest.mark.parametrize("scenario_id", OCSP_IDS)
def test_check_fails_without_the_fault_on_nginx(harness: Harness, catalog: Catalog, scenario_id: str) -> None:
    """Negative control of the control: replace the fault by the first fix; the fault phase must fail."""
    scenario = catalog.get(scenario_id)
    server, client = scenario.specs(scenario.resolutions[0])
    healed = dataclasses.replace(scenario, server=server, client=client, resolutions=scenario.resolutions[:1])
    result = harness.run_scenario(healed, Direction.NORTHBOUND)
    assert not result.phases[0].passed
    observed = [c for c in result.phases[0].checks if c.outcome is not None]
    assert observed and all(c.outcome.ok for c in observed)  # type: ignore[union-attr]


@pytest.mark.parametrize("scenario_id", OCSP_IDS)
def test_southbound_gateway_is_not_applicable(harness: Harness, catalog: Catalog, scenario_id: str) -> None:
    """nginx's proxy module cannot check the upstream's revocation: the app's check is n/a, never a pass."""
    scenario = catalog.get(scenario_id)
    result = harness.run_scenario(scenario, Direction.SOUTHBOUND)
    assert result.passed, explain(result)
    for phase in result.phases:
        app = next(c for c in phase.checks if c.client == APP)
        assert app.status == "n/a" and "no OCSP or stapling check of the upstream" in (app.not_applicable or "")
    fault = {c.client: c for c in result.phases[0].checks}
    assert all(fault[c].status == "pass" and fault[c].outcome for c in observers(scenario_id, harness))


def test_server_log_tells_why_nothing_was_stapled(backend: NginxBackend, pki: Pki, catalog: Catalog) -> None:
    """nginx's own lines, as nginx writes them: the responder down, the intermediate missing."""
    cases = [("ocsp-missing-intermediate", '[warn] 1#1: "ssl_stapling" ignored, issuer certificate not found'),
             ("ocsp-responder-down", "(111: Connection refused) while requesting certificate status")]
    for scenario_id, words in cases:
        scenario = catalog.get(scenario_id)
        request = DeployRequest(scenario, scenario.server, scenario.client, Direction.NORTHBOUND, pki)
        with backend.deploy(request) as deployment:
            assert any(e.role == "ocsp-responder" for e in deployment.endpoints)
            fetch(deployment.tls_target, scenario.client, ClientFiles.for_spec(scenario.client, pki))  # nginx's fetch
            wait_for(f"{words!r} in the server log of {scenario_id}",
                     lambda: any(words in line for line in deployment.server_log()), timeout=5)
    # A fresh container logs load-time warnings to stderr (error_log is not open yet): still in server_log.
    scenario = catalog.get("ocsp-missing-intermediate")
    request = DeployRequest(scenario, scenario.server, scenario.client, Direction.NORTHBOUND, pki)
    with NginxBackend().deploy(request) as deployment:
        assert any('"ssl_stapling" ignored, issuer certificate not found' in ln and "[warn]" in ln
                   for ln in deployment.server_log()), deployment.server_log()


@pytest.mark.slow
def test_blocked_responder_is_what_nginx_itself_logs(backend: NginxBackend, pki: Pki, catalog: Catalog) -> None:
    """The firewall case judged by nginx's own words, not the lab's prediction: nginx's OCSP fetch
    times out after its fixed 60 s and nginx logs it; meanwhile every handshake carries no staple."""
    scenario = catalog.get("ocsp-responder-blocked")
    request = DeployRequest(scenario, scenario.server, scenario.client, Direction.NORTHBOUND, pki)
    files = ClientFiles.for_spec(scenario.client, pki)
    with backend.deploy(request) as deployment:
        assert str(fetch(deployment.tls_target, scenario.client, files).symptom) == "revocation:no-staple"
        wait_for("nginx's own 'OCSP responder timed out' line",
                 lambda: any("OCSP responder timed out" in ln and "while requesting certificate status" in ln
                             and not ln.startswith("[tlslab]") for ln in deployment.server_log()),
                 timeout=75, interval=0.5)


def test_first_connection_without_staple_is_handled(pki: Pki, catalog: Catalog) -> None:
    """Without the warm-up, nginx's first handshake really carries no staple (and a later one does);
    with it, the very first client handshake after deploy carries a valid staple."""
    require_docker()
    scenario = catalog.get("ocsp-stapling-off")
    server, client = scenario.specs(scenario.resolutions[0])
    files = ClientFiles.for_spec(client, pki)
    request = DeployRequest(scenario, server, client, Direction.NORTHBOUND, pki)
    with NginxBackend(staple_warmup=False) as lazy, lazy.deploy(request) as deployment:
        first = fetch(deployment.tls_target, client, files)
        assert str(first.symptom) == "revocation:no-staple", first.raw
        wait_for("nginx to staple after its lazy fetch", lambda: fetch(deployment.tls_target, client, files).ok,
                 timeout=5, interval=0.1)
    with NginxBackend() as warm, warm.deploy(request) as deployment:
        assert any("warm-up: nginx fetched lazily and stapled" in ln for ln in deployment.server_log())
        outcome = fetch(deployment.tls_target, client, files)
        assert outcome.ok, outcome.raw
