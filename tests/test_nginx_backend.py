"""Every APIGEE scenario with real nginx in real Docker containers, and the containers' lifecycle.

Negative controls throughout: with the fault every probe (and, southbound, the app through the
nginx gateway) must show the documented symptom as nginx produces it; after each resolution,
applied by reloading the same container, every client must succeed. The lifecycle tests kill
processes the hard way (kill -9, SIGINT mid-run) and check no container is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lab.nginx.engine import PID_LABEL, docker_client
from lab.errors import LabError
from lab.harness import APP, Harness
from lab.pki import Pki
from lab.probes import DEFAULT_PROBES, make_probes
from lab.scenario import Catalog, Direction
from lab.backends import make_backend
from lab.servers.base import DeployRequest
from lab.nginx.backend import NginxBackend, lab_containers, sweep
from lab.symptoms import Kind, Symptom, normalise

from conftest import APIGEE_IDS, explain, REPO
from nginx_support import require_docker, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend(nginx_backend: NginxBackend) -> NginxBackend:
    """The module's nginx backend (one container, reloaded per phase)."""
    return nginx_backend


HARNESS_BACKEND = "nginx"  # the conftest harness: this module's nginx container, the default probes


@pytest.mark.parametrize("scenario_id", APIGEE_IDS)
def test_documented_direction_on_nginx(harness: Harness, catalog: Catalog, scenario_id: str) -> None:
    scenario = catalog.get(scenario_id)
    result = harness.run_scenario(scenario)
    assert result.passed, explain(result)
    fault, *fixes = result.phases
    assert len(fixes) == len(scenario.resolutions)
    assert fault.config_text and "nginx" in fault.config_text
    assert all(not c.outcome.ok for c in fault.checks if c.outcome), "a fault phase must fail for every client"
    assert all(c.outcome and c.outcome.ok for fix in fixes for c in fix.checks)
    clients = {c.client for c in fault.checks}
    assert set(DEFAULT_PROBES) <= clients
    if scenario.direction is Direction.SOUTHBOUND:
        app = next(c for c in fault.checks if c.client == APP)
        assert app.outcome and app.outcome.http_status == 503
        assert app.outcome.upstream_raw and "to upstream" in app.outcome.upstream_raw  # nginx's own log line


def test_southbound_503_carries_nginx_error_log_line(harness: Harness, catalog: Catalog) -> None:
    result = harness.run_scenario(catalog.get("sni-required"))
    fault, fix = result.phases
    app = next(c for c in fault.checks if c.client == APP)
    assert app.outcome is not None and app.outcome.raw.startswith("HTTP/1.1 503")
    line = app.outcome.upstream_raw or ""
    assert "[error]" in line or "[crit]" in line
    assert "SSL_do_handshake() failed" in line and "while SSL handshaking to upstream" in line
    assert normalise(line) == Symptom(Kind.ALERT, "handshake_failure")
    assert "proxy_ssl_server_name off;" in (fault.config_text or "")
    assert "proxy_ssl_server_name on;" in (fix.config_text or "")


def test_northbound_tls10_router_and_nginx_specific_symptoms(harness: Harness, catalog: Catalog) -> None:
    """nginx as a TLSv1.0 server (OpenSSL 3, @SECLEVEL=0), and its real answers recorded in the scenario files."""
    result = harness.run_scenario(catalog.get("protocol-mismatch"), Direction.NORTHBOUND)
    assert result.passed, explain(result)
    forced = next(p for p in result.phases if p.resolution == "gateway-force-tls10")
    assert "ssl_protocols TLSv1;" in (forced.config_text or "") and "@SECLEVEL=0" in (forced.config_text or "")
    sni = harness.run_scenario(catalog.get("sni-required"), Direction.NORTHBOUND)
    assert sni.passed, explain(sni)
    assert {str(c.outcome.symptom) for c in sni.phases[0].checks if c.outcome} == {"alert:unrecognized_name"}


def test_phases_reload_one_container_in_place(backend: NginxBackend, catalog: Catalog, pki: Pki) -> None:
    scenario = catalog.get("expired-server-cert")
    request = DeployRequest(scenario, scenario.server, scenario.client, scenario.direction, pki)
    with backend.deploy(request) as first:
        ids_first = {c.id for c in lab_containers(backend.run_id)}
        port_first = first.tls_target.port
    fixed, client = scenario.specs(scenario.resolutions[0])
    with backend.deploy(DeployRequest(scenario, fixed, client, scenario.direction, pki)) as second:
        ids_second = {c.id for c in lab_containers(backend.run_id)}
        assert second.tls_target.port != port_first  # a fresh port per generation: no stale worker can answer
    assert len(ids_first) == 1 and ids_first == ids_second


def test_compose_export_reproduces_and_fixes_failure(catalog: Catalog, pki: Pki, tmp_path: Path) -> None:
    """A real `docker compose up` (v2) or `docker-compose up` (v1) of an exported southbound project."""
    require_docker()
    from lab.nginx.export import compose_command, export_compose
    from lab.nginx.image import build_image
    from lab.nginx.backend import free_port
    runner = compose_command()
    if runner is None:
        from nginx_support import skip_or_fail
        skip_or_fail("no compose tool: apt-get install docker-compose (or the docker compose v2 plugin)")
    assert runner is not None
    tag = build_image(docker_client()).tag
    tls_port, gw_port = free_port(), free_port()
    out = tmp_path / "project"
    export_compose(catalog.get("sni-required"), out, pki, image=tag, tls_port=tls_port, gateway_port=gw_port)
    project = f"tlslabtest{os.getpid()}"
    compose = [*runner, "-p", project, "-f", str(out / "docker-compose.yml")]

    def get() -> tuple[int, str] | None:
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", gw_port, timeout=5)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        except OSError:
            return None
        finally:
            conn.close()

    try:
        subprocess.run([*compose, "up", "-d"], check=True, capture_output=True, timeout=120, cwd=out)
        status, _ = wait_for("the exported gateway to answer", get)
        assert status == 503
        log = out / "logs" / "gateway" / "error.log"
        lines = wait_for("the gateway's error line", lambda: [ln for ln in log.read_text().splitlines()
                                                             if "to upstream" in ln] if log.exists() else None)
        # nginx as the SNI-only backend rejects with unrecognized_name (Twisted, in the lab, with handshake_failure)
        assert normalise(lines[-1]) == Symptom(Kind.ALERT, "unrecognized_name"), lines[-1]
        # the documented fix, as README.txt tells a person to apply it
        subprocess.run(["cp", "-r", "resolutions/gateway-enable-sni/gateway/.", "gateway/"], check=True, cwd=out)
        subprocess.run([*compose, "kill", "-s", "SIGHUP", "gateway"], check=True, capture_output=True, timeout=60,
                       cwd=out)
        wait_for("the gateway to answer 200 after the fix", lambda: (r := get()) is not None and r[0] == 200)
    finally:
        subprocess.run([*compose, "down", "--timeout", "1"], capture_output=True, timeout=120, cwd=out)
    leftovers = docker_client().containers.list(all=True, filters={"label": "com.docker.compose.project=" + project}, ignore_removed=True)
    assert not leftovers


_DEPLOY_AND_HANG = """
import json, sys, threading
from pathlib import Path
from lab.pki import Pki
from lab.scenario import Catalog
from lab.servers.base import DeployRequest
from lab.nginx.backend import NginxBackend
pki = Pki.ensure(Path(sys.argv[1]))
scenario = Catalog.load().get("expired-server-cert")
backend = NginxBackend()
with backend.deploy(DeployRequest(scenario, scenario.server, scenario.client, scenario.direction, pki)) as d:
    print(json.dumps({"run": backend.run_id, "port": d.tls_target.port}), flush=True)
    threading.Event().wait()
"""


def test_tlslab_down_removes_container_of_killed_process(certs_dir: Path, pki: Pki,
                                                        cli_env: dict[str, str]) -> None:
    require_docker()
    proc = subprocess.Popen([sys.executable, "-c", _DEPLOY_AND_HANG, str(certs_dir)], cwd=REPO,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    line = b""
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the deploying process died before it was ready"
        run_id = json.loads(line)["run"]
        (container,) = lab_containers(run_id)
        assert any(r.action.startswith("kept") for r in sweep() if container.name in r.what), \
            "a live run's container is not a leftover"
        proc.kill()  # kill -9: no finally runs, the container stays
        proc.wait(timeout=30)
        assert len(lab_containers(run_id)) == 1
        down = subprocess.run([sys.executable, "-m", "lab", "down", "--json"], cwd=REPO, capture_output=True,
                              text=True, timeout=120, env={**cli_env, "PYTHONPATH": str(REPO)})
        assert down.returncode == 0, down.stderr
        assert {"what": f"container {container.name} (expired-server-cert)", "action": "removed"} in json.loads(down.stdout)
        assert not lab_containers(run_id)
    finally:
        if proc.poll() is None:
            proc.kill()
        if line:
            sweep(json.loads(line)["run"])


_RUN_WITH_CTRL_C = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job may start with SIGINT ignored
from lab.cli import main
sys.argv = ["tlslab", "run", "--all", "--backend", "nginx"]
main()
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_no_container(certs_dir: Path, pki: Pki, signum: int) -> None:
    require_docker()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TLSLAB_CERTS": str(certs_dir)}
    proc = subprocess.Popen([sys.executable, "-c", _RUN_WITH_CTRL_C], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = docker_client()

    def mine() -> list:  # type: ignore[type-arg]
        return client.containers.list(all=True, filters={"label": f"{PID_LABEL}={proc.pid}"}, ignore_removed=True)

    try:
        wait_for("the run's nginx container", mine, timeout=60, interval=0.02)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode != 0, "the run was interrupted, it must not report success"
        assert not mine(), f"container left after {signal.Signals(signum).name}: {stderr.decode()[-500:]}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for c in mine():
            with contextlib.suppress(Exception):
                c.remove(force=True)


def test_docker_unavailable_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch, catalog: Catalog,
                                                 pki: Pki) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/tlslab-docker.sock")
    reason = NginxBackend().unavailable_reason()
    assert reason and "systemctl start docker" in reason and "dockerd" in reason
    assert "/nonexistent/tlslab-docker.sock" in reason
    harness = Harness(make_backend("nginx"), make_probes(["python-ssl"]), pki)
    with pytest.raises(LabError, match="start it with"):
        harness.run([catalog.get("expired-server-cert")])
    # the Twisted backend does not need Docker
    report = Harness(make_backend("twisted"), make_probes(["python-ssl"]), pki).run([catalog.get("expired-server-cert")])
    assert report.passed


def test_image_option_runs_another_local_image(catalog: Catalog, pki: Pki) -> None:
    """--image: any local nginx image runs the same configuration (here the lab's, under another name)."""
    require_docker()
    from lab.nginx.image import build_image
    client = docker_client()
    alias = f"tlslab-test/nginx-alias:{os.getpid()}"
    client.images.get(build_image(client).tag).tag(alias)
    try:
        report = Harness(make_backend("nginx", alias), make_probes(["python-ssl"]), pki).run(
            [catalog.get("hostname-mismatch")])
        assert report.passed
    finally:
        client.images.remove(alias)  # removes the alias tag only: the lab image stays


def test_image_option_names_what_to_do_when_missing(catalog: Catalog, pki: Pki) -> None:
    require_docker()
    harness = Harness(make_backend("nginx", "nginx:0.0-not-here"), make_probes(["python-ssl"]), pki)
    result = harness.run([catalog.get("hostname-mismatch")]).results[0]
    assert result.error and "docker pull nginx:0.0-not-here" in result.error and "tlslab image build" in result.error
    with pytest.raises(LabError, match="--backend nginx only"):
        make_backend("twisted", "nginx:1.25")
