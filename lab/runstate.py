"""Bookkeeping for ``tlslab up`` processes, so ``tlslab down`` can stop what a crashed shell left behind.

In-process servers die with their process; what can outlive a terminal is the ``tlslab up``
process itself (a closed terminal, a CI step killed mid-way). Each one records a small JSON
file; ``down`` stops the recorded processes that are still alive and removes stale records.
Backends with out-of-process parts (docker containers) add their own sweepers. Last, the lab's
temporary material whose owner process is gone (``lab/tempdirs.py``): nginx config and log
directories (server keys), browser profiles (an NSS key database, Chromium's temp files),
abandoned ``certs/.staging-*`` directories and certificate generations no process uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import EnvironmentError_
from lab.paths import default_certs_dir, state_dir
from lab.tempdirs import lab_temp_root, sweep_orphans


@dataclass(frozen=True)
class SweepResult:
    what: str  # e.g. "tlslab up process 1234 (sni-required)" or "container tlslab-…"
    action: str  # "stopped", "removed", "already gone"
    path: Path | None = None  # a removed directory


@contextlib.contextmanager
def recorded_up(info: dict[str, Any]) -> Iterator[Path]:
    """Record this process as a running ``tlslab up`` for as long as the block runs."""
    path = state_dir() / f"up-{os.getpid()}.json"
    try:
        path.write_text(json.dumps({"pid": os.getpid(), "started": time.time(), "cmdline": _cmdline(os.getpid()), **info}))
    except OSError as exc:
        raise EnvironmentError_(f"cannot record this process in {path.parent} ({exc.strerror}); "
                                "point TLSLAB_STATE at a writable directory") from None
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def _is_recorded_process(pid: int, cmdline: str | None) -> bool:
    """Alive and still the process we recorded (not a reused pid)."""
    current = _cmdline(pid)
    return current is not None and current == cmdline


def sweep_up_processes(timeout: float = 5.0) -> list[SweepResult]:
    results: list[SweepResult] = []
    for path in sorted(state_dir().glob("up-*.json")):
        try:
            info = json.loads(path.read_text())
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
            continue
        label = f"tlslab up process {pid} ({info.get('scenario', '?')})"
        recorded = info.get("cmdline")
        if pid == os.getpid() or not _is_recorded_process(pid, recorded):
            path.unlink(missing_ok=True)
            results.append(SweepResult(label, "already gone"))
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _is_recorded_process(pid, recorded) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _is_recorded_process(pid, recorded):
            os.kill(pid, signal.SIGKILL)
        path.unlink(missing_ok=True)
        results.append(SweepResult(label, "stopped"))
    return results


NOT_CHECKED = "not checked"  # a SweepResult action: the lab could not look (``tlslab down`` exits 3)


TEMP_KINDS = {  # the lab's temporary directories (lab/tempdirs.py), by name prefix
    "tlslab-nginx-conf-": "nginx config (server keys)",
    "tlslab-nginx-log-": "nginx logs",
    "tlslab-browser-": "browser profiles (NSS keys)",
}


def sweep_temp_dirs() -> list[SweepResult]:
    """The lab's owner-marked temp directories whose owner is gone, and unused certificate material."""
    from lab.pki import STAGING_PREFIX, sweep_certs
    results: list[SweepResult] = []
    roots = dict.fromkeys([lab_temp_root(), Path("/tmp")])  # /tmp: the browser's short temp dir
    for root in roots:
        for prefix, kind in TEMP_KINDS.items():
            for path in sweep_orphans(root, prefix + "*"):
                results.append(SweepResult(f"{kind}: {path}", "removed", path))
    try:
        removed = sweep_certs(default_certs_dir())
    except OSError:
        removed = []
    for path in removed:
        kind = "half-made certificates (keys)" if path.name.startswith(STAGING_PREFIX) \
            else "unused certificate generation"
        results.append(SweepResult(f"{kind}: {path}", "removed", path))
    return results


Sweeper = Callable[[], list[SweepResult]]


def sweep_all(backend_sweepers: Sequence[Sweeper] = ()) -> list[SweepResult]:
    """``tlslab down``: the recorded ``up`` processes first (they remove their own material), then
    what each backend's sweeper finds (see :mod:`lab.backends`), then the temp material a kill -9 left."""
    results = sweep_up_processes()
    for sweeper in backend_sweepers:
        results.extend(sweeper())
    return results + sweep_temp_dirs()
