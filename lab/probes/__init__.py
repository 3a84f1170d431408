"""Clients that connect to a lab server and report what they saw, each in its own words.

``PROBES`` is the registry: name -> factory. ``DEFAULT_PROBES`` are the ones ``tlslab run``
uses when ``--client`` is not given.
"""

from __future__ import annotations

from collections.abc import Callable

from lab.errors import UserInputError
from lab.probes.base import Probe
from lab.probes.browser import BrowserProbe
from lab.probes.curl import CurlProbe
from lab.probes.java_probe import JavaProbe
from lab.probes.openssl_cli import OpenSslProbe
from lab.probes.pyopenssl_probe import PyOpenSslProbe
from lab.probes.python_ssl import PythonSslProbe

PROBES: dict[str, Callable[[], Probe]] = {
    "python-ssl": PythonSslProbe,
    "pyopenssl": PyOpenSslProbe,
    "openssl": OpenSslProbe,
    "curl": CurlProbe,
    "java": JavaProbe,
    "browser": BrowserProbe,
}
DEFAULT_PROBES: tuple[str, ...] = ("python-ssl", "pyopenssl", "openssl", "curl")


def parse_clients(text: str | None) -> list[str]:
    """``--client`` value -> probe names; 'all' takes every probe, unknown names are an error."""
    if not text:
        return list(DEFAULT_PROBES)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(PROBES)
    unknown = [n for n in names if n not in PROBES]
    if unknown:
        raise UserInputError(
            f"--client: unknown client {', '.join(unknown)}; choose from {', '.join(PROBES)} or 'all'"
        )
    return names


def make_probes(names: list[str]) -> list[Probe]:
    return [PROBES[n]() for n in names]
