"""Temporary directories the lab makes, labelled so ``tlslab down`` can sweep what a killed process left.

Some of them hold private keys (an nginx config directory, a browser profile's NSS database, a
half-written certificate generation), so none may outlive its owner. A context manager removes
each one on a normal exit or Ctrl-C; ``kill -9`` runs no cleanup, hence the label: every directory
is named ``tlslab-<purpose>-…`` (``.staging-…`` under ``certs/``) and holds an owner marker
(``.tlslab-owner``: pid and the process's start time, so a reused pid is not mistaken for the
owner). :func:`sweep_orphans` removes the marked directories whose owner is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "tlslab-"
MARKER = ".tlslab-owner"


def process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None when it is not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if not Path("/proc/self/stat").exists():  # no procfs: fall back to "is the pid alive"
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return None
            except PermissionError:
                return "unknown"
            return "unknown"
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of stat(5); fields[0] is field 3


def _owner() -> dict[str, object]:
    return {"pid": os.getpid(), "start": process_start(os.getpid())}


def make_owned_dir(prefix: str, parent: Path | None = None) -> Path:
    """A new directory (mode 0700) named `prefix`…, marked as this process's."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    (path / MARKER).write_text(json.dumps(_owner()))
    return path


@contextlib.contextmanager
def owned_tempdir(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """:func:`make_owned_dir`, removed with everything in it when the block ends."""
    path = make_owned_dir(prefix, parent)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def owner_alive(path: Path) -> bool | None:
    """True/False for a marked directory's owner; None when `path` carries no readable marker."""
    try:
        info = json.loads((path / MARKER).read_text())
        pid, start = int(info["pid"]), info.get("start")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    current = process_start(pid)
    return current is not None and (start is None or current == start or current == "unknown")


def sweep_orphans(parent: Path, pattern: str) -> list[Path]:
    """Remove the directories under `parent` matching `pattern` whose marked owner is gone."""
    removed: list[Path] = []
    try:
        candidates = sorted(parent.glob(pattern))
    except OSError:
        return removed
    for path in candidates:
        if path.is_symlink() or not path.is_dir() or owner_alive(path) is not False:
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def lab_temp_root() -> Path:
    """Where the lab's temporary directories live (the system temp directory)."""
    return Path(tempfile.gettempdir())
