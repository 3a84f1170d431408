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
import difflib
import enum
import ipaddress
import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lab.backends import BACKENDS
from lab.paths import data_dir
from lab.errors import ScenarioFileError, UnknownScenario, UserInputError
from lab.material import OWN_PHASE, MaterialError, OwnMaterial, is_path
from lab.material import check_spec as check_material
from lab.nginx.own import rewrite
from lab.pki import catalogue_names
from lab.probes import PROBES
from lab.specs import ClientSpec, ServerSpec, parse_patch, spec_problems
from lab.symptoms import Symptom, check_expected


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
# The backends a [symptom.backends.NAME] table may name: the registry's (lab.backends imports no
# backend module until one is made, so reading its names here costs nothing and makes no cycle).
BACKEND_NAMES: tuple[str, ...] = tuple(BACKENDS)


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
MAX_FILE_BYTES = 1 << 20  # the largest scenario is a few KiB; anything past 1 MiB is not one
_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")  # ids and resolution names: CLI arguments and file names
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _read_text(path: Path, fail: Callable[[str, str], ScenarioFileError]) -> str:
    """The file's text, refusing what is not a small regular UTF-8 file.

    Opened non-blocking and checked with fstat *before* reading: a FIFO named x.toml would
    otherwise block every command, and a symlink to /dev/zero would be read until memory runs out.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise fail("", f"cannot be read: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")
        raise fail("", f"is not a regular file ({kind}); remove it or move it out of the scenario directory")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise fail("", f"is larger than {MAX_FILE_BYTES // 1024} KiB: not a scenario file")
    try:
        return data.decode("utf-8-sig")  # a byte-order mark (Windows editors) is not an error
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise fail("", f"is not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column}; "
                       "save it as UTF-8") from None


def _hostname_problem(name: str) -> str | None:
    """Why `name` cannot be sent as SNI and verified (a DNS name or an IP address), or None."""
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    if len(name) > 253:
        return f"is {len(name)} characters long; a DNS name has at most 253"
    labels = name.removesuffix(".").split(".")
    bad = next((label for label in labels if not _LABEL.fullmatch(label)), None)
    if bad is not None:
        return (f"{name!r} is not a DNS name: label {bad!r} must be 1-63 letters, digits or '-' "
                "(no spaces, ';', control characters or leading/trailing '-')")
    return None


_OWN_FILE_FIELDS = _CERT_FIELDS | {"trust", "key", "nginx_conf"}  # may be paths, relative to the scenario file


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
        control = sorted({c for c in value if unicodedata.category(c) == "Cc" and c not in "\t\n"})
        if control:  # an escape sequence in a title would reach the user's terminal
            raise self.fail(f"{prefix}{key}", f"contains control characters ({', '.join(map(repr, control))})")
        return value.strip()

    def identifier(self, table: Mapping[str, Any], key: str, prefix: str = "") -> str:
        value = self.string(table, key, prefix)
        if not _ID.fullmatch(value):
            raise self.fail(f"{prefix}{key}", f"{value!r} must be lower-case letters, digits and '-' "
                                              "(at most 64, starting and ending with a letter or digit)")
        return value

    def keys(self, table: Mapping[str, Any], allowed: Iterable[str], field_name: str, what: str) -> None:
        """Reject a typo'd override key: it would be silently ignored and the run pass without it."""
        known = list(allowed)
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(f"{field_name}.{key}", f"unknown {what}{hint}; known: {', '.join(known)}")

    def symptoms(self, value: Any, field_name: str) -> tuple[Symptom, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise self.fail(field_name, "must be a symptom like 'alert:handshake_failure' or a list of them")
        try:
            symptoms = tuple(Symptom.parse(i) for i in items)
            for symptom in symptoms:
                check_expected(symptom)
        except ValueError as exc:
            raise self.fail(field_name, str(exc)) from None
        return symptoms

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
                if name is not None and not is_path(name) and name not in known and not (key == "trust" and name == ""):
                    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise self.fail(f"{field_name}.{key}", f"no certificate named {name!r}{hint} (a file path needs a "
                                    f"'/' or a .pem suffix); known: {', '.join(sorted(known))}")
        return self.own_paths(patch, field_name)

    def own_paths(self, patch: dict[str, Any], field_name: str) -> dict[str, Any]:
        """A team's own files, relative to the scenario file, made absolute; an own certificate file
        carries its chain, so `chain` defaults to nothing more (see lab.material)."""
        def absolute(value: str) -> str:
            return str((self.path.parent / Path(value).expanduser()).resolve()) if is_path(value) else value

        out: dict[str, Any] = {}
        for key, value in patch.items():
            if key in _CERT_LIST_FIELDS:
                value = tuple(absolute(v) for v in value)
            elif key in _OWN_FILE_FIELDS and isinstance(value, str):
                value = absolute(value)
            out[key] = value
        if is_path(out.get("certificate")) and "chain" not in out and field_name.endswith("server"):
            out["chain"] = ()
        return out

    def material(self, spec: Any, field_name: str) -> None:
        """Own files exist and are usable before anything starts (keys match their certificates)."""
        try:
            check_material(spec)
            check_nginx_conf(spec)
        except MaterialError as exc:
            raise self.fail(field_name, str(exc)) from None

    def realisable(self, spec: Any, field_name: str) -> None:
        for key, problem in spec_problems(spec):
            raise self.fail(f"{field_name}.{key}", problem)


def load_scenario(path: Path) -> Scenario:
    """Parse and validate one scenario file; raises ScenarioFileError naming file and field."""
    r = _Reader(path)
    text = _read_text(path, r.fail)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise r.fail("", f"is not valid TOML: {exc}") from None
    except RecursionError:
        raise r.fail("", "is not a scenario: its arrays or tables are nested too deeply to read") from None
    r.unknown_keys(data, _TOP_KEYS, "")

    scenario_id = r.identifier(data, "id")
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
    probe_keys = [*PROBES, GATEWAY]
    r.keys(probes_table, probe_keys, "symptom.probes", "probe")
    for key, table in backends_table.items():
        name, _, direction_key = key.partition(".")
        if name not in BACKEND_NAMES or (direction_key and direction_key not in {d.value for d in Direction}):
            known = [*BACKEND_NAMES, *(f"{b}.{d.value}" for b in BACKEND_NAMES for d in Direction)]
            r.keys({key: table}, known, "symptom.backends", "backend")
        r.keys(table, [*probe_keys, "*"], f"symptom.backends.{key}", "probe")
    # a key "probe@backend" limits the declaration to one backend
    r.keys(na_table, [*PROBES, *(f"{p}@{b}" for p in PROBES for b in BACKEND_NAMES)], "symptom.not_applicable", "probe")
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
    r.realisable(server, "server")
    r.realisable(client, "client")
    if server.sni.value == "default-certificate" and not server.default_certificate:
        raise r.fail("server.default_certificate", "is required when server.sni = 'default-certificate'")
    if server.client_auth and not server.client_cas:
        raise r.fail("server.client_cas", "is required when server.client_auth = true")

    r.material(server, "server")
    r.material(client, "client")

    raw_resolutions = data.get("resolution", [])
    if not isinstance(raw_resolutions, list) or not raw_resolutions:
        raise r.fail("resolution", "at least one [[resolution]] is required: a scenario without a fix is not testable")
    resolutions: list[Resolution] = []
    for i, res in enumerate(raw_resolutions):
        prefix = f"resolution[{i}]."
        if not isinstance(res, dict):
            raise r.fail(f"resolution[{i}]", "must be a table")
        r.unknown_keys(res, _RESOLUTION_KEYS, prefix)
        name = r.identifier(res, "name", prefix)
        if any(existing.name == name for existing in resolutions):
            raise r.fail(f"{prefix}name", f"{name!r} is used twice")
        server_patch = r.patch(ServerSpec, res.get("server", {}), f"{prefix}server")
        client_patch = r.patch(ClientSpec, res.get("client", {}), f"{prefix}client")
        if not server_patch and not client_patch:
            raise r.fail(prefix.rstrip("."), "changes nothing: give a [resolution.server] or [resolution.client] patch")
        fixed_server, fixed_client = (dataclasses.replace(server, **server_patch),
                                      dataclasses.replace(client, **client_patch))
        r.realisable(fixed_server, f"{prefix}server")
        r.realisable(fixed_client, f"{prefix}client")
        recommended = res.get("recommended", False)
        if not isinstance(recommended, bool):
            raise r.fail(f"{prefix}recommended", "must be true or false")
        resolutions.append(Resolution(
            name=name, summary=r.string(res, "summary", prefix),
            documented=r.string(res, "documented", prefix, required=False), recommended=recommended,
            server=MappingProxyType(server_patch), client=MappingProxyType(client_patch),
        ))
        fixed_server, fixed_client = resolutions[-1].apply(server, client)
        r.material(fixed_server, f"{prefix}server")
        r.material(fixed_client, f"{prefix}client")

    servername = r.string(data, "servername")
    if (problem := _hostname_problem(servername)) is not None:
        raise r.fail("servername", problem)
    return Scenario(
        id=scenario_id, title=r.string(data, "title"), document=r.string(data, "document"),
        section=r.string(data, "section", required=False), direction=direction, directions=directions,
        fault=r.string(data, "fault"), servername=servername,
        server=server, client=client, expect=expect, resolutions=tuple(resolutions), path=path,
    )


def check_nginx_conf(spec: Any) -> None:
    """A server spec's own nginx block can be made runnable (files exist, keys match): raises MaterialError."""
    conf = getattr(spec, "nginx_conf", None)
    if conf:
        rewrite(Path(conf), listen="127.0.0.1:0", certs_dir="/check")


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
            what = "is not a directory" if directory.exists() else "does not exist"
            raise UserInputError(f"scenario directory {directory} {what}; set --scenarios or TLSLAB_SCENARIOS")
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


def with_own_material(scenario: Scenario, own: OwnMaterial) -> Scenario:
    """`scenario` with one more phase, ``own-material``: the fault's specs with the user's own files in place.

    The fault and the documented fixes still run on the lab's material (the fault proves the symptom
    reproduces); the extra phase must make every client succeed, as any fix must.
    """
    if not own:
        return scenario
    if any(r.name == OWN_PHASE for r in scenario.resolutions):
        raise UserInputError(f"scenario {scenario.id!r} already has a resolution named {OWN_PHASE!r}")
    phase = Resolution(name=OWN_PHASE, summary=own.describe(),
                       server=MappingProxyType(own.server_patch()), client=MappingProxyType(own.client_patch()))
    check_nginx_conf(phase.apply(scenario.server, scenario.client)[0])
    return dataclasses.replace(scenario, resolutions=(*scenario.resolutions, phase))
