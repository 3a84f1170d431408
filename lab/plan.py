"""The plan of a phase: what will be deployed, what changed, and what each client must show.

Decided from the scenario and the specs alone, before anything runs: ``tlslab show`` prints it
and the harness executes it, so the two can never disagree about a fix's diff or about which
client is n/a (a probe that cannot realise the client spec, a scenario that declares a probe
blind to its fault, a backend whose gateway cannot realise it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol as TypingProtocol

from lab.scenario import GATEWAY, Direction, Resolution, Scenario
from lab.specs import ClientSpec, ServerSpec, spec_diff
from lab.symptoms import OK, Symptom

APP = "app"  # the southbound observation: the application's request through the gateway


class Realiser(TypingProtocol):
    """What the plan asks of a probe: its name and why it cannot realise a client spec (None: it can)."""

    name: str

    def unsupported_reason(self, spec: ClientSpec) -> str | None: ...


@dataclass(frozen=True)
class Change:
    side: str  # "server" or "client" (the gateway, southbound)
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class ClientPlan:
    """One client in one phase: the symptoms it may show, or why it cannot observe the phase."""

    client: str
    expected: tuple[Symptom, ...]
    not_applicable: str | None = None


@dataclass(frozen=True)
class PhasePlan:
    """The fault (``resolution`` None) or one resolution, fully decided."""

    scenario: Scenario
    direction: Direction
    resolution: Resolution | None
    server: ServerSpec
    client: ClientSpec
    changes: tuple[Change, ...]
    clients: Mapping[str, ClientPlan]  # probe names, plus APP southbound

    @property
    def fault(self) -> bool:
        return self.resolution is None

    @property
    def name(self) -> str | None:
        return self.resolution.name if self.resolution else None

    @property
    def summary(self) -> str:
        return self.resolution.summary if self.resolution else self.scenario.fault

    @property
    def expected(self) -> tuple[Symptom, ...]:
        """The scenario's default expectation for this phase (each client may differ)."""
        return self.scenario.expect.default if self.fault else (OK,)


def changes_of(scenario: Scenario, server: ServerSpec, client: ClientSpec) -> tuple[Change, ...]:
    """Every field a resolution changed, server side then client side."""
    return tuple(
        Change(side, *diff)
        for side, before, after in (("server", scenario.server, server), ("client", scenario.client, client))
        for diff in spec_diff(before, after)
    )


def plan_phase(scenario: Scenario, direction: Direction, resolution: Resolution | None, backend: str,
               probes: Sequence[Realiser], gateway_limits: str | None = None) -> PhasePlan:
    """The plan of one phase on `backend` for `probes`; `gateway_limits` is why the backend's gateway
    cannot realise this phase's client spec (southbound), as the backend declares it."""
    server, client = scenario.specs(resolution)
    fault = resolution is None
    plans: dict[str, ClientPlan] = {}
    for probe in probes:
        expected = scenario.expect.for_client(probe.name, backend, direction) if fault else (OK,)
        why = probe.unsupported_reason(client)
        server_rule = getattr(probe, "server_unsupported_reason", None)  # a server this client cannot meet at all
        if why is None and server_rule is not None:
            why = server_rule(server)
        if why is None and fault:  # "probe@backend" names a client blind to the fault on one backend only
            na = scenario.expect.not_applicable
            why = na.get(f"{probe.name}@{backend}") or na.get(probe.name)
        plans[probe.name] = ClientPlan(probe.name, expected, why)
    if direction is Direction.SOUTHBOUND:
        expected = scenario.expect.for_client(GATEWAY, backend, direction) if fault else (OK,)
        plans[APP] = ClientPlan(APP, expected, gateway_limits)
    return PhasePlan(scenario, direction, resolution, server, client, changes_of(scenario, server, client),
                     MappingProxyType(plans))


def plan_scenario(scenario: Scenario, direction: Direction, backend: str, probes: Sequence[Realiser],
                  only: Sequence[str] | None = None,
                  gateway_limits: "GatewayLimits | None" = None) -> tuple[PhasePlan, ...]:
    """The fault, then each resolution (or only the named ones), in order."""
    wanted = [scenario.resolution(n) for n in only] if only else list(scenario.resolutions)
    return tuple(plan_phase(scenario, direction, r, backend, probes,
                            gateway_limits(scenario.specs(r)[1]) if gateway_limits else None)
                 for r in [None, *wanted])


class GatewayLimits(TypingProtocol):
    def __call__(self, client: ClientSpec) -> str | None: ...
