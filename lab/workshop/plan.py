"""Which scenario is which exercise, on which ports: a plan that is the same at every start.

Exercises get neutral names (``exercise-01`` ...) in an order shuffled by the room's seed (kept
in the state file), so neither a name nor a port hints at the catalogue's alphabetical order.
Ports follow from ``--base-port``: the dashboard on BASE, exercise N's fault on BASE + 10*N
(southbound: its gateway there, its TLS backend on +1) and its fixed variant on BASE + 10*N + 5
(+6). The fixed variant is the scenario's recommended resolution (else its first).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from lab.errors import UserInputError
from lab.scenario import Direction, Resolution, Scenario
from lab.specs import ClientSpec, ServerSpec

VariantKind = Literal["fault", "fixed"]
STRIDE = 10
FIXED_OFFSET = 5


@dataclass(frozen=True)
class Variant:
    kind: VariantKind
    resolution: Resolution | None
    server: ServerSpec
    client: ClientSpec
    front_port: int  # northbound: the TLS server; southbound: the gateway
    backend_port: int  # southbound: the TLS backend (northbound: unused)


@dataclass(frozen=True)
class Exercise:
    label: str  # exercise-07
    number: int
    scenario: Scenario  # the real one (instructor's view, grading)
    neutral: Scenario  # what the servers are given: the label as id and title, the exercise's name
    variants: tuple[Variant, ...]

    @property
    def direction(self) -> Direction:
        return self.scenario.direction

    def variant(self, kind: str) -> Variant | None:
        return next((v for v in self.variants if v.kind == kind), None)


def fixed_resolution(scenario: Scenario) -> Resolution | None:
    return next((r for r in scenario.resolutions if r.recommended), scenario.resolutions[0] if scenario.resolutions else None)


def plan(scenarios: list[Scenario], *, seed: int, base_port: int, fixed: bool,
         servername: Callable[[str], str]) -> tuple[Exercise, ...]:
    """The exercises for `scenarios` (any catalogue: nothing here names a scenario)."""
    order = list(scenarios)
    random.Random(seed).shuffle(order)
    last = base_port + STRIDE * len(order) + FIXED_OFFSET + 1
    if not 1024 <= base_port or last > 65535:
        raise UserInputError(f"--base-port {base_port}: {len(order)} exercises need ports {base_port}-{last}; "
                             "choose a base port between 1024 and " + str(65535 - (last - base_port)))
    out: list[Exercise] = []
    width = max(2, len(str(len(order))))
    for number, s in enumerate(order, start=1):
        label = f"exercise-{number:0{width}d}"
        neutral = dataclasses.replace(s, id=label, title=label, fault="", document="", section="",
                                      servername=servername(label))
        variants = [Variant("fault", None, s.server, s.client, base_port + STRIDE * number,
                            base_port + STRIDE * number + 1)]
        res = fixed_resolution(s)
        if fixed and res is not None:
            server, client = s.specs(res)
            variants.append(Variant("fixed", res, server, client, base_port + STRIDE * number + FIXED_OFFSET,
                                    base_port + STRIDE * number + FIXED_OFFSET + 1))
        out.append(Exercise(label, number, s, neutral, tuple(variants)))
    return tuple(out)


def plan_hint(base_port: int) -> str:
    return (f"the workshop's ports are planned from --base-port {base_port} (dashboard there, exercise N at "
            f"{base_port} + {STRIDE}*N): stop what listens there or choose another --base-port")
