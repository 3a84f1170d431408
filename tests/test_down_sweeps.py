"""What a kill leaves, and what ``tlslab down`` sweeps: the lab's owner-marked temp material.

Issue 15 item 5: after ``kill -9`` and ``tlslab down``, ``tlslab-nginx-conf-*`` directories with
server keys (5 of 5), browser profiles with an NSS key database (3 of 3) and ``certs/.staging-*``
directories stayed behind; a terminal Ctrl-C during ``--client all`` left Chromium's own temp
directories (8 of 10) and printed ``Future exception was never retrieved`` after the last line.

Each test gives the lab a private TMPDIR, so other work on the machine cannot confuse it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.probes.browser import BrowserProbe

from clients_support import require_probe
from nginx_support import require_docker, wait_for

TLSLAB = [sys.executable, "-m", "lab"]


@pytest.fixture()
def short_tmp() -> Iterator[Path]:
    """A private TMPDIR short enough for Chromium's socket paths (pytest's tmp_path is too deep)."""
    path = Path(tempfile.mkdtemp(prefix="tl", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env(cli_env: dict[str, str], tmp: Path) -> dict[str, str]:
    return dict(cli_env, TMPDIR=str(tmp))


def _down(env: dict[str, str]) -> list[dict[str, str]]:
    result = subprocess.run([*TLSLAB, "down", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _lab_dirs(env: dict[str, str]) -> list[Path]:
    return sorted(Path(env["TMPDIR"]).glob("tlslab-*"))


def test_down_sweeps_a_killed_browser_run(cli_env: dict[str, str], short_tmp: Path) -> None:
    require_probe(BrowserProbe())
    env = _env(cli_env, short_tmp)
    proc = subprocess.Popen([*TLSLAB, "run", "sni-required", "expired-client-cert", "--client", "browser"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        profile = wait_for("a browser profile with its NSS database",
                           lambda: next(iter(Path(env["TMPDIR"]).glob("tlslab-browser-*/home-*/.pki/nssdb")), None))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert profile.exists(), "kill -9 runs no cleanup: the profile is still there"
    removed = [a for a in _down(env) if a["action"] == "removed"]
    assert any(Path(a["path"]) in profile.parents and "browser profiles" in a["what"] for a in removed), removed
    assert not _lab_dirs(env)


@pytest.mark.slow
def test_down_sweeps_a_killed_nginx_up(cli_env: dict[str, str], short_tmp: Path) -> None:
    require_docker()
    env = _env(cli_env, short_tmp)
    proc = subprocess.Popen([*TLSLAB, "up", "expired-server-cert", "--backend", "nginx", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline(), "no readiness line"
        conf = [p for p in _lab_dirs(env) if p.name.startswith("tlslab-nginx-conf-")]
        assert conf and list(conf[0].glob("certs/*.key")), "the config directory holds the server key"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    actions = _down(env)
    removed = {Path(a["path"]) for a in actions if a.get("path")}
    assert set(conf) <= removed, actions
    assert not _lab_dirs(env)


def test_down_sweeps_abandoned_staging(cli_env: dict[str, str], short_tmp: Path, tmp_path: Path) -> None:
    """A generation interrupted by kill -9 leaves certs/.staging-* with keys; down removes it."""
    env = _env(cli_env, short_tmp)
    env["TLSLAB_CERTS"] = str(tmp_path / "certs")
    subprocess.run([*TLSLAB, "certs"], env=env, capture_output=True, check=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    staging = tmp_path / "certs" / ".staging-killed"
    staging.mkdir()
    (staging / ".tlslab-owner").write_text(json.dumps({"pid": dead.pid, "start": "0"}))
    (staging / "root.key").write_bytes(b"key material")
    actions = _down(env)
    assert any(a.get("path") == str(staging) and "half-made" in a["what"] for a in actions), actions
    assert not staging.exists()
    text = subprocess.run([*TLSLAB, "down"], env=env, capture_output=True, text=True, check=True).stdout
    assert str(staging) not in text and "half-made" not in text  # (other leftovers on a shared machine may be)


def test_live_owners_material_is_left_alone(cli_env: dict[str, str], short_tmp: Path) -> None:
    env = _env(cli_env, short_tmp)
    holder = subprocess.Popen([sys.executable, "-c", "from lab.tempdirs import make_owned_dir; import time; "
                               "print(make_owned_dir('tlslab-browser-'), flush=True); time.sleep(60)"],
                              env=env, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        assert holder.stdout is not None
        path = Path(holder.stdout.readline().strip())
        assert not [a for a in _down(env) if a.get("path") == str(path)]
        assert path.exists()
    finally:
        holder.kill()
        holder.wait()
    assert any(a.get("path") == str(path) for a in _down(env))


def test_terminal_ctrl_c_during_client_all_leaves_nothing(cli_env: dict[str, str], short_tmp: Path) -> None:
    """SIGINT to the whole process group, as a terminal sends it, while Chromium is running."""
    require_probe(BrowserProbe())
    env = _env(cli_env, short_tmp)
    proc = subprocess.Popen([*TLSLAB, "run", "--all", "--client", "all"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for("Chromium's own temp files",
                 lambda: any(Path(env["TMPDIR"]).rglob("org.chromium.Chromium.*")), timeout=60)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert stderr.rstrip().splitlines()[-1] == "interrupted; nothing left running.", stderr[-2000:]
    time.sleep(0.5)  # anything a dying child would still write
    assert not list(Path(env["TMPDIR"]).iterdir()), list(Path(env["TMPDIR"]).rglob("*"))[:20]


def test_browser_runs_under_a_deep_tmpdir(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Chromium's temp files move under the lab's directory, but never past its socket-path limit."""
    require_probe(BrowserProbe())
    deep = tmp_path / ("d" * 40)
    deep.mkdir()
    result = subprocess.run([*TLSLAB, "run", "sni-required", "--client", "browser"], env=_env(cli_env, deep),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not list(deep.iterdir())
