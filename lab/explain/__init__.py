"""``tlslab explain``: from what a customer's client printed to the catalog scenarios that cause it.

The knowledge runs the other way from ``tlslab run``: the catalog and the matrix say "fault F
makes client C say M"; this package inverts that (M -> candidate F's), ranks the candidates,
gives each one's documented fix and a command that reproduces it, and says which observation
tells the candidates apart.

    messages.py    which client family printed a line (the symptom itself comes from lab.symptoms)
    candidates.py  symptoms -> ranked scenarios, from the catalog's expectations and docs/symptoms.json
    tellapart.py   the observations (and commands) that separate candidates

Public surface, also for other features (``explain --pcap`` feeds the symptoms a capture shows):

    explain_text(text, catalog) -> Explanation
    explain_symptoms(symptoms, catalog, *, client_family=None) -> Explanation

Nothing here prints or raises on unknown text: an Explanation with no symptoms means "not
recognised", and :attr:`Explanation.closest` lists the known messages nearest to the text.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lab.explain.candidates import Candidate, Fix, Ranker, load_matrix
from lab.explain.messages import FAMILIES, WORDINGS, Message, classify, known_examples, significant, split_messages
from lab.explain.tellapart import Observation, tell_apart
from lab.scenario import Catalog
from lab.symptoms import Kind, Symptom

__all__ = ["Candidate", "Explanation", "Fix", "Message", "Observation", "explain_symptoms", "explain_text",
           "FAMILIES", "SCHEMA"]

SCHEMA = "tlslab.explain/1"
TOP = 0.5  # candidates scoring at least TOP x the best one are the set to tell apart


@dataclass(frozen=True)
class Explanation:
    """What the text was (messages, symptoms), what could cause it (candidates, best first), how to tell."""

    messages: tuple[Message, ...]
    symptoms: tuple[Symptom, ...]
    candidates: tuple[Candidate, ...]
    tell_apart: tuple[Observation, ...]
    unexplained: tuple[Symptom, ...] = ()  # recognised symptoms no catalog scenario produces
    closest: tuple[str, ...] = ()  # for unrecognised text: the known messages nearest to it
    seen_families: tuple[str, ...] = ()  # for unrecognised text: clients whose output it looks like

    @property
    def recognised(self) -> bool:
        return bool(self.symptoms)

    def as_json(self) -> dict[str, Any]:
        """Schema tlslab.explain/1: exactly symptoms, candidates (best first) and tell_apart."""
        symptoms: list[dict[str, Any]] = []
        for s in self.symptoms:
            said = [m for m in self.messages if m.symptom == s]
            symptoms.append({
                "symptom": str(s),
                "families": list(dict.fromkeys(FAMILIES[f].name for m in said for f in m.families)),
                "messages": [m.text for m in said],
                "notes": list(dict.fromkeys(n for m in said for n in m.notes)),
                "explained": s not in self.unexplained,
            })
        return {
            "schema": SCHEMA,
            "symptoms": symptoms,
            "candidates": [{
                "scenario": c.scenario, "score": c.score, "why": list(c.why),
                "fix": [{"resolution": f.resolution, "summary": f.summary, "recommended": f.recommended}
                        for f in c.fix],
                "reproduce": c.reproduce,
            } for c in self.candidates],
            "tell_apart": [{"observation": o.id, "question": o.question, "commands": list(o.commands),
                            "answers": dict(o.answers)} for o in self.tell_apart],
        }


_RANKERS: dict[int, Ranker] = {}


def _ranker(catalog: Catalog) -> Ranker:
    """One evidence index per catalog object: building it is the start-up cost, not per message."""
    ranker = _RANKERS.get(id(catalog))
    if ranker is None or ranker.catalog is not catalog:
        ranker = _RANKERS[id(catalog)] = Ranker(catalog)
    return ranker


def explain_symptoms(symptoms: Sequence[Symptom], catalog: Catalog, *, client_family: str | None = None,
                     messages: Sequence[Message] = ()) -> Explanation:
    """Candidates and tell-apart observations for symptoms already normalised (e.g. read from a capture).

    ``client_family`` is a key of :data:`FAMILIES` (e.g. "java", "nginx"): whose words the symptoms
    were, so that client's observations in the matrix count most. Unknown families are ignored.
    """
    wanted = significant([s for s in symptoms if s.kind not in (Kind.OK, Kind.ERROR)])
    ranker = _ranker(catalog)
    ranked = ranker.rank(messages, wanted, client_family)
    unexplained = tuple(s for s in wanted if not ranker.explains(s))
    best = ranked[0].score if ranked else 0.0
    top = [c.scenario for c in ranked if c.score >= best * TOP][:8]
    gateway_first = bool(wanted) and all(s.kind is Kind.HTTP for s in wanted)
    observations = tell_apart(top, catalog, gateway_first=gateway_first) if top else ()
    return Explanation(tuple(messages), wanted, tuple(ranked), observations, unexplained)


def explain_text(text: str, catalog: Catalog) -> Explanation:
    """Explain a pasted message or log: every recognised line is a message; noise is skipped."""
    messages: list[Message] = []
    seen: set[tuple[Symptom, tuple[str, ...]]] = set()
    for line in split_messages(text):
        m = classify(line)
        if m is not None and (m.symptom, m.families) not in seen:  # a status line and its HTML title: once
            seen.add((m.symptom, m.families))
            messages.append(m)
    if not messages:
        families = tuple(dict.fromkeys(w.family for line in split_messages(text) for w in WORDINGS
                                   if w.pattern.search(line)))
        return Explanation((), (), (), (), closest=tuple(closest_known(text)), seen_families=families)
    return explain_symptoms([m.symptom for m in messages], catalog, messages=messages)


def closest_known(text: str, limit: int = 3) -> list[str]:
    """The known messages most like `text` (the matrix's real messages and the table's wordings)."""
    known = known_examples()
    for s in load_matrix().get("scenarios", []):
        for p in s.get("phases", []):
            for cell in p.get("clients", {}).values():
                if cell.get("raw") and cell.get("symptom") not in (None, "ok"):
                    known.append(cell["raw"])
    known = list(dict.fromkeys(k[:160] for k in known))
    probe = " ".join(text.split())[:160]
    scored = sorted(known, key=lambda k: difflib.SequenceMatcher(None, probe.lower(), k.lower()).ratio(),
                    reverse=True)
    return scored[:limit]
