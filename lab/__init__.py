"""tlslab: reproduce documented TLS handshake failures on one machine, check the symptom, verify each fix.

The Python API (see :mod:`lab.api`)::

    import lab

    with lab.serve("expired-server-cert") as env:
        ...  # connect to env.url, verify env.servername against env.ca_file: it must fail

``import lab`` stays cheap: the API is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = ("serve", "cases", "scenarios", "Environment", "Endpoint", "Case")

if TYPE_CHECKING:
    from lab.api import Case, Endpoint, Environment, cases, scenarios, serve  # noqa: F401  (see __all__)


def __getattr__(name: str) -> Any:
    if name in _API:
        from lab import api
        return getattr(api, name)
    raise AttributeError(f"module 'lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])


__all__ = ["__version__", *_API]
