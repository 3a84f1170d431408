"""Grading a student's cause: right or wrong, and on a wrong answer a hint that does not give it away.

Causes are the catalogue's scenarios (any catalogue: ids are the answers, titles the labels),
listed in an order shuffled per student so the list says nothing about the exercise. Hints come
from the scenario data, getting more specific with each wrong answer:

1. the family of the symptom (who rejected what: :mod:`lab.symptoms`' kinds);
2. the tell-apart observation (:mod:`lab.explain.tellapart`) that separates the guess from the
   real cause, with what the *guess* would show there (never what the real one shows);
3. the documented symptom, in the source document's words.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from lab.explain.tellapart import tell_apart
from lab.scenario import Catalog, Direction, Scenario
from lab.symptoms import Kind

FAMILIES: dict[Kind, str] = {
    Kind.VERIFY: "The client rejects what the server sends: look at the certificates the server presents "
                 "and how your client checks them (chain, names, dates, trust).",
    Kind.ALERT: "The server ends the handshake with a fatal alert: look at what your client sends "
                "or offers (certificate, versions, ciphers, server name).",
    Kind.NEGOTIATION: "Client and server cannot agree on how to talk: compare what each side offers.",
    Kind.REVOCATION: "The certificate itself may be fine: look at its revocation status (OCSP) and the "
                     "stapled response.",
    Kind.CLOSED: "The server closes the connection during the handshake: what did your client send?",
    Kind.HTTP: "The application only sees an HTTP error: the TLS failure is one hop further "
               "(between the gateway and its backend).",
}
GENERIC = "Compare a failing connection with a working one: the handshake ladder shows who stopped first."


@dataclass(frozen=True)
class Grade:
    correct: bool
    wrong: int  # wrong answers so far on this exercise
    hint: str | None


def causes(catalog: Catalog, student: str) -> list[dict[str, str]]:
    """Every catalogue cause, shuffled for `student` (stable across reloads and restarts)."""
    items = [{"id": s.id, "title": s.title} for s in catalog]
    random.Random(f"causes:{student}").shuffle(items)
    return items


def family(scenario: Scenario) -> str:
    if scenario.direction is Direction.SOUTHBOUND:
        return FAMILIES[Kind.HTTP]
    kinds = [s.kind for s in scenario.expect.default]
    return next((FAMILIES[k] for k in kinds if k in FAMILIES), GENERIC)


def hint(catalog: Catalog, actual: Scenario, guess: str, wrong: int) -> str:
    """The hint after the `wrong`-th wrong answer `guess` on an exercise whose cause is `actual`."""
    if wrong <= 1:
        return family(actual)
    if wrong == 2 and guess in catalog.ids:
        for o in tell_apart([actual.id, guess], catalog):
            if guess in o.answers and o.answers.get(guess) != o.answers.get(actual.id):
                return (f"{o.question} Try: {o.commands[-1]}. If the cause were the one you chose, you would see "
                        f"{o.answers[guess]}; is that what you see?")
    documented = actual.expect.documented
    return f"The report reads: \"{documented}\"." if documented else family(actual)


def grade(catalog: Catalog, actual: Scenario, guess: str, wrong_before: int) -> Grade:
    if guess == actual.id:
        return Grade(True, wrong_before, None)
    wrong = wrong_before + 1
    return Grade(False, wrong, hint(catalog, actual, guess, wrong))


def as_json(g: Grade) -> dict[str, Any]:
    return {"correct": g.correct, "wrong": g.wrong, "hint": g.hint}
