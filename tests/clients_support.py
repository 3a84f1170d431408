"""Helpers for the Java / browser / matrix tests: skip when a client is missing, fail under CI=true."""

from __future__ import annotations

import os

import pytest

from lab.probes.base import Probe


def require_probe(probe: Probe) -> Probe:
    """`probe` if it can run here; otherwise skip naming what is missing (a failure under CI=true)."""
    reason = probe.unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the {probe.name} probe cannot run: {reason}")
        pytest.skip(f"{probe.name} probe unavailable: {reason}")
    return probe


def explain(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(
        f"{p.resolution or 'fault'} / {c.client}: {c.note} | raw: {c.outcome.raw if c.outcome else '-'}"
        for p in result.phases for c in p.checks if not c.passed
    ) or (result.error or "")


def backend_or_skip(name: str):  # type: ignore[no-untyped-def]
    """The named backend if this build has it and it can run here (under CI=true it must run)."""
    from lab.servers import BACKENDS, make_backend
    if name not in BACKENDS:
        pytest.skip(f"the {name} backend is not part of this build")
    backend = make_backend(name)
    reason = backend.unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the {name} backend cannot run: {reason}")
        pytest.skip(f"{name} backend unavailable: {reason}")
    return backend
