"""Figures for the nginx backend: image build (cold and cached), `tlslab run --all --backend nginx`
wall time with the four default probes, and containers left after a run, a Ctrl-C mid-run, and a
kill -9 followed by `tlslab down`.

    python benchmarks/bench_nginx.py            # from the checkout; needs Docker and nginx-light

Cold build removes the lab's own images (label tlslab=1) first; nothing else is touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lab.nginx.image import build_image, remove_lab_images  # noqa: E402
from lab.nginx.engine import LABEL, docker_client  # noqa: E402

CLI = [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
       "from lab.cli import main; sys.argv[0] = 'tlslab'; main()"]


def lab_container_count() -> int:
    return len(docker_client().containers.list(all=True, filters={"label": f"{LABEL}=1"}, ignore_removed=True))


def tlslab(*args: str, env: dict[str, str], **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([*CLI, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600, **kw)


def wait_for_container(pid: int, timeout: float = 60) -> None:
    client = docker_client()
    deadline = time.monotonic() + timeout
    while not client.containers.list(all=True, filters={"label": f"tlslab.pid={pid}"}, ignore_removed=True):
        if time.monotonic() > deadline:
            raise SystemExit("no container appeared")
        time.sleep(0.02)


def main() -> int:
    client = docker_client()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TLSLAB_CERTS": os.environ.get("TLSLAB_CERTS") or
           str(Path(tempfile.gettempdir()) / "tlslab-bench-certs"), "TLSLAB_STATE": tempfile.mkdtemp()}
    tlslab("certs", env=env)  # the PKI is not part of the figures

    removed = remove_lab_images(client)
    cold = build_image(client, force=True)
    cached = build_image(client)
    print(f"image build, cold (after removing {len(removed)} lab image tags, no cache): {cold.seconds:.2f} s  [{cold.tag}]")
    print(f"image build, cached:                                                  {cached.seconds:.3f} s")

    started = time.monotonic()
    run = tlslab("run", "--all", "--backend", "nginx", env=env)
    wall = time.monotonic() - started
    summary = next((ln for ln in run.stdout.splitlines() if ln.startswith(("PASS", "FAIL"))), run.stdout[-300:])
    print(f"tlslab run --all --backend nginx (4 default probes, image built): {wall:.2f} s wall, exit {run.returncode}: {summary}")
    print(f"lab containers after the run:                  {lab_container_count()}")

    proc = subprocess.Popen([*CLI, "run", "--all", "--backend", "nginx"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_container(proc.pid)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    print(f"lab containers after Ctrl-C mid-run (exit {proc.returncode}):  {lab_container_count()}")

    proc = subprocess.Popen([*CLI, "run", "--all", "--backend", "nginx"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_container(proc.pid)
    proc.kill()
    proc.wait(timeout=60)
    left = lab_container_count()
    down = tlslab("down", env=env)
    print(f"lab containers after kill -9: {left}; after tlslab down (exit {down.returncode}): {lab_container_count()}")
    return 0 if run.returncode == 0 and lab_container_count() == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
