"""Clients that connect to a lab server and report what they saw, each in its own words.

``PROBES`` is the registry: name -> factory. ``DEFAULT_PROBES`` are the ones ``tlslab run``
uses when ``--client`` is not given. Each factory imports its module on first use, so a
command that needs no probe (``tlslab up``) does not pay for a JVM driver or Playwright.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from lab.errors import UserInputError

if TYPE_CHECKING:
    from lab.probes.base import Probe


def _lazy(module: str, cls: str) -> Callable[[], "Probe"]:
    def make() -> "Probe":
        return getattr(importlib.import_module(f"lab.probes.{module}"), cls)()  # type: ignore[no-any-return]

    return make


PROBES: dict[str, Callable[[], "Probe"]] = {
    "python-ssl": _lazy("python_ssl", "PythonSslProbe"),
    "pyopenssl": _lazy("pyopenssl_probe", "PyOpenSslProbe"),
    "openssl": _lazy("openssl_cli", "OpenSslProbe"),
    "curl": _lazy("curl", "CurlProbe"),
    "java": _lazy("java_probe", "JavaProbe"),
    "browser": _lazy("browser", "BrowserProbe"),
    "go": _lazy("go_probe", "GoProbe"),
    "node": _lazy("node_probe", "NodeProbe"),
    "gnutls": _lazy("gnutls_cli", "GnuTlsProbe"),
    "nss": _lazy("nss_tstclnt", "NssProbe"),
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


def make_probes(names: list[str]) -> list["Probe"]:
    return [PROBES[n]() for n in names]
