"""The engine: bring a scenario up with its fault, probe, compare, apply each fix, probe again.

For every scenario: deploy the fault, run every client, check each shows the documented
symptom; then, for each resolution, deploy the patched specs and check every client
succeeds. Results are frozen data; the engine never prints, an :class:`Observer` hears
progress (the CLI draws it), and an expected handshake failure is a result, not an exception.
"""

from __future__ import annotations

import contextlib
import http.client
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from lab.errors import LabError, UserInputError
from lab.pki import Pki
from lab.probes.base import CLIENT, LAB, ClientFiles, Outcome, Probe, Target
from lab.plan import APP, Change, PhasePlan, plan_phase
from lab.scenario import GATEWAY, Direction, Resolution, Scenario
from lab.servers.base import Backend, Deployment, DeployRequest, Endpoint, loopback
from lab.specs import ClientSpec, ServerSpec
from lab.symptoms import OK, Kind, Symptom, normalise

if TYPE_CHECKING:
    from lab.capture.relay import CaptureSession


@dataclass(frozen=True)
class Check:
    """One client in one phase: what it saw against what it should have seen."""

    client: str
    expected: tuple[Symptom, ...]
    outcome: Outcome | None  # None: the probe could not run here
    passed: bool
    note: str = ""
    not_applicable: str | None = None  # why this client cannot observe this phase (then passed is False)

    @property
    def judged_by(self) -> str | None:
        """'client' (the tool itself failed or succeeded) or 'lab' (the lab's check or reading); None: not run."""
        return self.outcome.judged_by if self.outcome else None

    @property
    def status(self) -> str:
        """'pass', 'fail' or 'n/a': what a report shows; 'n/a' is neither, and always carries its reason."""
        return "n/a" if self.not_applicable else "pass" if self.passed else "fail"


@dataclass(frozen=True)
class Phase:
    """The fault (resolution None) or one resolution, with every client's check."""

    resolution: str | None
    summary: str
    changes: tuple[Change, ...]
    checks: tuple[Check, ...]
    expected: tuple[Symptom, ...] = (OK,)  # the scenario's default expectation for this phase
    config_text: str | None = None

    @property
    def passed(self) -> bool:
        """Every applicable check passed, and there was at least one: n/a checks neither pass nor fail."""
        applicable = [c for c in self.checks if not c.not_applicable]
        return bool(applicable) and all(c.passed for c in applicable)


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    direction: Direction
    backend: str
    phases: tuple[Phase, ...]
    elapsed: float
    error: str | None = None  # the lab could not run the scenario (not a failed check)
    not_applicable: str | None = None  # why this backend cannot express the fault (nothing ran; not a pass)

    @property
    def passed(self) -> bool:
        """Nothing failed: every phase passed, or the backend declared the fault beyond it (see RunReport)."""
        if self.not_applicable is not None:
            return self.error is None
        return self.error is None and bool(self.phases) and all(p.passed for p in self.phases)


@dataclass(frozen=True)
class RunReport:
    backend: str
    clients: tuple[str, ...]
    results: tuple[ScenarioResult, ...]
    elapsed: float
    unavailable: dict[str, str] = field(default_factory=dict)  # client -> why it could not run

    @property
    def passed(self) -> bool:
        """Every scenario passed and at least one actually ran: a run of n/a scenarios proves nothing."""
        return any(r.not_applicable is None for r in self.results) and all(r.passed for r in self.results)


class Observer(Protocol):
    def scenario_started(self, scenario: Scenario, direction: Direction, phases: int) -> None: ...

    def phase_done(self, scenario: Scenario, phase: Phase) -> None: ...

    def scenario_done(self, result: ScenarioResult) -> None: ...


class NullObserver:
    def scenario_started(self, scenario: Scenario, direction: Direction, phases: int) -> None:
        pass

    def phase_done(self, scenario: Scenario, phase: Phase) -> None:
        pass

    def scenario_done(self, result: ScenarioResult) -> None:
        pass


def app_request(gateway: Endpoint, deployment: Deployment, timeout: float) -> Outcome:
    """The application's plain-HTTP request through the gateway, and what the gateway logged."""
    started = time.monotonic()
    before = len(deployment.gateway_log())
    conn = http.client.HTTPConnection(loopback(gateway.host),
                                      gateway.port, timeout=timeout + 5)
    try:
        conn.request("GET", "/", headers={"Host": f"{gateway.host}:{gateway.port}"})
        resp = conn.getresponse()
        resp.read()
        status, reason = resp.status, resp.reason
    except OSError as exc:
        return Outcome(APP, normalise(str(exc)), f"{type(exc).__name__}: {exc}", elapsed=time.monotonic() - started)
    finally:
        conn.close()
    symptom = OK if status == 200 else Symptom(Kind.HTTP, str(status))
    raw = f"HTTP/1.1 {status} {reason}"
    new_lines = deployment.gateway_log()[before:]
    upstream_raw = new_lines[-1] if new_lines else None
    # With a failure the verdict rests on the lab's reading of the gateway's log line.
    return Outcome(APP, symptom, raw, http_status=status, elapsed=time.monotonic() - started,
                   upstream=normalise(upstream_raw) if upstream_raw else None, upstream_raw=upstream_raw,
                   judged_by=LAB if upstream_raw else CLIENT)


def _judge(client: str, outcome: Outcome, expected: tuple[Symptom, ...]) -> Check:
    if client == APP and expected != (OK,):
        # Southbound with the fault: the app must see 503 and the gateway must log the TLS symptom.
        ok = outcome.symptom == Symptom(Kind.HTTP, "503") and outcome.upstream in expected
        note = "" if ok else (
            f"expected HTTP 503 with the gateway logging {' or '.join(map(str, expected))}; "
            f"saw {outcome.symptom}" + (f" with the gateway logging {outcome.upstream}" if outcome.upstream else "")
        )
        return Check(client, (Symptom(Kind.HTTP, "503"),) + expected, outcome, ok, note)
    ok = outcome.symptom in expected
    note = "" if ok else f"expected {' or '.join(map(str, expected))}; saw {outcome.symptom}"
    return Check(client, expected, outcome, ok, note)


class Harness:
    """Runs scenarios on one backend with a set of probes (entered once for the whole run)."""

    def __init__(self, backend: Backend, probes: Sequence[Probe], pki: Pki,
                 observer: Observer | None = None, capture: CaptureSession | None = None) -> None:
        self.backend = backend
        self.capture = capture  # --capture: each probe reaches the server through a recording relay
        self.probes = list(probes)
        self.pki = pki
        self.observer = observer or NullObserver()
        self.unavailable = {p.name: r for p in self.probes if (r := p.unavailable_reason())}

    def run(self, scenarios: Sequence[Scenario], direction: Direction | None = None,
            resolutions: Sequence[str] | None = None) -> RunReport:
        started = time.monotonic()
        reason = self.backend.unavailable_reason()
        if reason:
            raise LabError(f"backend {self.backend.name!r} is not available: {reason}")
        with contextlib.ExitStack() as stack:
            if isinstance(self.backend, contextlib.AbstractContextManager):
                # A backend with a session (nginx: one container reloaded per phase) lives for the run.
                stack.enter_context(self.backend)
            for probe in self.probes:
                if probe.name not in self.unavailable:
                    stack.enter_context(probe)
            results = tuple(self.run_scenario(s, direction, resolutions) for s in scenarios)
        return RunReport(self.backend.name, tuple(p.name for p in self.probes), results,
                         time.monotonic() - started, dict(self.unavailable))

    def run_scenario(self, scenario: Scenario, direction: Direction | None = None,
                     only: Sequence[str] | None = None) -> ScenarioResult:
        direction = direction or scenario.direction
        if direction not in scenario.directions:
            raise UserInputError(f"scenario {scenario.id!r} runs {', '.join(d.value for d in scenario.directions)} only")
        wanted = [scenario.resolution(n) for n in only] if only else list(scenario.resolutions)
        started = time.monotonic()
        beyond = server_limits_of(self.backend, scenario.server, direction)
        if beyond is not None:  # the backend cannot set this fault up at all: said, never run, never a pass
            self.observer.scenario_started(scenario, direction, 0)
            result = ScenarioResult(scenario.id, direction, self.backend.name, (), 0.0, not_applicable=beyond)
            self.observer.scenario_done(result)
            return result
        self.observer.scenario_started(scenario, direction, 1 + len(wanted))
        phases: list[Phase] = []
        error = None
        try:
            for resolution in [None, *wanted]:
                phase = self.run_phase(scenario, direction, resolution)
                phases.append(phase)
                self.observer.phase_done(scenario, phase)
        except LabError as exc:
            error = str(exc)
        result = ScenarioResult(scenario.id, direction, self.backend.name, tuple(phases),
                                time.monotonic() - started, error)
        self.observer.scenario_done(result)
        return result

    def plan(self, scenario: Scenario, direction: Direction, resolution: Resolution | None) -> PhasePlan:
        """What this phase will deploy and expect of each probe (the same plan ``tlslab show`` prints)."""
        return plan_phase(scenario, direction, resolution, self.backend.name, self.probes,
                          gateway_limits_of(self.backend, scenario.specs(resolution)[1]))

    def run_phase(self, scenario: Scenario, direction: Direction, resolution: Resolution | None) -> Phase:
        plan = self.plan(scenario, direction, resolution)
        request = DeployRequest(scenario, plan.server, plan.client, direction, self.pki)
        if self.capture is not None:
            request = replace(request, keylog=self.capture.keylog.server_callback)
        files = ClientFiles.for_spec(plan.client, self.pki)
        label = f"fix-{resolution.name}" if resolution else "fault"
        with contextlib.ExitStack() as relays:
            if self.capture is not None and direction is Direction.SOUTHBOUND:
                request = replace(request, gateway_upstream=lambda t: self._relay(relays, t, scenario, label, GATEWAY))
            with self.backend.deploy(request) as deployment:
                checks = self._probe_all(plan, deployment, files, label)
        return Phase(plan.name, plan.summary, plan.changes, checks, plan.expected, deployment.config_text)

    def _probe_all(self, plan: PhasePlan, deployment: Deployment, files: ClientFiles, label: str = "") -> tuple[Check, ...]:
        runnable = [p for p in self.probes if p.name not in self.unavailable and not plan.clients[p.name].not_applicable]
        app = plan.clients.get(APP)
        with contextlib.ExitStack() as relays, ThreadPoolExecutor(max_workers=len(runnable) + 1) as pool:
            targets = {p.name: self._target(relays, deployment, plan.scenario, label, p.name) for p in runnable}
            futures = {p.name: pool.submit(p.run, targets[p.name], plan.client, files) for p in runnable}
            if deployment.gateway is not None and app is not None and not app.not_applicable:
                futures[APP] = pool.submit(app_request, deployment.gateway, deployment, plan.client.timeout)
            outcomes = {name: f.result() for name, f in futures.items()}
        checks: list[Check] = []
        for probe in self.probes:
            cp = plan.clients[probe.name]
            if probe.name in self.unavailable:
                checks.append(Check(probe.name, cp.expected, None, False, f"unavailable: {self.unavailable[probe.name]}"))
                continue
            if cp.not_applicable:
                checks.append(Check(probe.name, cp.expected, None, False, f"not applicable: {cp.not_applicable}",
                                    not_applicable=cp.not_applicable))
            else:
                checks.append(_judge(probe.name, outcomes[probe.name], cp.expected))
        if deployment.gateway is not None and app is not None:
            checks.append(Check(APP, app.expected, None, False, f"not applicable: {app.not_applicable}",
                                not_applicable=app.not_applicable) if app.not_applicable
                          else _judge(APP, outcomes[APP], app.expected))
        return tuple(checks)

    def _target(self, stack: contextlib.ExitStack, deployment: Deployment, scenario: Scenario, label: str,
                client: str) -> Target:
        """Where `client` connects: the server itself, or (capturing) a relay of its own in front of it."""
        if self.capture is None:
            return deployment.tls_target
        return self._relay(stack, deployment.tls_target, scenario, label, client)

    def _relay(self, stack: contextlib.ExitStack, target: Target, scenario: Scenario, label: str,
               client: str) -> Target:
        assert self.capture is not None
        relay = stack.enter_context(self.capture.relay((target.host, target.port), scenario.id, label, client))
        return replace(target, host="127.0.0.1", port=relay.port)


def gateway_limits_of(backend: Backend, client: ClientSpec) -> str | None:
    """Why `backend`'s gateway cannot realise `client` (the backend's own n/a rule), or None."""
    rule = getattr(backend, "gateway_limits", None)
    return rule(client) if rule is not None else None


def server_limits_of(backend: Backend, server: ServerSpec, direction: Direction) -> str | None:
    """Why `backend` cannot realise the fault's server spec in `direction` (its own rule), or None."""
    rule = getattr(backend, "server_limits", None)
    return rule(server, direction) if rule is not None else None


@contextlib.contextmanager
def deployed(backend: Backend, request: DeployRequest) -> Iterator[Deployment]:
    """For ``tlslab up``: the same deployment the harness probes, held open by the caller."""
    reason = backend.unavailable_reason()
    if reason:
        raise LabError(f"backend {backend.name!r} is not available: {reason}")
    with backend.deploy(request) as deployment:
        yield deployment
