"""The nginx renderer on its own (no Docker): directives mirror the specs, fixes show as diffs."""

from __future__ import annotations

import pytest

from lab.nginx.config import explain, render_gateway, render_server, show_text
from lab.scenario import Catalog, Direction
from lab.specs import ClientSpec, ServerSpec, SniPolicy
from lab.tls import Protocol

from conftest import APIGEE_IDS


def test_tls10_server_and_gateway_get_seclevel_0() -> None:
    tls10 = ServerSpec(min_protocol=Protocol.TLSv1_0, max_protocol=Protocol.TLSv1_0)
    text = render_server("x", "api.lab.test", tls10, port=1).text
    assert "ssl_protocols TLSv1;" in text and 'ssl_ciphers "DEFAULT:@SECLEVEL=0";' in text
    gw = render_gateway("x", "api.lab.test", ClientSpec(min_protocol=Protocol.TLSv1_0, max_protocol=Protocol.TLSv1_0),
                        port=1, upstream_port=2).text
    assert "proxy_ssl_protocols TLSv1;" in gw and 'proxy_ssl_ciphers "DEFAULT:@SECLEVEL=0";' in gw


def test_gateway_answers_503_and_mirrors_sni_and_trust() -> None:
    gw = render_gateway("x", "api.lab.test", ClientSpec(sni=False, trust="other-root"), port=1, upstream_port=2).text
    assert "error_page 502 =503" in gw
    assert "proxy_ssl_server_name off;" in gw and "proxy_ssl_name api.lab.test;" in gw
    assert "proxy_ssl_verify on;" in gw and "trust-other-root.pem" in gw


def test_sni_policies_render_default_servers() -> None:
    required = render_server("x", "api.lab.test", ServerSpec(sni=SniPolicy.REQUIRE), port=1).text
    assert "ssl_reject_handshake on;" in required and "default_server" in required
    default = render_server("x", "api.lab.test", ServerSpec(sni=SniPolicy.DEFAULT_CERTIFICATE,
                                                            default_certificate="default"), port=1)
    assert "served-default+intermediate.pem" in default.text and "served-server+intermediate.pem" in default.text


def test_incomplete_chain_serves_the_leaf_alone() -> None:
    config = render_server("x", "api.lab.test", ServerSpec(chain=()), port=1)
    assert "ssl_certificate /etc/tlslab/certs/served-server.pem;" in config.text
    assert [f.certs for f in config.files if f.certs] == [("server",)]


@pytest.mark.parametrize("scenario_id", APIGEE_IDS)
def test_every_resolution_changes_a_directive_or_a_client(catalog: Catalog, scenario_id: str) -> None:
    scenario = catalog.get(scenario_id)
    info = explain(scenario)
    for shown, res in zip(info.resolutions, scenario.resolutions):
        if res.server or (res.client and scenario.direction is Direction.SOUTHBOUND):
            assert shown.diffs, f"{res.name} should change an nginx directive"
            assert any(line.startswith("+") and not line.startswith("+++") for _, d in shown.diffs for line in d)
        else:
            assert shown.client_side and not shown.diffs
    assert scenario.id in show_text(scenario)


def test_sni_required_diff_is_the_one_directive(catalog: Catalog) -> None:
    (fix,) = explain(catalog.get("sni-required")).resolutions
    (role, diff), = fix.diffs
    changed = [ln for ln in diff if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    assert role == "gateway" and changed == ["-            proxy_ssl_server_name off;",
                                             "+            proxy_ssl_server_name on;"]
