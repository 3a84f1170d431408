"""Shared fixtures: one lab PKI per test session, the scenario catalogue, tool requirements.

Tests run real TLS on 127.0.0.1. A test that needs a tool skips naming it, except under
CI=true, where a missing tool is a failure: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.pki import Pki
from lab.scenario import Catalog

REPO = Path(__file__).resolve().parent.parent
APIGEE_IDS = [
    "protocol-mismatch", "cipher-mismatch", "sni-required", "sni-default-cert", "hostname-mismatch",
    "incomplete-chain", "wrong-intermediate", "expired-server-cert", "unknown-server-cert",
    "expired-client-cert", "unknown-client-cert",
]


def require_tool(tool: str, why: str = "") -> str:
    """The tool's path; skip without it, fail without it under CI=true."""
    path = shutil.which(tool)
    if path is None:
        message = f"'{tool}' is not installed{': ' + why if why else ''}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return path


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
