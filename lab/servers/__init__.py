"""Backends that realise a scenario's server spec: ``twisted`` (in-process, default) and ``nginx`` (docker)."""

from __future__ import annotations

from collections.abc import Callable

from lab.errors import UserInputError
from lab.servers.base import Backend

def _twisted() -> Backend:
    from lab.servers.twisted_backend import TwistedBackend
    return TwistedBackend()


def _nginx() -> Backend:
    from lab.servers.nginx_backend import NginxBackend
    return NginxBackend()


BACKENDS: dict[str, Callable[[], Backend]] = {"twisted": _twisted, "nginx": _nginx}


def make_backend(name: str, image: str | None = None) -> Backend:
    """The backend named `name`; `image` (nginx only) runs another nginx image, e.g. an official one."""
    if name not in BACKENDS:
        raise UserInputError(f"--backend: unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    if image is not None:
        if name != "nginx":
            raise UserInputError("--image applies to --backend nginx only")
        from lab.servers.nginx_backend import NginxBackend
        return NginxBackend(image)
    return BACKENDS[name]()
