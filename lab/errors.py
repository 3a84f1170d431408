"""Exceptions, grouped by whose fault they are.

An expected handshake failure is never an exception: it is a probe's outcome
(see :mod:`lab.symptoms`). Exceptions mean the lab cannot do what was asked,
and their message says what to do about it::

    LabError                 base; the CLI prints its message, never a traceback
    ├── UserInputError       the user's input: flags, scenario ids, scenario files
    │   ├── UnknownScenario  an id that no scenario file defines (suggests close ids)
    │   └── ScenarioFileError a scenario file that is malformed (names file and field)
    └── EnvironmentError_    this machine: a port in use, a missing tool, no docker engine
        ├── PortInUse
        └── ToolMissing
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class LabError(Exception):
    """Base class: something the lab cannot do; the message says what to do."""


class UserInputError(LabError):
    """The user's input is wrong (a flag, an id, a scenario file)."""


class UnknownScenario(UserInputError):
    def __init__(self, scenario_id: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(scenario_id, known, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        super().__init__(
            f"unknown scenario id {scenario_id!r}.{hint} Run 'tlslab list' to see all {len(known)} scenarios."
        )
        self.scenario_id = scenario_id
        self.suggestions = close


class ScenarioFileError(UserInputError):
    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        where = f"{path}: field '{field}'" if field else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = Path(path)
        self.field = field
        self.problem = problem


class EnvironmentError_(LabError):
    """This machine cannot do it (port, tool, engine); the message says how to fix that."""


class PortInUse(EnvironmentError_):
    def __init__(self, host: str, port: int, remedy: str | None = None) -> None:
        super().__init__(
            f"port {port} on {host} is already in use ('ss -ltnp | grep :{port}' shows what): {remedy}." if remedy
            else f"port {port} on {host} is already in use. " + f"Stop what listens there (e.g. 'ss -ltnp | grep :{port}') or choose another with --port "
            "(0 picks a free one)."
        )
        self.host = host
        self.port = port


class ToolMissing(EnvironmentError_):
    def __init__(self, tool: str, hint: str) -> None:
        super().__init__(f"'{tool}' is not available: {hint}")
        self.tool = tool
