"""Scenario files: load, validate, and freeze them.

A scenario is data, not code: one TOML file per failure mode in ``scenarios/``, named by its
catalogue id. It says what the faulty server and the client are configured to do, which
symptom each client must show, and each documented resolution as a patch to the server or
client spec. One engine (:mod:`lab.harness`) interprets every file the same way.

Every problem in a file is reported with the file's path and the offending field, so a
scenario author can fix it without reading this module.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lab.paths import data_dir
from lab.errors import ScenarioFileError, UnknownScenario, UserInputError
from lab.pki import catalogue_names
from lab.specs import ClientSpec, ServerSpec, parse_patch
from lab.symptoms import Symptom


class Direction(enum.Enum):
    """Where the failing TLS connection is (APIGEE's terms)."""

    NORTHBOUND = "northbound"  # client app -> Edge Router: the client sees the TLS error itself
    SOUTHBOUND = "southbound"  # app -> gateway -> backend: the app sees 503, the gateway logs the TLS error

    @classmethod
    def parse(cls, text: str) -> "Direction":
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"must be one of {', '.join(d.value for d in cls)}") from None


GATEWAY = "gateway"  # the expectation key for the southbound gateway's own TLS client


@dataclass(frozen=True)
class Expectation:
    """Which symptom(s) each client must show with the fault in place.

    Alternatives are allowed where the same fault legitimately looks different (TLS 1.2 vs 1.3
    timing of a client-certificate rejection, OpenSSL versions); each probe may override the default.
    """

    default: tuple[Symptom, ...]
    documented: str = ""  # the document's own words for the symptom
    probes: Mapping[str, tuple[Symptom, ...]] = field(default_factory=lambda: MappingProxyType({}))
    backends: Mapping[str, Mapping[str, tuple[Symptom, ...]]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # probe -> why it cannot observe this fault (e.g. s_client prints a staple but never checks its
    # signer); such a probe is reported "not applicable" for the fault and must still pass every fix.
    # A key "probe@backend" limits that to one backend.
    not_applicable: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def for_client(self, client: str, backend: str = "twisted",
                   direction: Direction | None = None) -> tuple[Symptom, ...]:
        """The symptoms `client` may show on `backend`: backend override, probe override, default.

        A backend override may be limited to one direction with a ``backend.direction`` key, e.g.
        ``[symptom.backends."nginx.northbound"]`` (nginx is the TLS server only northbound).
        """
        tables = [self.backends.get(f"{backend}.{direction.value}", {})] if direction else []
        for per_backend in (*tables, self.backends.get(backend, {})):
            for key in (client, "*"):
                if key in per_backend:
                    return per_backend[key]
        return self.probes.get(client, self.default)


@dataclass(frozen=True)
class Resolution:
    """A documented fix: a named patch to the server spec and/or the client spec."""

    name: str
    summary: str
    documented: str = ""
    recommended: bool = False
    server: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    client: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def apply(self, server: ServerSpec, client: ClientSpec) -> tuple[ServerSpec, ClientSpec]:
        return dataclasses.replace(server, **self.server), dataclasses.replace(client, **self.client)


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    document: str
    section: str
    direction: Direction  # the documented one, and the default
    directions: tuple[Direction, ...]
    fault: str
    servername: str
    server: ServerSpec
    client: ClientSpec
    expect: Expectation
    resolutions: tuple[Resolution, ...]
    path: Path

    @property
    def two_way(self) -> bool:
        return self.server.client_auth

    def resolution(self, name: str) -> Resolution:
        for r in self.resolutions:
            if r.name == name:
                return r
        raise UserInputError(
            f"scenario {self.id!r} has no resolution {name!r}; "
            f"its resolutions are: {', '.join(r.name for r in self.resolutions)}"
        )

    def specs(self, resolution: Resolution | None = None) -> tuple[ServerSpec, ClientSpec]:
        """The server and client specs with the fault, or with one resolution applied."""
        return resolution.apply(self.server, self.client) if resolution else (self.server, self.client)


# ---------------------------------------------------------------------------------------------
# Loading and validation

_TOP_KEYS = {"id", "title", "document", "section", "direction", "directions", "fault", "servername",
             "symptom", "server", "client", "resolution"}
_SYMPTOM_KEYS = {"documented", "expect", "probes", "backends", "not_applicable"}
_RESOLUTION_KEYS = {"name", "summary", "documented", "recommended", "server", "client"}
_CERT_FIELDS = {"certificate", "default_certificate", "ocsp_signer"}
_CERT_LIST_FIELDS = {"chain", "default_chain", "client_cas", "ocsp_trusted"}


class _Reader:
    """Typed access to one file's TOML with errors that name the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field_name: str, problem: str) -> ScenarioFileError:
        return ScenarioFileError(self.path, field_name, problem)

    def unknown_keys(self, table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(f"{prefix}{key}", f"unknown field; allowed here: {', '.join(sorted(allowed))}")

    def string(self, table: Mapping[str, Any], key: str, prefix: str = "", required: bool = True) -> str:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(f"{prefix}{key}", "is required")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(f"{prefix}{key}", "must be a non-empty string")
        return value.strip()

    def symptoms(self, value: Any, field_name: str) -> tuple[Symptom, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise self.fail(field_name, "must be a symptom like 'alert:handshake_failure' or a list of them")
        try:
            return tuple(Symptom.parse(i) for i in items)
        except ValueError as exc:
            raise self.fail(field_name, str(exc)) from None

    def patch(self, spec_type: type, table: Any, field_name: str) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(field_name, "must be a table")
        try:
            patch = parse_patch(spec_type, table)
        except KeyError as exc:
            allowed = ", ".join(f.name for f in dataclasses.fields(spec_type))
            raise self.fail(f"{field_name}.{exc.args[0]}", f"unknown field; allowed: {allowed}") from None
        except ValueError as exc:
            key, _, problem = str(exc).partition(": ")
            raise self.fail(f"{field_name}.{key}", problem) from None
        known = set(catalogue_names())
        for key, value in patch.items():
            names = value if key in _CERT_LIST_FIELDS else (value,) if key in _CERT_FIELDS | {"trust"} else ()
            for name in names:
                if name is not None and name not in known and not (key == "trust" and name == ""):
                    raise self.fail(f"{field_name}.{key}", f"no certificate named {name!r}; known: {', '.join(sorted(known))}")
        return patch


def load_scenario(path: Path) -> Scenario:
    """Parse and validate one scenario file; raises ScenarioFileError naming file and field."""
    r = _Reader(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise r.fail("", f"is not valid TOML: {exc}") from None
    except OSError as exc:
        raise r.fail("", f"cannot be read: {exc.strerror}") from None
    r.unknown_keys(data, _TOP_KEYS, "")

    scenario_id = r.string(data, "id")
    if scenario_id != path.stem:
        raise r.fail("id", f"is {scenario_id!r} but the file is named {path.name}; they must agree")
    try:
        direction = Direction.parse(r.string(data, "direction"))
    except ValueError as exc:
        raise r.fail("direction", str(exc)) from None
    raw_dirs = data.get("directions", [d.value for d in Direction])
    if not isinstance(raw_dirs, list) or not raw_dirs:
        raise r.fail("directions", "must be a non-empty list")
    try:
        directions = tuple(Direction.parse(str(d)) for d in raw_dirs)
    except ValueError as exc:
        raise r.fail("directions", str(exc)) from None
    if direction not in directions:
        raise r.fail("directions", f"must include the documented direction {direction.value!r}")

    symptom = data.get("symptom")
    if not isinstance(symptom, dict):
        raise r.fail("symptom", "is required: a table with 'expect' (and optionally documented, probes, backends)")
    r.unknown_keys(symptom, _SYMPTOM_KEYS, "symptom.")
    probes_table = symptom.get("probes", {})
    if not isinstance(probes_table, dict):
        raise r.fail("symptom.probes", "must be a table of probe = symptom")
    backends_table = symptom.get("backends", {})
    if not isinstance(backends_table, dict) or not all(isinstance(v, dict) for v in backends_table.values()):
        raise r.fail("symptom.backends", "must be a table of backend tables, e.g. [symptom.backends.nginx]")
    na_table = symptom.get("not_applicable", {})
    if not isinstance(na_table, dict) or not all(isinstance(v, str) and v.strip() for v in na_table.values()):
        raise r.fail("symptom.not_applicable", "must be a table of probe = \"why it cannot observe this fault\"")
    expect = Expectation(
        default=r.symptoms(symptom.get("expect"), "symptom.expect"),
        documented=r.string(symptom, "documented", "symptom.", required=False),
        probes=MappingProxyType({k: r.symptoms(v, f"symptom.probes.{k}") for k, v in probes_table.items()}),
        backends=MappingProxyType({
            b: MappingProxyType({k: r.symptoms(v, f"symptom.backends.{b}.{k}") for k, v in table.items()})
            for b, table in backends_table.items()
        }),
        not_applicable=MappingProxyType({k: v.strip() for k, v in na_table.items()}),
    )

    server = ServerSpec(**r.patch(ServerSpec, data.get("server", {}), "server"))
    client = ClientSpec(**r.patch(ClientSpec, data.get("client", {}), "client"))
    if server.sni.value == "default-certificate" and not server.default_certificate:
        raise r.fail("server.default_certificate", "is required when server.sni = 'default-certificate'")
    if server.client_auth and not server.client_cas:
        raise r.fail("server.client_cas", "is required when server.client_auth = true")

    raw_resolutions = data.get("resolution", [])
    if not isinstance(raw_resolutions, list) or not raw_resolutions:
        raise r.fail("resolution", "at least one [[resolution]] is required: a scenario without a fix is not testable")
    resolutions: list[Resolution] = []
    for i, res in enumerate(raw_resolutions):
        prefix = f"resolution[{i}]."
        if not isinstance(res, dict):
            raise r.fail(f"resolution[{i}]", "must be a table")
        r.unknown_keys(res, _RESOLUTION_KEYS, prefix)
        name = r.string(res, "name", prefix)
        if any(existing.name == name for existing in resolutions):
            raise r.fail(f"{prefix}name", f"{name!r} is used twice")
        server_patch = r.patch(ServerSpec, res.get("server", {}), f"{prefix}server")
        client_patch = r.patch(ClientSpec, res.get("client", {}), f"{prefix}client")
        if not server_patch and not client_patch:
            raise r.fail(prefix.rstrip("."), "changes nothing: give a [resolution.server] or [resolution.client] patch")
        recommended = res.get("recommended", False)
        if not isinstance(recommended, bool):
            raise r.fail(f"{prefix}recommended", "must be true or false")
        resolutions.append(Resolution(
            name=name, summary=r.string(res, "summary", prefix),
            documented=r.string(res, "documented", prefix, required=False), recommended=recommended,
            server=MappingProxyType(server_patch), client=MappingProxyType(client_patch),
        ))

    return Scenario(
        id=scenario_id, title=r.string(data, "title"), document=r.string(data, "document"),
        section=r.string(data, "section", required=False), direction=direction, directions=directions,
        fault=r.string(data, "fault"), servername=r.string(data, "servername"),
        server=server, client=client, expect=expect, resolutions=tuple(resolutions), path=path,
    )


def default_scenarios_dir() -> Path:
    """``$TLSLAB_SCENARIOS``, else the checkout's ``scenarios/``, else the copy inside the wheel."""
    env = os.environ.get("TLSLAB_SCENARIOS")
    if env:
        return Path(env)
    return data_dir("scenarios")


class Catalog:
    """All scenarios in a directory, in file-name order, looked up by id."""

    def __init__(self, scenarios: list[Scenario]) -> None:
        self._by_id = {s.id: s for s in scenarios}

    @classmethod
    def load(cls, directory: Path | None = None) -> "Catalog":
        directory = directory or default_scenarios_dir()
        if not directory.is_dir():
            raise UserInputError(f"scenario directory {directory} does not exist; set --scenarios or TLSLAB_SCENARIOS")
        return cls([load_scenario(p) for p in sorted(directory.glob("*.toml"))])

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)

    def get(self, scenario_id: str) -> Scenario:
        try:
            return self._by_id[scenario_id]
        except KeyError:
            raise UnknownScenario(scenario_id, self._by_id) from None

    def select(self, ids: list[str] | None) -> list[Scenario]:
        return [self.get(i) for i in ids] if ids else list(self)
