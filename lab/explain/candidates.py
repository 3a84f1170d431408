"""From symptoms back to the scenarios that produce them, ranked, with why, fix and reproduction.

Two sources, both read rather than copied: the scenario catalog (what each scenario *expects*
each client to show, per backend and direction, and its resolutions) and the committed
matrix ``docs/symptoms.json`` (what each lab probe *actually said* with each fault). A
symptom the matrix saw from the same client family counts most; one only expected, or seen
from another client, a little less; a related symptom (a generic ``verify:failed``, a
gateway's 503) still counts, weakly, so the ranking degrades instead of going silent.

Weights per symptom: 0.9 the matrix saw it from the same client family's probe; 0.85 the
scenario expects it from that probe; 0.8 another client showed or is expected to show it;
0.3-0.7 a related symptom; +0.1 when the exact wording points at the scenario (e.g. Node's
"unable to verify the first certificate"), +0.05 when the scenario's source document quotes the
message. A candidate's score is the mean over the symptoms; only scenarios that explain as many
of the symptoms as the best one are candidates.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.explain.messages import GATEWAY_CLIENT, Message
from lab.probes import PROBES
from lab.matrix import cells
from lab.scenario import Catalog, Direction, Scenario
from lab.specs import OcspNetwork
from lab.symptoms import Kind, Symptom

BACKENDS = ("twisted", "nginx")
APP_CLIENT = "app"  # the matrix's column for what the application sees through the gateway


def default_matrix_path() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "docs" / "symptoms.json"


@functools.lru_cache(maxsize=4)
def load_matrix(path: Path | None = None) -> dict[str, Any]:
    """The committed symptom matrix, or an empty one where it is not shipped (an installed wheel)."""
    path = path or default_matrix_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"scenarios": []}
    return data if isinstance(data, dict) else {"scenarios": []}


@dataclass(frozen=True)
class Evidence:
    """Scenario S makes client C show symptom X (expected by the catalog, or observed in the matrix)."""

    scenario: str
    client: str
    backend: str
    direction: Direction
    symptom: Symptom
    observed: bool
    raw: str = ""


def _catalog_evidence(catalog: Catalog) -> list[Evidence]:
    out: list[Evidence] = []
    for s in catalog:
        for d in s.directions:
            clients = [*PROBES] + ([GATEWAY_CLIENT] if d is Direction.SOUTHBOUND else [])
            for b in BACKENDS:
                for c in clients:
                    if c in s.expect.not_applicable:
                        continue
                    out += [Evidence(s.id, c, b, d, sym, False) for sym in s.expect.for_client(c, b, d)]
                if d is Direction.SOUTHBOUND:  # the gateway turns every backend TLS failure into a 503
                    out.append(Evidence(s.id, APP_CLIENT, b, d, Symptom(Kind.HTTP, "503"), False))
    return out


def _matrix_evidence(matrix: dict[str, Any], known: set[str]) -> list[Evidence]:
    """What the lab's probes actually said with each fault (``tlslab.matrix/2``: run --json's checks)."""
    out: list[Evidence] = []
    for s in matrix.get("scenarios", []):
        scenario = s.get("scenario")
        if scenario not in known:
            continue
        direction = Direction.parse(s.get("direction", "northbound"))
        backend = s.get("backend", "twisted")
        for phase in s.get("phases", []):
            if phase.get("resolution") is not None:
                continue
            for client, cell in cells(phase).items():
                if not cell.get("symptom") or cell["symptom"] == "ok":
                    continue
                out.append(Evidence(scenario, client, backend, direction, Symptom.parse(cell["symptom"]), True,
                                    cell.get("raw", "")))
                gateway = cell.get("gateway") or {}
                if gateway.get("symptom"):
                    out.append(Evidence(scenario, GATEWAY_CLIENT, backend, direction,
                                        Symptom.parse(gateway["symptom"]), True, gateway.get("raw", "")))
    return out


@dataclass(frozen=True)
class Fix:
    resolution: str
    summary: str
    recommended: bool


@dataclass(frozen=True)
class Candidate:
    """A scenario that would explain the symptoms, with the reasons, the documented fix and a reproduction."""

    scenario: str
    title: str
    score: float
    why: tuple[str, ...]
    fix: tuple[Fix, ...]
    reproduce: str


def _related(symptom: Symptom, have: set[Symptom], scenario: Scenario) -> tuple[float, str]:
    """Weight and reason for a symptom the scenario does not produce exactly but explains."""
    kinds = {h.kind for h in have}
    southbound = Direction.SOUTHBOUND in scenario.directions
    documented_southbound = scenario.direction is Direction.SOUTHBOUND
    if symptom == Symptom(Kind.REVOCATION, "unavailable") and scenario.server.ocsp_network in (
            OcspNetwork.BLOCKED, OcspNetwork.DOWN):
        return 0.6, (f"in this fault the OCSP responder is {scenario.server.ocsp_network.value}: a client that "
                     "asks it itself (not via a staple) cannot get a status")
    if symptom == Symptom(Kind.VERIFY, "failed") and Kind.VERIFY in kinds:
        return 0.5, "the client rejected the certificate without saying why; this fault makes clients reject it"
    if symptom == Symptom(Kind.ALERT, "unspecified") and (Kind.ALERT in kinds or Kind.NEGOTIATION in kinds):
        return 0.4, "the client received a fatal alert without naming it; this fault ends in one"
    if symptom == Symptom(Kind.NEGOTIATION, "version-or-cipher") and have & {
            Symptom(Kind.ALERT, "handshake_failure"), Symptom(Kind.ALERT, "protocol_version"),
            Symptom(Kind.NEGOTIATION, "protocol-version"), Symptom(Kind.NEGOTIATION, "no-ciphers")}:
        return 0.6, "no common version or cipher; this fault refuses one of them"
    pair = {Symptom(Kind.NEGOTIATION, "protocol-version"), Symptom(Kind.ALERT, "protocol_version"),
            Symptom(Kind.NEGOTIATION, "no-protocols")}
    if symptom in pair and have & pair:
        return 0.7, "the TLS versions do not overlap (which side notices first depends on the client)"
    if symptom == Symptom(Kind.REVOCATION, "not-yet-valid-response") and scenario.client.clock_offset_days:
        return 0.7, ("in this fault the client's clock is off; running behind, it sees the OCSP response as not yet "
                     "valid")
    if symptom in (Symptom(Kind.ALERT, "certificate_unknown"), Symptom(Kind.ALERT, "bad_certificate")) and (
            Kind.VERIFY in kinds):
        return 0.5, ("the peer rejected a certificate; seen from the server's side (its log), that is the client "
                     "refusing the server's certificate, as in this fault")
    if symptom == Symptom(Kind.NEGOTIATION, "no-ciphers") and any(
            "ciphers" in {*r.server, *r.client} for r in scenario.resolutions):
        return 0.7, "this client found no cipher suite in common; this fault's fix changes the suites"
    if symptom == Symptom(Kind.CLOSED) and have & {
            Symptom(Kind.ALERT, "handshake_failure"), Symptom(Kind.ALERT, "protocol_version"),
            Symptom(Kind.NEGOTIATION, "protocol-version"), Symptom(Kind.ALERT, "unrecognized_name")}:
        return 0.3, "some servers close the connection where this fault's alert would be"
    if symptom.kind is Kind.HTTP and symptom.detail in ("502", "503", "504") and southbound:
        return (0.5 if documented_southbound else 0.4), (
            "southbound, a gateway answers every backend TLS failure with 502/503: this is one of them")
    return 0.0, ""


class Ranker:
    """The evidence index, built once per catalog (the benchmark measures per-message time after this)."""

    def __init__(self, catalog: Catalog, matrix: dict[str, Any] | None = None) -> None:
        self.catalog = catalog
        ids = set(catalog.ids)
        self.evidence = _catalog_evidence(catalog) + _matrix_evidence(
            load_matrix() if matrix is None else matrix, ids)
        self.by_scenario: dict[str, list[Evidence]] = {i: [] for i in catalog.ids}
        for e in self.evidence:
            self.by_scenario[e.scenario].append(e)

    def explains(self, symptom: Symptom) -> bool:
        """Some scenario produces `symptom`, or one related to it."""
        if any(e.symptom == symptom for e in self.evidence):
            return True
        return any(_related(symptom, {e.symptom for e in ev}, self.catalog.get(sid))[0] > 0
                   for sid, ev in self.by_scenario.items())

    def rank(self, messages: Sequence[Message], symptoms: Sequence[Symptom], client_family: str | None = None
             ) -> list[Candidate]:
        """Every scenario that explains at least one symptom, best first."""
        per_symptom = {s: [m for m in messages if m.symptom == s] for s in symptoms}
        out: list[tuple[int, Candidate]] = []
        for scenario in self.catalog:
            evidence = self.by_scenario[scenario.id]
            have = {e.symptom for e in evidence}
            total = 0.0
            explained = 0
            why: list[str] = []
            chosen: list[Evidence] = []
            for symptom in symptoms:
                msgs = per_symptom.get(symptom, [])
                probe = next((m.probe() for m in msgs if m.probe()), None) or _family_probe(client_family)
                weight, reason, best = self._weigh(scenario, symptom, evidence, probe)
                if weight == 0.0:
                    weight, reason = _related(symptom, have, scenario)
                bonus = 0.0
                for m in msgs:
                    if scenario.id in m.favours:
                        bonus = max(bonus, 0.1)
                        why.append(f"this wording: {next(iter(m.notes), 'it points here')}")
                    if scenario.expect.documented and _similar(m.text, scenario.expect.documented):
                        bonus = max(bonus, 0.05)
                        why.append(f"the source document ({scenario.document}) quotes this message: "
                                   f"\"{_short(scenario.expect.documented)}\"")
                if weight > 0.0:
                    explained += 1
                    total += min(1.0, weight + bonus)
                    if reason:
                        why.append(reason)
                    if best is not None:
                        chosen.append(best)
            if total <= 0.0:
                continue
            score = round(total / max(1, len(symptoms)), 2)
            out.append((explained, Candidate(scenario.id, scenario.title, score, tuple(dict.fromkeys(why)),
                                             fixes(scenario), reproduce(scenario, chosen, messages, client_family))))
        # A scenario that leaves one of the symptoms unexplained is no candidate when another explains more.
        most = max((n for n, _ in out), default=0)
        ranked = [c for n, c in out if n == most]
        ranked.sort(key=lambda c: (-c.score, c.scenario))
        return ranked

    def _weigh(self, scenario: Scenario, symptom: Symptom, evidence: list[Evidence], probe: str | None
               ) -> tuple[float, str, Evidence | None]:
        exact = [e for e in evidence if e.symptom == symptom]
        if not exact:
            return 0.0, "", None
        same = [e for e in exact if e.client == probe]
        observed_same = [e for e in same if e.observed]
        if observed_same:
            e = observed_same[0]
            return 0.9, (f"with this fault the lab's {_who(e.client)} said {symptom}"
                         + (f": \"{_short(e.raw)}\"" if e.raw else "") + " (docs/symptoms.json)"), e
        if same:
            e = same[0]
            return 0.85, f"the scenario expects {symptom} from {_who(e.client)}" + _where(e, scenario), e
        observed = [e for e in exact if e.observed]
        pool = observed or exact
        clients = ", ".join(dict.fromkeys(_who(e.client) for e in pool))
        several = len(dict.fromkeys(e.client for e in pool)) > 1
        verb = "showed" if observed else ("are" if several else "is") + " expected to show"
        return 0.8, f"with this fault {clients} {verb} {symptom}" + _where(pool[0], scenario), pool[0]


def _family_probe(family: str | None) -> str | None:
    from lab.explain.messages import FAMILIES
    if family is None or family not in FAMILIES:
        return None
    f = FAMILIES[family]
    return GATEWAY_CLIENT if f.gateway else f.probe


def _who(client: str) -> str:
    return {APP_CLIENT: "app (through the gateway)"}.get(client, client)


def _where(e: Evidence, scenario: Scenario) -> str:
    bits = []
    if e.backend != "twisted":
        bits.append(f"on the {e.backend} backend")
    if e.direction is not scenario.direction:
        bits.append(e.direction.value)
    return f" ({', '.join(bits)})" if bits else ""


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _similar(text: str, documented: str) -> bool:
    a, b = " ".join(text.lower().split()), " ".join(documented.lower().split())
    if len(b) >= 12 and (b in a or a in b):
        return True
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


def fixes(scenario: Scenario) -> tuple[Fix, ...]:
    """The documented resolutions, the recommended one first."""
    ordered = sorted(scenario.resolutions, key=lambda r: not r.recommended)
    return tuple(Fix(r.name, r.summary, r.recommended) for r in ordered)


def reproduce(scenario: Scenario, chosen: Sequence[Evidence], messages: Sequence[Message],
              client_family: str | None) -> str:
    """`tlslab run ID --client ...` with the backend and direction in which the evidence was seen."""
    gateway = any(m.gateway for m in messages) or _family_probe(client_family) == GATEWAY_CLIENT
    direction = Direction.SOUTHBOUND if gateway and Direction.SOUTHBOUND in scenario.directions else None
    backend = None
    if chosen and all(e.backend == "nginx" for e in chosen):
        backend = "nginx"
        nginx_dirs = {e.direction for e in chosen}
        if len(nginx_dirs) == 1:
            direction = next(iter(nginx_dirs))
    # The user's own client when the lab saw (or expects) the symptom from it, else a client that shows it.
    shown_by = {e.client for e in chosen}
    probes = [p for m in messages if (p := m.probe()) in PROBES and p in shown_by]
    if not probes:
        probes = [e.client for e in chosen if e.client in PROBES]
    if not probes:
        probes = [p for p in ("openssl", "curl") if p in PROBES]
    cmd = f"tlslab run {scenario.id} --client {','.join(dict.fromkeys(probes[:3]))}"
    if backend:
        cmd += f" --backend {backend}"
    if direction is not None and direction is not scenario.direction:
        cmd += f" --direction {direction.value}"
    return cmd
