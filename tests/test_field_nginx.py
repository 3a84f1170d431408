"""The field scenarios with real nginx in Docker (northbound: nginx is the TLS server), default probes.

Negative controls as on Twisted: the fault must show each probe's symptom as nginx produces it, every
fix must make every client succeed. A fault nginx cannot be configured to show (an HTTP/2-only server,
a close without close_notify) is the backend's declared n/a: nothing runs, and the test checks the
reason is the one nginx gives. The nginx configuration carries the directive each fault is made of.
"""

from __future__ import annotations

import pytest

from lab.harness import Harness
from lab.nginx.backend import NginxBackend
from lab.pki import Pki
from lab.probes import DEFAULT_PROBES, make_probes
from lab.scenario import Catalog

from conftest import REPO, explain, require_tool

pytestmark = pytest.mark.slow

FIELD_IDS = [s.id for s in Catalog.load(REPO / "scenarios") if s.document.startswith("field:")]
NOT_ON_NGINX = {"alpn-required": "no HTTP/2-only switch", "unexpected-eof": "always sends close_notify"}
DIRECTIVE = {  # what the fault's nginx.conf must say
    "tls-to-plain-port": "listen 127.0.0.1:", "weak-server-key-dh": "ssl_dhparam",
    "weak-server-key": "served-server-rsa1024+intermediate.pem", "cn-only-certificate": "served-server-cn-only",
    "client-cert-not-sent": "ssl_verify_client on;",
}


@pytest.fixture(scope="module")
def harness(nginx_backend: NginxBackend, pki: Pki) -> Harness:
    require_tool("openssl")
    require_tool("curl")
    return Harness(nginx_backend, make_probes(list(DEFAULT_PROBES)), pki)


@pytest.mark.parametrize("scenario_id", FIELD_IDS)
def test_field_scenario_on_nginx(harness: Harness, catalog: Catalog, scenario_id: str) -> None:
    scenario = catalog.get(scenario_id)
    result = harness.run_scenario(scenario)
    if scenario_id in NOT_ON_NGINX:
        assert result.phases == () and NOT_ON_NGINX[scenario_id] in (result.not_applicable or "")
        return
    assert result.not_applicable is None and result.passed, explain(result)
    fault, *fixes = result.phases
    assert all(not c.outcome.ok for c in fault.checks if c.outcome), "a fault phase must fail for every client"
    assert all(c.outcome and c.outcome.ok for fix in fixes for c in fix.checks if c.status != "n/a")
    if scenario_id in DIRECTIVE:
        assert DIRECTIVE[scenario_id] in (fault.config_text or "")
    if scenario_id == "weak-server-key-dh":  # n/a on Twisted only ("pyopenssl@twisted"): nginx uses its dhparam
        assert next(c for c in fault.checks if c.client == "pyopenssl").outcome is not None
    if scenario_id == "tls-to-plain-port":
        assert " ssl" not in (fault.config_text or "").split("listen 127.0.0.1:", 1)[1].split(";", 1)[0]
