"""Helpers for the Java / browser / matrix tests: skip when a client is missing, fail under CI=true."""

from __future__ import annotations



from conftest import explain, skip_or_fail  # noqa: F401  (explain: re-exported for the tests)
from lab.probes.base import Probe


def require_probe(probe: Probe) -> Probe:
    """`probe` if it can run here; otherwise skip naming what is missing (a failure under CI=true)."""
    reason = probe.unavailable_reason()
    if reason:
        skip_or_fail(f"the {probe.name} probe cannot run: {reason}")
    return probe


def backend_or_skip(name: str):  # type: ignore[no-untyped-def]
    """The named backend if it can run here (under CI=true it must run)."""
    from lab.backends import make_backend
    backend = make_backend(name)
    reason = backend.unavailable_reason()
    if reason:
        skip_or_fail(f"the {name} backend cannot run: {reason}")
    return backend
