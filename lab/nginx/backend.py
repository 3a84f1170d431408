"""The nginx backend: real nginx in a real Docker container, configured from the scenario's specs.

Northbound, nginx is the Edge Router and the probes connect to it. Southbound, nginx is the
Message Processor: the app sends it plain HTTP, it proxies over TLS with the gateway's client spec
to the faulty backend, which the Twisted backend serves on 127.0.0.1; a TLS failure reaches the app
as 503 and nginx's own error-log line is the gateway's log.

Networking: the container uses **host networking**. nginx listens on 127.0.0.1 only (the
equivalent of publishing on 127.0.0.1), and reaches the Twisted backend on the host's loopback, so
no traffic ever goes to a bridge's private-range address, and there is no NAT or userland proxy
between a probe and nginx to change what a client sees.

Lifecycle: every container carries the lab's labels (:mod:`lab.nginx.engine`) and is removed when
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
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from lab.nginx.image import resolve_image
from lab.nginx.engine import (HOST_LABEL, DockerNotAnswering, DockerUnavailable, LABEL, PID_LABEL, RUN_LABEL, SCENARIO_LABEL, container_logs, docker_client,
                            owner_labels, unavailable_reason)
from lab.errors import EnvironmentError_, PortInUse, UserInputError
from lab.nginx.config import (CONF_DIR, CONF_FILE, LOG_DIR, NginxConfig, error_lines, render_gateway, render_server, server_limits,
                              stapling_lines)
from lab.nginx.stapling import fetch_staple_file, nginx_will_staple, wait_for_staple
from lab.ocsp import Responder, ResponderPolicy, run_responder
from lab.probes.base import Target
from lab.runstate import NOT_CHECKED, SweepResult
from lab.scenario import Direction
from lab.servers.base import (Deployment, DeployRequest, Endpoint, endpoint_files, loopback, proxy_endpoint,
                              responder_endpoints)
from lab.specs import ClientSpec, RevocationMode, ServerSpec
from lab.tempdirs import make_owned_dir
from lab.twisted.backend import TwistedBackend

READY_TIMEOUT = 20.0  # seconds for a container (or a reload) to serve its configuration
RELOAD_RESEND = 5.0  # seconds after which an unanswered reload is signalled again
POLL = 0.02  # seconds between readiness polls
PORT_ATTEMPTS = 4  # a freshly picked port can be taken by someone else before nginx binds it
STAPLE_WARMUP = 3.0  # seconds nginx gets, per phase, to staple or to log why it does not


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
        self.config_offset = 0  # error.log size when the current configuration was applied
        # What nginx said while loading the configuration it started with: at start-up it logs to stderr
        # (the container's log) until error_log is open, e.g. '"ssl_stapling" ignored, issuer certificate not found'.
        self.startup_log = ""

    def config_log(self) -> str:
        """Everything nginx logged since the current configuration was applied (load-time warnings included)."""
        return self.startup_log + "\n" + self.log_since(self.config_offset)

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


class _Stapling:
    """OCSP for one northbound deployment: the CA's responder, the staple file, and nginx's lazy first fetch.

    nginx fetches a staple on the first handshake that asks for one and sends nothing on that
    handshake, so which probe sees a staple would depend on who connects first. :meth:`warm_up`
    makes it deterministic: when nginx will staple (:func:`lab.ocsp.nginx_will_staple` asks the
    responder the way nginx does), the deployment is ready only once a handshake carries the staple;
    when it will not (blocked, down, revoked, issuer not found), there is nothing to wait for.
    """

    def __init__(self, request: DeployRequest) -> None:
        self.request = request
        self.responder: Responder | None = None
        self.staple_file: bytes | None = None  # ssl_stapling_file content, fetched out of band at deploy
        self.notes: list[str] = []  # the lab's own lines for the server log (prediction, warm-up)

    @classmethod
    def start(cls, request: DeployRequest, stack: contextlib.ExitStack) -> "_Stapling":
        """Start the responder (when the leaf names one) for as long as `stack` lives; fetch the staple file."""
        out = cls(request)
        spec, pki = request.server, request.pki
        if not pki.entry(spec.certificate).ocsp:
            return out
        out.responder = stack.enter_context(run_responder(pki, ResponderPolicy.from_spec(spec)))
        if spec.ocsp_stapling and spec.ocsp_stapling_file:
            der = fetch_staple_file(spec, pki, out.responder)
            if not der:
                raise EnvironmentError_(
                    f"ssl_stapling_file: the lab's OCSP responder ({out.responder.url}) gave no response for "
                    f"{spec.certificate!r}, and nginx does not start with an empty staple file; see what it answers "
                    f"with `tlslab ocsp query {spec.certificate}`")
            out.staple_file = der
            out.notes.append(f"[tlslab] ssl_stapling_file: {len(der)} bytes fetched from {out.responder.url} at deploy")
        return out

    @property
    def responder_url(self) -> str | None:
        """The URL nginx's path reaches (the firewall's blackhole when `blocked`): ssl_stapling_responder."""
        return self.responder.server_url if self.responder else None

    def endpoints(self) -> tuple[Endpoint, ...]:
        return responder_endpoints(self.responder.url if self.responder else None)

    def own_lines(self, lines: list[str]) -> list[str]:
        """nginx's stapling lines of this deployment: a line naming another responder port is an older
        generation's worker finishing its fetch (its responder is gone), not this configuration's."""
        ports = {p.port for p in self.endpoints()} | {urlsplit(self.responder_url or "").port}
        return [ln for ln in lines
                if not (m := re.search(r"peer: [\d.]+:(\d+)", ln)) or int(m.group(1)) in ports]

    def warm_up(self, target: Target, nginx_log: Callable[[], list[str]]) -> None:
        """Let nginx decide, in every phase: trigger its lazy fetch with handshakes that ask for a
        staple, until one carries a staple, nginx logs why it has none (its own stapling line of this
        configuration), or a bounded time passes. The lab never skips the wait on its own prediction;
        the prediction is only a note beside nginx's lines."""
        spec = self.request.server
        if not spec.ocsp_stapling or self.responder is None:
            return
        prediction: list[str] = []
        if not nginx_will_staple(spec, self.request.pki, self.responder, prediction):
            self.notes += [f"[tlslab] the lab's responder says nginx should not staple: "
                           f"{ln.split('[ocsp] ', 1)[-1]}" for ln in prediction]
        started = time.monotonic()
        deadline = started + STAPLE_WARMUP
        while True:
            if wait_for_staple(target.host, target.port, target.servername,
                               deadline_s=min(0.3, max(0.05, deadline - time.monotonic()))):
                self.notes.append(f"[tlslab] warm-up: nginx fetched lazily and stapled after "
                                  f"{time.monotonic() - started:.2f}s")
                return
            said = [ln for ln in nginx_log() if not ln.startswith("[tlslab]")]
            if said:
                self.notes.append(f"[tlslab] warm-up: no staple; nginx logged why after {time.monotonic() - started:.2f}s")
                return
            if time.monotonic() >= deadline:
                self.notes.append(f"[tlslab] warm-up: no staple and no word from nginx within {STAPLE_WARMUP:g}s "
                                  "(nginx's own OCSP fetch timeout is 60 s)")
                return


def gateway_limits(client: ClientSpec) -> str | None:
    """Why nginx as the gateway cannot realise `client` (None when it can): what the app's check cannot see."""
    if client.revocation is not RevocationMode.NONE:
        return (f"nginx as the gateway cannot check revocation as {client.revocation.value!r}: the proxy module has no "
                "OCSP or stapling check of the upstream's certificate (ssl_ocsp covers client certificates only)")
    if client.clock_offset_days:
        return "nginx as the gateway runs on the host's clock: a client clock offset cannot be applied to it"
    return None


class NginxBackend:
    """Real nginx in Docker. ``image``: an image to run instead of the lab's (e.g. an official ``nginx:1.25``).

    ``staple_warmup=False`` skips the wait for nginx's first staple (see :class:`_Stapling`): only the
    tests use it, to show that nginx's first handshake really carries none.
    """

    name = "nginx"

    @staticmethod
    def gateway_limits(client: ClientSpec) -> str | None:
        """The backend's n/a rule for the app's check southbound (the harness and ``show`` ask it)."""
        return gateway_limits(client)

    @staticmethod
    def server_limits(server: ServerSpec, direction: Direction) -> str | None:
        """The backend's n/a rule for a whole scenario: a fault nginx cannot be configured to show."""
        return server_limits(server, direction)

    def __init__(self, image: str | None = None, *, staple_warmup: bool = True) -> None:
        self.image = image or os.environ.get("TLSLAB_NGINX_IMAGE") or None
        self.staple_warmup = staple_warmup
        self.run_id = uuid.uuid4().hex
        self._client: Any = None
        self._image_tag: str | None = None
        self._idle: list[_Instance] = []
        self._lock = threading.Lock()
        self._entered = 0
        self._count = itertools.count(1)

    # -- lifecycle ------------------------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        return unavailable_reason()

    def __enter__(self) -> "NginxBackend":
        """Session mode: containers are kept between deployments and reloaded in place; removed on exit.

        (SIGTERM unwinding through here like Ctrl-C is the CLI's job: it owns the process's signals.)
        """
        self._entered += 1
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._entered -= 1
        if self._entered == 0:
            self.close()

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
        if southbound and request.server.nginx_conf:
            raise UserInputError(f"{request.server.nginx_conf}: your nginx server block plays the TLS server, "
                                 "which nginx is northbound only: use --direction northbound")
        with contextlib.ExitStack() as stack:
            upstream: Deployment | None = None
            ocsp: _Stapling | None = None
            if southbound:
                # The faulty backend: the Twisted backend's TLS server on 127.0.0.1 (with its own responder).
                backend_request = dataclasses.replace(request, direction=Direction.NORTHBOUND, port=request.backend_port)
                upstream = stack.enter_context(TwistedBackend().deploy(backend_request))
            else:
                ocsp = _Stapling.start(request, stack)  # before nginx: its config names the responder's URL
            gw_upstream = upstream
            if upstream is not None and request.gateway_upstream is not None:  # captures: via a recording relay
                gw_upstream = dataclasses.replace(upstream, tls_target=request.gateway_upstream(upstream.tls_target))
            inst, config, front_port = self._bring_up(request, gw_upstream, ocsp)
            stack.callback(self._release, inst)
            offset = inst.log_size()

            def gateway_log() -> list[str]:
                return error_lines(inst.log_since(offset))

            files = endpoint_files(request)
            if upstream is None:
                assert ocsp is not None
                endpoint = Endpoint(role="server", host=request.bind, port=front_port, scheme=request.server.scheme,
                                    servername=request.servername, ca_file=files["ca_file"],
                                    client_cert=files["client_cert"], client_key=files["client_key"])
                target = Target(loopback(request.bind), front_port, request.servername)

                def server_log() -> list[str]:
                    return ocsp.notes + ocsp.own_lines(stapling_lines(inst.config_log()))

                if self.staple_warmup:
                    ocsp.warm_up(target, server_log)
                extra = ocsp.endpoints()
                if request.server.intercepted:  # the lab's intercepting proxy in front of nginx
                    from lab.twisted.mitm import intercepting_proxy

                    target = stack.enter_context(intercepting_proxy(request.pki, target))
                    extra = (proxy_endpoint(target, request), *extra)

                access = inst.log_dir / "access.log"
                access_offset = access.stat().st_size if access.exists() else 0

                def access_log() -> list[str]:
                    try:
                        with access.open("rb") as fh:
                            fh.seek(access_offset)
                            return fh.read().decode("utf-8", "replace").splitlines()
                    except FileNotFoundError:
                        return []

                yield Deployment(tls_target=target, endpoints=(endpoint, *extra), gateway_log=gateway_log,
                                 server_log=server_log, config_text=config.text, access_log=access_log)
                return
            backend_ep = dataclasses.replace(upstream.endpoints[0], role="backend")
            gateway = Endpoint(role="gateway", host=request.bind, port=front_port, scheme="http")
            yield Deployment(tls_target=upstream.tls_target, endpoints=(gateway, backend_ep, *upstream.endpoints[1:]),
                             gateway=gateway, gateway_log=gateway_log, server_log=upstream.server_log,
                             config_text=config.text, gateway_not_applicable=gateway_limits(request.client))

    def _render(self, request: DeployRequest, upstream: Deployment | None, ocsp: "_Stapling | None", port: int,
                control: int, generation: str) -> NginxConfig:
        if upstream is None:
            return render_server(request.scenario.id, request.servername, request.server, port=port,
                                 bind=request.bind, control_port=control, generation=generation,
                                 ocsp_responder=ocsp.responder_url if ocsp else None,
                                 ocsp_staple=ocsp.staple_file if ocsp else None)
        return render_gateway(request.scenario.id, request.servername, request.client, port=port,
                              upstream_port=upstream.tls_target.port, upstream_host=upstream.tls_target.host,
                              bind=request.bind, control_port=control, generation=generation)

    def _bring_up(self, request: DeployRequest, upstream: Deployment | None,
                  ocsp: "_Stapling | None" = None) -> tuple[_Instance, NginxConfig, int]:
        """A container serving this request's configuration: a reloaded idle one, else a new one."""
        with self._lock:
            inst = self._idle.pop() if self._idle else None
        last_error: Exception | None = None
        for _ in range(PORT_ATTEMPTS):
            port = request.port or free_port(loopback(request.bind))
            control = free_port()
            try:
                if inst is None:
                    inst, config = self._start(request, upstream, ocsp, port, control)
                else:
                    config = self._reload(inst, request, upstream, ocsp, port, control)
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

    def _start(self, request: DeployRequest, upstream: Deployment | None, ocsp: "_Stapling | None", port: int,
               control: int) -> tuple[_Instance, NginxConfig]:
        """A new container; removed again (with its directories) if it does not come up."""
        # owner-marked: a kill -9 leaves them (server keys included) for tlslab down to sweep
        inst = _Instance(None, make_owned_dir("tlslab-nginx-conf-"), make_owned_dir("tlslab-nginx-log-"))
        name = f"tlslab-nginx-{self.run_id[:8]}-{next(self._count)}"
        try:
            generation = f"{self.run_id[:8]}-{inst.generation + 1}"
            config = self._render(request, upstream, ocsp, port, control, generation)
            config.write(inst.conf_dir, request.pki)
            inst.config_offset = 0
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
            if ocsp is not None and request.server.ocsp_stapling:
                inst.startup_log = container_logs(inst.container, tail=200)
            return inst, config
        except BaseException:
            if inst.container is None:  # interrupted inside create: the engine may have made it anyway
                with contextlib.suppress(Exception):
                    self.client.containers.get(name).remove(force=True)
            inst.remove()
            raise

    def _reload(self, inst: _Instance, request: DeployRequest, upstream: Deployment | None,
                ocsp: "_Stapling | None", port: int, control: int) -> NginxConfig:
        generation = f"{self.run_id[:8]}-{inst.generation + 1}"
        config = self._render(request, upstream, ocsp, port, control, generation)
        config.write(inst.conf_dir, request.pki)
        offset = inst.config_offset = inst.log_size()  # nginx logs stapling problems it sees while loading
        inst.startup_log = ""
        inst.container.kill(signal="SIGHUP")  # nginx's reload: re-read the config, new workers, old ones drain
        inst.generation += 1
        self._wait_ready(inst, control, generation, offset, starting=False)
        return config

    def _wait_ready(self, inst: _Instance, control: int, generation: str, offset: int, starting: bool) -> None:
        """Until the control endpoint answers `generation`; fail fast on nginx errors, with its logs."""
        deadline = time.monotonic() + READY_TIMEOUT
        resend = time.monotonic() + RELOAD_RESEND
        polls = 0
        while True:
            answer = _get(control)
            if answer is not None and answer.strip() == generation:
                return
            polls += 1
            if not starting and time.monotonic() > resend:
                # a SIGHUP that reached nginx while it was still setting up its signal handlers (a fresh
                # container's first reload, on a loaded machine) is lost: ask again, once; reloading the
                # same configuration twice is harmless
                inst.container.kill(signal="SIGHUP")
                resend = deadline
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

    def _release(self, inst: _Instance) -> None:
        """Park the container for the next deployment (session mode), else remove it."""
        with self._lock:
            keep = self._entered > 0 and not self._idle
            if keep:
                self._idle.append(inst)
        if not keep:
            inst.remove()


class _BindFailedError(Exception):
    """nginx could not bind a port we picked (someone took it in the meantime): pick again."""


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
    client = docker_client(timeout=30, answer_within=3)  # `tlslab down` must not hang on a hung engine
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


def sweep_unless_absent() -> list[SweepResult]:
    """:func:`sweep` for ``tlslab down``: nothing to sweep when no Docker engine is there at all; an
    engine that is there but does not answer is reported (NOT_CHECKED), never taken for "nothing left"."""
    try:
        return sweep()
    except DockerNotAnswering as exc:
        return [SweepResult(f"the lab's containers: {exc}", NOT_CHECKED)]
    except DockerUnavailable:
        return []
