"""The nginx backend: real nginx in a real Docker container, configured from the scenario's specs.

Northbound, nginx is the Edge Router and the probes connect to it. Southbound, nginx is the
Message Processor: the app sends it plain HTTP, it proxies over TLS with the gateway's client spec
to the faulty backend, which the Twisted backend serves on 127.0.0.1; a TLS failure reaches the app
as 503 and nginx's own error-log line is the gateway's log.

Networking: the container uses **host networking**. nginx listens on 127.0.0.1 only (the
equivalent of publishing on 127.0.0.1), and reaches the Twisted backend on the host's loopback, so
no traffic ever goes to a bridge's private-range address, and there is no NAT or userland proxy
between a probe and nginx to change what a client sees.

Lifecycle: every container carries the lab's labels (:mod:`lab.dockerutil`) and is removed when
its context exits, on errors and on Ctrl-C alike; ``sweep()`` (``tlslab down``) removes what a
killed process left behind. Used as a context manager (the harness does), the backend keeps one
container for the whole run and applies each phase by rewriting the config and sending SIGHUP
(nginx's reload), which is faster than starting a container per phase. Readiness is observed,
never slept for: each configuration generation listens on fresh ports, with a control endpoint
that answers the generation id; workers of an older generation never had those sockets, so an
answer proves the new configuration is the one serving.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import itertools
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.docker_image import resolve_image
from lab.dockerutil import (HOST_LABEL, LABEL, PID_LABEL, RUN_LABEL, SCENARIO_LABEL, container_logs, docker_client,
                            owner_labels, unavailable_reason)
from lab.errors import EnvironmentError_, PortInUse
from lab.nginx_config import CONF_DIR, CONF_FILE, LOG_DIR, NginxConfig, error_lines, render_gateway, render_server
from lab.probes.base import Target
from lab.runstate import SweepResult
from lab.scenario import Direction
from lab.servers.base import Deployment, DeployRequest, Endpoint, endpoint_files
from lab.servers.twisted_backend import TwistedBackend

READY_TIMEOUT = 20.0  # seconds for a container (or a reload) to serve its configuration
POLL = 0.02  # seconds between readiness polls
PORT_ATTEMPTS = 4  # a freshly picked port can be taken by someone else before nginx binds it


class NginxStartError(EnvironmentError_):
    """nginx did not come up (or did not take a new configuration); the message carries its logs."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` right now (bind 0, read it, close); callers retry if it is taken before use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _Instance:
    """One running nginx container and the host directories it mounts (mutable: its generation moves on)."""

    def __init__(self, container: Any, conf_dir: Path, log_dir: Path) -> None:
        self.container = container
        self.conf_dir = conf_dir
        self.log_dir = log_dir
        self.generation = 0

    @property
    def error_log(self) -> Path:
        return self.log_dir / "error.log"

    def log_size(self) -> int:
        try:
            return self.error_log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with self.error_log.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def remove(self) -> None:
        with contextlib.suppress(Exception):  # already gone (e.g. swept) is fine: the goal is "not there"
            self.container.remove(force=True)
        shutil.rmtree(self.conf_dir, ignore_errors=True)
        shutil.rmtree(self.log_dir, ignore_errors=True)


class NginxBackend:
    """Real nginx in Docker. ``image``: an image to run instead of the lab's (e.g. an official ``nginx:1.25``)."""

    name = "nginx"

    def __init__(self, image: str | None = None) -> None:
        self.image = image or os.environ.get("TLSLAB_NGINX_IMAGE") or None
        self.run_id = uuid.uuid4().hex
        self._client: Any = None
        self._image_tag: str | None = None
        self._idle: list[_Instance] = []
        self._lock = threading.Lock()
        self._entered = 0
        self._previous_sigterm: Any = None
        self._count = itertools.count(1)

    # -- lifecycle ------------------------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        return unavailable_reason()

    def __enter__(self) -> "NginxBackend":
        """Session mode: containers are kept between deployments and reloaded in place; removed on exit."""
        self._entered += 1
        if self._entered == 1 and threading.current_thread() is threading.main_thread():
            # SIGTERM must unwind through the context managers, as Ctrl-C does, so nothing is left running.
            def on_term(signum: int, frame: Any) -> None:
                raise KeyboardInterrupt

            self._previous_sigterm = signal.signal(signal.SIGTERM, on_term)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._entered -= 1
        if self._entered == 0:
            self.close()
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
                self._previous_sigterm = None

    def close(self) -> None:
        """Remove the parked container (one in use is removed when its deployment's context exits)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for inst in idle:
            inst.remove()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def image_tag(self) -> str:
        if self._image_tag is None:
            self._image_tag = resolve_image(self.client, self.image)
        return self._image_tag

    # -- deploy ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def deploy(self, request: DeployRequest) -> Iterator[Deployment]:
        southbound = request.direction is Direction.SOUTHBOUND
        with contextlib.ExitStack() as stack:
            upstream: Deployment | None = None
            if southbound:
                # The faulty backend: the Twisted backend's TLS server on 127.0.0.1.
                backend_request = dataclasses.replace(request, direction=Direction.NORTHBOUND, port=0)
                upstream = stack.enter_context(TwistedBackend().deploy(backend_request))
            inst, config, front_port = self._bring_up(request, upstream)
            stack.callback(self._release, inst)
            offset = inst.log_size()

            def gateway_log() -> list[str]:
                return error_lines(inst.log_since(offset))

            files = endpoint_files(request)
            if upstream is None:
                endpoint = Endpoint(role="server", host=request.bind, port=front_port, scheme="https",
                                    servername=request.servername, ca_file=files["ca_file"],
                                    client_cert=files["client_cert"], client_key=files["client_key"])
                target = Target(_loopback(request.bind), front_port, request.servername)
                yield Deployment(tls_target=target, endpoints=(endpoint,), gateway_log=gateway_log,
                                 config_text=config.text)
                return
            backend_ep = dataclasses.replace(upstream.endpoints[0], role="backend")
            gateway = Endpoint(role="gateway", host=request.bind, port=front_port, scheme="http")
            yield Deployment(tls_target=upstream.tls_target, endpoints=(gateway, backend_ep), gateway=gateway,
                             gateway_log=gateway_log, config_text=config.text)

    def _render(self, request: DeployRequest, upstream: Deployment | None, port: int, control: int,
                generation: str) -> NginxConfig:
        if upstream is None:
            return render_server(request.scenario.id, request.servername, request.server, port=port,
                                 bind=request.bind, control_port=control, generation=generation)
        return render_gateway(request.scenario.id, request.servername, request.client, port=port,
                              upstream_port=upstream.tls_target.port, upstream_host=upstream.tls_target.host,
                              bind=request.bind, control_port=control, generation=generation)

    def _bring_up(self, request: DeployRequest, upstream: Deployment | None) -> tuple[_Instance, NginxConfig, int]:
        """A container serving this request's configuration: a reloaded idle one, else a new one."""
        with self._lock:
            inst = self._idle.pop() if self._idle else None
        last_error: Exception | None = None
        for _ in range(PORT_ATTEMPTS):
            port = request.port or free_port(_loopback(request.bind))
            control = free_port()
            try:
                if inst is None:
                    inst, config = self._start(request, upstream, port, control)
                else:
                    config = self._reload(inst, request, upstream, port, control)
            except _BindFailedError as exc:  # the picked port was taken before nginx bound it
                last_error = exc
                if request.port:
                    if inst is not None:
                        inst.remove()
                    raise PortInUse(request.bind, request.port) from None
                continue
            except BaseException:
                if inst is not None:
                    inst.remove()
                raise
            return inst, config, port
        if inst is not None:
            inst.remove()
        raise NginxStartError(f"nginx could not bind a free port after {PORT_ATTEMPTS} attempts: {last_error}")

    def _start(self, request: DeployRequest, upstream: Deployment | None, port: int,
               control: int) -> tuple[_Instance, NginxConfig]:
        """A new container; removed again (with its directories) if it does not come up."""
        inst = _Instance(None, Path(tempfile.mkdtemp(prefix="tlslab-nginx-conf-")),
                         Path(tempfile.mkdtemp(prefix="tlslab-nginx-log-")))
        name = f"tlslab-nginx-{self.run_id[:8]}-{next(self._count)}"
        try:
            generation = f"{self.run_id[:8]}-{inst.generation + 1}"
            config = self._render(request, upstream, port, control, generation)
            config.write(inst.conf_dir, request.pki)
            role = "gateway" if upstream is not None else "router"
            # create, then start: a Ctrl-C during start still finds the container to remove
            inst.container = self.client.containers.create(
                self.image_tag(), entrypoint=["/usr/sbin/nginx"], command=["-c", CONF_FILE, "-g", "daemon off;"],
                network_mode="host", labels=owner_labels(self.run_id, request.scenario.id, role),
                name=name, stop_signal="SIGQUIT",
                volumes={str(inst.conf_dir): {"bind": CONF_DIR, "mode": "ro"},
                         str(inst.log_dir): {"bind": LOG_DIR, "mode": "rw"}},
            )
            inst.container.start()
            inst.generation += 1
            self._wait_ready(inst, control, generation, 0, starting=True)
            return inst, config
        except BaseException:
            if inst.container is None:  # interrupted inside create: the engine may have made it anyway
                with contextlib.suppress(Exception):
                    self.client.containers.get(name).remove(force=True)
            inst.remove()
            raise

    def _reload(self, inst: _Instance, request: DeployRequest, upstream: Deployment | None, port: int,
                control: int) -> NginxConfig:
        generation = f"{self.run_id[:8]}-{inst.generation + 1}"
        config = self._render(request, upstream, port, control, generation)
        config.write(inst.conf_dir, request.pki)
        offset = inst.log_size()
        inst.container.kill(signal="SIGHUP")  # nginx's reload: re-read the config, new workers, old ones drain
        inst.generation += 1
        self._wait_ready(inst, control, generation, offset, starting=False)
        return config

    def _wait_ready(self, inst: _Instance, control: int, generation: str, offset: int, starting: bool) -> None:
        """Until the control endpoint answers `generation`; fail fast on nginx errors, with its logs."""
        deadline = time.monotonic() + READY_TIMEOUT
        polls = 0
        while True:
            answer = _get(control)
            if answer is not None and answer.strip() == generation:
                return
            polls += 1
            new_log = inst.log_since(offset)
            emerg = [ln for ln in new_log.splitlines() if "[emerg]" in ln]
            exited = False
            if starting and polls % 10 == 0:
                inst.container.reload()
                exited = inst.container.status in ("exited", "dead")
            if emerg or exited:
                text = "\n".join(emerg) or container_logs(inst.container)
                if "Address already in use" in text:
                    raise _BindFailedError(text)
                what = "start" if starting else "take the new configuration (reload)"
                raise NginxStartError(f"nginx in container {inst.container.name} did not {what}:\n{text}\n"
                                      f"container logs:\n{container_logs(inst.container)}")
            if time.monotonic() > deadline:
                raise NginxStartError(
                    f"nginx in container {inst.container.name} was not ready within {READY_TIMEOUT:g}s "
                    f"(control port {control} never answered generation {generation}).\n"
                    f"error log:\n{new_log.strip() or '(empty)'}\ncontainer logs:\n{container_logs(inst.container)}")
            time.sleep(POLL)  # a poll interval inside a deadline-bounded readiness wait, not a fixed delay

    def _release(self, inst: _Instance, healthy: bool = True) -> None:
        """Park the container for the next deployment (session mode), else remove it."""
        with self._lock:
            keep = healthy and self._entered > 0 and not self._idle
            if keep:
                self._idle.append(inst)
        if not keep:
            inst.remove()


class _BindFailedError(Exception):
    """nginx could not bind a port we picked (someone took it in the meantime): pick again."""


def _loopback(bind: str) -> str:
    return "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind


def _get(port: int) -> str | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/tlslab/generation")
        resp = conn.getresponse()
        return resp.read().decode("ascii", "replace") if resp.status == 200 else None
    except OSError:
        return None
    finally:
        conn.close()


def _owner_alive(labels: dict[str, str]) -> int | None:
    """The owning process's pid if it is still running on this host (its containers are not leftovers)."""
    pid = labels.get(PID_LABEL, "")
    if labels.get(HOST_LABEL) != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return int(pid)
    return int(pid)


def sweep(run_id: str | None = None) -> list[SweepResult]:
    """Remove leftovers: the lab's containers whose owning process is gone (``tlslab down`` after a kill -9).

    With `run_id`, that run's containers whatever their owner's state. Containers of a run still in
    progress on this host are kept (its own exit removes them); exported compose projects, which have
    no owning process, are removed too.
    """
    from docker.errors import NotFound
    client = docker_client(timeout=30)
    filters = [f"{LABEL}=1"] + ([f"{RUN_LABEL}={run_id}"] if run_id else [])
    results = []
    for container in client.containers.list(all=True, filters={"label": filters}, ignore_removed=True):
        name = container.name
        what = f"container {name} ({container.labels.get(SCENARIO_LABEL) or container.labels.get('tlslab.export', '?')})"
        owner = None if run_id else _owner_alive(container.labels)
        if owner is not None:
            results.append(SweepResult(what, f"kept: its run (process {owner}) is still going"))
            continue
        try:
            container.remove(force=True)
            results.append(SweepResult(what, "removed"))
        except NotFound:
            results.append(SweepResult(what, "already gone"))
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            results.append(SweepResult(what, f"could not remove: {exc}"))
    return results


def lab_containers(run_id: str | None = None) -> list[Any]:
    """The lab's containers that exist now (for tests and the benchmark's leftover count)."""
    filters = [f"{LABEL}=1"] + ([f"{RUN_LABEL}={run_id}"] if run_id else [])
    return list(docker_client(timeout=30).containers.list(all=True, filters={"label": filters}, ignore_removed=True))
