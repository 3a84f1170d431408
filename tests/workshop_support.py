"""Starting ``tlslab workshop`` as a user does (the CLI, a subprocess) and talking to it."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_base(span: int) -> int:
    """A base port whose next `span` ports are free now (other engineers' tests share this machine)."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - span, 10)
        ok = True
        for port in range(base, base + span):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


@dataclass
class Workshop:
    proc: subprocess.Popen[str]
    ready: dict[str, Any]
    state: Path
    base: int

    @property
    def dashboard(self) -> str:
        return str(self.ready["dashboard"])

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.dashboard.rstrip("/") + path, timeout=10) as r:
            return json.loads(r.read())

    def raw(self, path: str) -> bytes:
        with urllib.request.urlopen(self.dashboard.rstrip("/") + path, timeout=10) as r:
            return bytes(r.read())

    def post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(self.dashboard.rstrip("/") + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def instructor(self) -> Any:
        key = self.ready["instructor"].split("key=", 1)[1]
        return self.get(f"/api/instructor?key={key}")


@contextlib.contextmanager
def workshop(tmp: Path, *args: str, state: Path | None = None, base: int | None = None,
             expect_exit: int = 143) -> Iterator[Workshop]:
    """The workshop up with --json; stopped with SIGTERM (exit 143) when the block ends."""
    state = state or tmp / "progress.sqlite"
    base = base or free_base(200)
    env = {**os.environ, "TLSLAB_STATE": str(tmp / "state")}
    proc = subprocess.Popen([sys.executable, "-m", "lab", "workshop", "--json", "--state", str(state),
                             "--base-port", str(base), *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"workshop did not start: {proc.wait(10)} {proc.stderr.read() if proc.stderr else ''}")
        yield Workshop(proc, json.loads(line), state, base)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        assert proc.stdout is not None
        assert proc.stdout.read() == "", "one JSON line only"
    assert code == expect_exit, f"exit {code}"


def curl(command: str, ca_file: str, files: dict[str, str] | None = None, timeout: int = 10) -> subprocess.CompletedProcess[str]:
    """Run a dashboard's curl line as printed, with the CA file (and client files) where they are here."""
    command = command.replace("workshop-ca.pem", ca_file)
    for name, path in (files or {}).items():
        command = command.replace(name, path)
    return subprocess.run(f"{command} -m {timeout} -w '\\n%{{http_code}}'", shell=True, capture_output=True,
                          text=True, timeout=timeout + 5)


def download_client_files(w: Workshop, variant: dict[str, Any], directory: Path) -> dict[str, str]:
    """A 2-way exercise's client files, fetched from the dashboard as a student does."""
    out = {}
    for url in variant["client_files"]:
        label, kind, name = url.split("/")[2:5]
        path = directory / f"{label}-{kind}-{name}"
        path.write_bytes(w.raw(url))
        out[path.name] = str(path)
    return out


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


TOKEN_RE = re.compile(r"/s/([A-Za-z0-9_-]+)")


def giveaways(s) -> list[str]:  # type: ignore[no-untyped-def]
    words = [s.id, s.title, s.fault, s.expect.documented] + [r.name for r in s.resolutions] + [r.summary for r in s.resolutions]
    return [w for w in words if w and len(w) > 3]


def assert_neutral(text: str, scenarios: list) -> None:  # type: ignore[type-arg]
    for s in scenarios:
        for word in giveaways(s):
            assert word.lower() not in text.lower(), f"{word!r} gives {s.id} away"
