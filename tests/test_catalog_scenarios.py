"""Every scenario file on the in-process backend, with the four default probes.

The ids come from the catalog itself (``ALL_IDS``): a new scenario file gets these negative
controls with no code change.

Each test is a negative control: with the fault, every client must show the documented
symptom; after each resolution the same clients must succeed. The last tests prove the
check itself can fail: a scenario whose "fault" is already fixed must not pass.
"""

from __future__ import annotations

import dataclasses

import pytest

from lab.harness import APP, Harness
from lab.probes import DEFAULT_PROBES
from lab.scenario import Catalog, Direction
from lab.symptoms import Kind

from conftest import ALL_IDS, REPO, explain


HARNESS_CLIENTS = DEFAULT_PROBES  # the conftest harness: Twisted and the four default probes


@pytest.mark.parametrize("scenario_id", ALL_IDS)
def test_documented_direction(harness: Harness, catalog: Catalog, scenario_id: str) -> None:
    scenario = catalog.get(scenario_id)
    result = harness.run_scenario(scenario)
    assert result.passed, explain(result)
    fault, *fixes = result.phases
    assert len(fixes) == len(scenario.resolutions)
    assert all(not c.outcome.ok for c in fault.checks if c.outcome), "a fault phase must fail for every client"
    assert all(c.outcome and c.outcome.ok for fix in fixes for c in fix.checks if c.status != "n/a")
    if scenario.direction is Direction.SOUTHBOUND:
        app = next(c for c in fault.checks if c.client == APP)
        assert app.outcome and app.outcome.http_status == 503
        assert app.outcome.upstream_raw and "upstream TLS handshake" in app.outcome.upstream_raw


OTHER_DIRECTIONS = [(s.id, d) for s in Catalog.load(REPO / "scenarios") for d in s.directions if d is not s.direction]


@pytest.mark.parametrize(("scenario_id", "other"), OTHER_DIRECTIONS, ids=[f"{i}-{d.value}" for i, d in OTHER_DIRECTIONS])
def test_other_direction(harness: Harness, catalog: Catalog, scenario_id: str, other: Direction) -> None:
    """The direction-neutral faults run either way (CATALOG.md)."""
    scenario = catalog.get(scenario_id)
    result = harness.run_scenario(scenario, other)
    assert result.passed, explain(result)
    has_app = any(c.client == APP for c in result.phases[0].checks)
    assert has_app == (other is Direction.SOUTHBOUND)


@pytest.mark.parametrize("scenario_id", ALL_IDS)
def test_check_fails_without_the_fault(harness: Harness, catalog: Catalog, scenario_id: str) -> None:
    """Negative control of the control: replace the fault by the first fix; the run must fail."""
    scenario = catalog.get(scenario_id)
    server, client = scenario.specs(scenario.resolutions[0])
    healed = dataclasses.replace(scenario, server=server, client=client)
    result = harness.run_scenario(healed)
    assert not result.passed
    assert not result.phases[0].passed
    assert all(c.outcome and c.outcome.symptom.kind is Kind.OK for c in result.phases[0].checks if c.status != "n/a")


def test_check_fails_when_the_fix_does_not_fix(harness: Harness, catalog: Catalog) -> None:
    scenario = catalog.get("expired-server-cert")
    broken_fix = dataclasses.replace(scenario.resolutions[0], server={"certificate": "server-expired"})
    result = harness.run_scenario(dataclasses.replace(scenario, resolutions=(broken_fix,)))
    assert result.phases[0].passed and not result.phases[1].passed
    assert all("expected ok" in c.note for c in result.phases[1].checks)
