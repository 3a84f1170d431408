"""The backend registry: each backend says here what it brings, so the CLI and ``tlslab down``
name no backend.

An entry names, by import path (loaded on first use, so ``tlslab up`` on Twisted never imports
the Docker SDK): the backend class, its sweeper for ``tlslab down``, the sub-commands it adds to
the CLI, and how ``tlslab show --backend NAME`` renders its configuration. Its n/a rule for the
southbound app check is the backend's own ``gateway_limits`` method (see :mod:`lab.plan`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.errors import UserInputError

if TYPE_CHECKING:
    from lab.runstate import SweepResult
    from lab.servers.base import Backend


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class BackendEntry:
    name: str
    summary: str
    factory: str  # "module:Class", called with image=... when takes_image
    takes_image: bool = False
    sweeper: str | None = None  # "module:function" returning list[SweepResult]: what a killed run left
    cli: tuple[tuple[str, str], ...] = ()  # (sub-command, "module:typer app") the backend adds
    show_text: str | None = None  # "module:function(scenario, direction) -> str" for show --backend
    show_json: str | None = None  # same, as JSON data

    def make(self, image: str | None = None) -> "Backend":
        cls = _load(self.factory)
        return cls(image) if self.takes_image else cls()  # type: ignore[no-any-return]


BACKENDS: dict[str, BackendEntry] = {
    "twisted": BackendEntry("twisted", "in-process Twisted servers (the default)", "lab.twisted.backend:TwistedBackend"),
    "nginx": BackendEntry(
        "nginx", "real nginx in Docker", "lab.nginx.backend:NginxBackend", takes_image=True,
        sweeper="lab.nginx.backend:sweep_unless_absent",
        cli=(("image", "lab.commands.image:image_app"), ("export", "lab.commands.export:export_app")),
        show_text="lab.nginx.config:show_text", show_json="lab.nginx.config:show_json"),
}


def entry(name: str) -> BackendEntry:
    if name not in BACKENDS:
        raise UserInputError(f"--backend: unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    return BACKENDS[name]


def make_backend(name: str, image: str | None = None) -> "Backend":
    """The backend named `name`; `image` runs another server image where the backend takes one."""
    chosen = entry(name)
    if image is not None and not chosen.takes_image:
        raise UserInputError("--image applies to " + ", ".join(f"--backend {n}" for n, e in BACKENDS.items() if e.takes_image)
                             + " only")
    return chosen.make(image)


def sweepers() -> list[Callable[[], list["SweepResult"]]]:
    """Every backend's sweeper, for ``tlslab down``."""
    return [_load(e.sweeper) for e in BACKENDS.values() if e.sweeper]


def cli_extras() -> list[tuple[str, Any]]:
    """(name, typer app) of every sub-command a backend brings."""
    return [(name, _load(ref)) for e in BACKENDS.values() for name, ref in e.cli]


def show_renderers(name: str) -> tuple[Callable[..., str] | None, Callable[..., Any] | None]:
    """How ``tlslab show --backend NAME`` renders the backend's configuration (None: nothing to add)."""
    chosen = entry(name)
    return (_load(chosen.show_text) if chosen.show_text else None,
            _load(chosen.show_json) if chosen.show_json else None)
