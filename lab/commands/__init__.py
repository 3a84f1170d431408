"""Typer sub-apps kept out of :mod:`lab.cli` (``tlslab image``, ``export``, ``ocsp``), and their shared error handling."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer
from rich.console import Console

from lab.errors import LabError, UserInputError

out = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)  # one line per error, however long


@contextlib.contextmanager
def lab_errors() -> Iterator[None]:
    """A LabError becomes one line on stderr and the CLI's exit code (2 input, 3 this machine)."""
    try:
        yield
    except LabError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2 if isinstance(exc, UserInputError) else 3) from None
