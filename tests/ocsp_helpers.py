"""Helpers for the OCSP tests (a plain module, not a conftest: the lead's conftest stays the only one)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from conftest import OCSP_DOCUMENT, explain, scenario_ids, skip_or_fail  # noqa: F401  (explain: re-exported)
from lab.harness import Harness
from lab.probes import DEFAULT_PROBES
from lab.probes.curl import faketime_library
from lab.probes.java_probe import JavaProbe

OCSP_IDS = scenario_ids(OCSP_DOCUMENT)


def ocsp_clients() -> list[str]:
    """The default probes and Java (JSSE checks staples too) when a JDK is here; under CI=true it must be."""
    reason = JavaProbe().unavailable_reason()
    if reason is None:
        return [*DEFAULT_PROBES, "java"]
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the java probe cannot run: {reason}")
    return list(DEFAULT_PROBES)


@contextlib.contextmanager
def probes_entered(harness: Harness) -> Iterator[Harness]:
    """`harness` with its probes entered, as Harness.run does (the tests call run_scenario; Java keeps a JVM)."""
    with contextlib.ExitStack() as stack:
        for probe in harness.probes:
            stack.enter_context(probe)
        yield harness


def observers(scenario_id: str, harness: Harness) -> set[str]:
    """The probes of `harness` that must observe the fault: every one the plan does not declare n/a
    (from the probe's own declaration and the scenario file's [symptom.not_applicable]); the table
    lives in the scenario files, not here. At least two must remain, or the test would prove little."""
    from lab.scenario import Catalog
    scenario = Catalog.load().get(scenario_id)
    plan = harness.plan(scenario, scenario.direction, None)
    seen = {name for name, cp in plan.clients.items() if not cp.not_applicable and name != "app"}
    assert len(seen) >= 2, f"{scenario_id}: only {seen} can observe the fault"
    return seen


def require_faketime() -> str:
    """libfaketime's path; skip naming it without it, fail under CI=true."""
    lib = faketime_library()
    if lib is None:
        skip_or_fail("libfaketime is not installed (Debian: apt-get install faketime): curl's clock cannot be skewed")
    return lib



def assert_fault_observed(result, scenario, harness: Harness, backend: str = "twisted") -> None:  # type: ignore[no-untyped-def]
    """The run passed, every probe that can observe this fault did, and python-ssl (no OCSP API) is n/a."""
    assert result.passed, explain(result)
    fault, *fixes = result.phases
    assert len(fixes) == len(scenario.resolutions)
    seen = {c.client: c for c in fault.checks}
    for client in observers(scenario.id, harness):
        check = seen[client]
        assert check.status == "pass" and check.outcome is not None, f"{client} must observe the fault: {check.note}"
        assert check.outcome.symptom in scenario.expect.for_client(client, backend, result.direction)
        assert not check.outcome.ok
    assert seen["python-ssl"].status == "n/a" and "no OCSP API" in (seen["python-ssl"].not_applicable or "")
