"""Shared fixtures: one lab PKI per test session, the scenario catalogue, tool requirements.

Tests run real TLS on 127.0.0.1. A test that needs a tool skips naming it, except under
CI=true, where a missing tool is a failure: CI must never pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lab.pki import Pki

from lab.scenario import Catalog

if TYPE_CHECKING:
    from lab.harness import Harness
    from lab.nginx.backend import NginxBackend
    from lab.probes.base import Probe

REPO = Path(__file__).resolve().parent.parent
APIGEE_DOCUMENT = "apigee-tls-handshake-failures.txt"
OCSP_DOCUMENT = "ocsp-responder-not-trusted.txt"


def scenario_ids(document: str | None = None) -> list[str]:
    """The catalog's ids (of one source document), read from the scenario files at collection time:
    a new scenario file gets every per-scenario test without a code change."""
    return [s.id for s in Catalog.load(REPO / "scenarios") if document is None or s.document == document]


ALL_IDS = scenario_ids()
APIGEE_IDS = scenario_ids(APIGEE_DOCUMENT)


def skip_or_fail(message: str) -> None:
    """Skip naming what is missing; under CI=true fail instead: CI must never pass by skipping."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


def require_tool(tool: str, why: str = "") -> str:
    """The tool's path; skip without it, fail without it under CI=true."""
    path = shutil.which(tool)
    if path is None:
        skip_or_fail(f"'{tool}' is not installed{': ' + why if why else ''}")
    return path  # type: ignore[return-value]


def explain(result) -> str:  # type: ignore[no-untyped-def]
    """Every failed check of a ScenarioResult, with what the client said: for assertion messages."""
    return "\n".join(
        f"{p.resolution or 'fault'} / {c.client}: {c.note} | raw: {c.outcome.raw if c.outcome else '-'}"
        for p in result.phases for c in p.checks if c.status == "fail"
    ) or (result.error or "")


@pytest.fixture(scope="session")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("certs")


@pytest.fixture(scope="session")
def pki(certs_dir: Path) -> Pki:
    return Pki.ensure(certs_dir)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load(REPO / "scenarios")


@pytest.fixture(scope="session")
def cli_env(certs_dir: Path, pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for running the real `tlslab` command against the session's PKI and a private state dir."""
    env = dict(os.environ)
    env["TLSLAB_CERTS"] = str(certs_dir)
    env["TLSLAB_STATE"] = str(tmp_path_factory.mktemp("state"))
    yield env


@pytest.fixture(scope="module")
def harness(request: pytest.FixtureRequest, pki: Pki) -> Iterator["Harness"]:
    """The one harness fixture. A test module says what it runs with two module constants:

    ``HARNESS_BACKEND``: "twisted" (default) or "nginx" (the module's ``nginx_backend``, one
    container reloaded per phase); ``HARNESS_CLIENTS``: probe names (default: the four defaults),
    or a callable returning them. A name that is also a fixture (``java``, ``browser``) takes that
    fixture's running probe, so a module shares one JVM or browser across its tests.
    Probes are entered for the module's lifetime, as ``Harness.run`` would.
    """
    from lab.backends import make_backend
    from lab.harness import Harness
    from lab.probes import DEFAULT_PROBES, PROBES

    backend_name = getattr(request.module, "HARNESS_BACKEND", "twisted")
    backend = request.getfixturevalue("nginx_backend") if backend_name == "nginx" else make_backend(backend_name)
    names = getattr(request.module, "HARNESS_CLIENTS", DEFAULT_PROBES)
    names = list(names() if callable(names) else names)
    for tool in {"openssl", "curl"} & set(names):
        require_tool(tool)
    probes = [request.getfixturevalue(n) if n in RUNNING_PROBES else PROBES[n]() for n in names]
    with contextlib.ExitStack() as stack:
        for probe in probes:
            if probe.name not in RUNNING_PROBES:  # a fixture's probe is already running
                stack.enter_context(probe)
        yield Harness(backend, probes, pki)


RUNNING_PROBES = ("java", "browser")  # probes that keep a process: one per module, as fixtures below


def _running(name: str) -> Iterator["Probe"]:
    """The named probe, entered for the module (skips naming what is missing; fails under CI=true)."""
    from lab.probes import PROBES
    probe = PROBES[name]()
    reason = probe.unavailable_reason()
    if reason:
        skip_or_fail(f"the {name} probe cannot run: {reason}")
    with probe:
        yield probe


@pytest.fixture(scope="module")
def java() -> Iterator["Probe"]:
    """One JVM for the module."""
    yield from _running("java")


@pytest.fixture(scope="module")
def browser() -> Iterator["Probe"]:
    """One Chromium for the module."""
    yield from _running("browser")


@pytest.fixture(scope="module")
def nginx_backend() -> Iterator["NginxBackend"]:
    """One nginx container per test module, reloaded per phase; removed at the module's end.

    Per module, not per session: some modules sweep or kill lab containers on purpose.
    """
    from nginx_support import require_docker

    from lab.nginx.backend import NginxBackend, lab_containers

    require_docker()
    with NginxBackend() as backend:
        yield backend
    assert not lab_containers(backend.run_id), "the backend's context must remove its containers"
