"""The room: every exercise's servers up at once, the recorder, the progress file, the answers.

:func:`open_room` is the one context manager ``tlslab workshop`` (and the tests) hold open:
certificates for the room's names, every variant deployed through the chosen backend on its
planned port, a tap on each (Twisted), the dashboard; leaving it stops everything it started.
What a student may see is built here (:meth:`Room.student_view`) from neutral data only: the
exercise label, endpoints, commands, ladders, their own progress; the cause never, until solved.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.backends import make_backend
from lab.errors import PortInUse, UserInputError
from lab.harness import deployed
from lab.scenario import Catalog, Direction, Scenario
from lab.servers.base import Deployment, DeployRequest, Endpoint, local_host, url_host
from lab.paths import state_dir
from lab.workshop import commands as cmd
from lab.workshop import dashboard, handout
from lab.workshop.grading import as_json as grade_json
from lab.workshop.grading import causes, grade
from lab.workshop.pki import Room as Names
from lab.workshop.pki import WorkshopPki, host_name
from lab.workshop.plan import Exercise, Variant, plan, plan_hint
from lab.workshop.recorder import Recorder
from lab.workshop.state import State, clean_name

CLIENT_CERT, CLIENT_KEY = "client.pem", "client.key"  # neutral download names of a 2-way exercise's files


@dataclass(frozen=True)
class Options:
    """What the instructor chose (the command's flags)."""

    scenarios: tuple[str, ...] = ()  # empty: every scenario of the catalogue
    names: tuple[str, ...] = ()
    bind: str = "127.0.0.1"
    base_port: int = 8400
    fixed: bool = False
    backend: str = "twisted"
    state: Path | None = None
    directory: Path | None = None  # certificates and handout (default: beside the state file)
    scenarios_dir: Path | None = None


@dataclass(frozen=True)
class Live:
    """One deployed variant."""

    exercise: Exercise
    variant: Variant
    deployment: Deployment
    request: DeployRequest


@dataclass
class Room:
    """The running room (state, not data: its live deployments fill in as they come up)."""

    options: Options
    catalog: Catalog
    names: Names
    pki: WorkshopPki
    state: State
    key: str
    exercises: tuple[Exercise, ...]
    recorder: Recorder
    live: dict[tuple[str, str], Live] = field(default_factory=dict)
    dashboard_url: str = ""

    # -- addresses ------------------------------------------------------------------------
    @property
    def public_host(self) -> str:
        """The address students connect to: the bound one, else the first named address, else loopback."""
        bind = self.options.bind
        if bind not in ("0.0.0.0", "::", ""):
            return local_host(bind)
        others = [ip for ip in self.names.ips if ip not in ("127.0.0.1", "::1")]
        return others[0] if others else local_host(bind)

    def endpoints(self, live: Live) -> list[dict[str, Any]]:
        out = []
        for e in live.deployment.endpoints:
            if e.role == "ocsp-responder":
                continue  # the CA's responder is the server's business (a random loopback port)
            host = self.public_host
            name = e.servername
            url = f"{e.scheme}://{url_host(name or host)}:{e.port}/"
            out.append({"role": e.role, "host": host, "port": e.port, "url": url, "servername": name,
                        "scheme": e.scheme})
        return out

    def _tls(self, live: Live) -> Endpoint:
        return next(e for e in live.deployment.endpoints if e.scheme == "https")

    def _client_files(self, live: Live, local: bool) -> tuple[str, str] | None:
        if not live.request.scenario.two_way or not live.variant.client.certificate:
            return None
        if local:
            tls = self._tls(live)
            return (str(tls.client_cert), str(tls.client_key))
        return (f"{live.exercise.label}-{live.variant.kind}-{CLIENT_CERT}",
                f"{live.exercise.label}-{live.variant.kind}-{CLIENT_KEY}")

    def client_file(self, label: str, kind: str, which: str) -> Path | None:
        """A 2-way exercise's client certificate or key, for download (None: no such file)."""
        live = self.live.get((label, kind))
        files = self._client_files(live, True) if live else None
        if not files:
            return None
        return Path(files[0] if which == CLIENT_CERT else files[1])

    def try_commands(self, live: Live, token: str | None = None, ca_file: str = "workshop-ca.pem") -> list[str]:
        files = self._client_files(live, False)
        path = f"/s/{token}" if token and live.variant.kind == "fixed" else "/"
        lines: list[str] = []
        # first where a client meets the fault: the gateway southbound (the app's view), else the TLS
        # server, or the intercepting proxy in front of it
        gateway = live.deployment.gateway
        meets = gateway.port if gateway is not None else live.deployment.tls_target.port
        for e in sorted(live.deployment.endpoints, key=lambda e: e.port != meets):
            if e.role == "ocsp-responder":
                continue
            # the scheme the scenario's client speaks to its server (tls-to-plain-port: TLS to a plain port)
            scheme = live.variant.client.scheme if e.role in ("server", "backend", "proxy") else e.scheme
            where = cmd.Where(scheme, self.public_host, e.port, e.servername, path if scheme == "https" else "/")
            spec = live.variant.client if scheme == "https" else None
            lines.append(cmd.curl(where, spec, ca_file, files))
            line = cmd.openssl(where, spec, ca_file, files)
            if line:
                lines.append(line)
        return lines

    # -- views -----------------------------------------------------------------------------
    def ready_json(self) -> dict[str, Any]:
        """The one readiness line of ``tlslab workshop --json``: neutral names only."""
        return {"dashboard": self.dashboard_url, "instructor": f"{self.dashboard_url}instructor?key={self.key}",
                "ca_file": str(self.pki.ca_file), "handout": [str(self.pki.directory / "handout.html"),
                                                            str(self.pki.directory / "handout.txt")],
                "state": str(self.state.path), "backend": self.options.backend,
                "bind": self.options.bind, "names": list(self.names.dns), "addresses": list(self.names.ips),
                "exercises": [{"name": ex.label, "direction": ex.direction.value, "variants": [
                    {"variant": v.kind, "endpoints": self.endpoints(self.live[(ex.label, v.kind)])}
                    for v in ex.variants]} for ex in self.exercises]}

    def _variant_view(self, live: Live, token: str | None) -> dict[str, Any]:
        connections, requests = self.recorder.counts(live.exercise.label, live.variant.kind)
        ladders = self.recorder.ladders(live.exercise.label, live.variant.kind)
        observed = _verdict(ladders[0]["lines"]) if ladders else None
        return {"variant": live.variant.kind, "endpoints": self.endpoints(live),
                "commands": self.try_commands(live, token),
                "client_files": [f"/files/{live.exercise.label}/{live.variant.kind}/{n}"
                                 for n in (CLIENT_CERT, CLIENT_KEY)] if self._client_files(live, True) else [],
                "status": {"listening": True, "connections": connections, "requests": requests},
                "observed": observed,  # what the latest connection's client saw (the ladder's verdict)
                "ladders": ladders}

    def student_view(self, token: str | None) -> dict[str, Any]:
        name = self.state.student(token) if token else None
        progress = self.state.progress(name).get(name, {}) if name else {}
        exercises = []
        for ex in self.exercises:
            mine = progress.get(ex.scenario.id, {"wrong": 0, "solved": False, "proved": False})
            item: dict[str, Any] = {"name": ex.label, "direction": ex.direction.value,
                                    "variants": [self._variant_view(self.live[(ex.label, v.kind)], token)
                                                 for v in ex.variants],
                                    "progress": mine, "can_prove": ex.variant("fixed") is not None}
            if mine["solved"]:  # solved: now the cause may be named
                item["cause"] = {"id": ex.scenario.id, "title": ex.scenario.title}
            exercises.append(item)
        return {"student": name, "exercises": exercises, "causes": causes(self.catalog, name or ""),
                "ca": "/ca.pem", "handout": "/handout.html"}

    def instructor_view(self) -> dict[str, Any]:
        room = self.state.progress()
        labels = {ex.scenario.id: ex.label for ex in self.exercises}
        exercises = []
        for ex in self.exercises:
            exercises.append({
                "name": ex.label, "scenario": ex.scenario.id, "title": ex.scenario.title, "fault": ex.scenario.fault,
                "documented": ex.scenario.expect.documented, "direction": ex.direction.value,
                "expected": [str(s) for s in ex.scenario.expect.default],
                "fixed_resolution": (v.resolution.name if (v := ex.variant("fixed")) and v.resolution else None),
                "variants": [self._variant_view(self.live[(ex.label, v.kind)], None) for v in ex.variants]})
        students = [{"name": student, "exercises": {labels[s]: p for s, p in done.items() if s in labels}}
                    for student, done in room.items()]
        return {"exercises": exercises, "students": students}

    # -- actions ---------------------------------------------------------------------------
    def exercise(self, label: str) -> Exercise:
        for ex in self.exercises:
            if ex.label == label:
                return ex
        raise UserInputError(f"exercise {label!r}: no such exercise; the room has "
                             f"{', '.join(ex.label for ex in self.exercises)}")

    def join(self, name: str) -> dict[str, str]:
        name = clean_name(name)
        return {"name": name, "token": self.state.join(name)}

    def answer(self, name: str, label: str, cause: str) -> dict[str, Any]:
        name = clean_name(name)
        self.state.join(name)
        ex = self.exercise(label)
        if cause not in self.catalog.ids:
            raise UserInputError(f"cause {cause!r}: not a cause of the catalogue (see the list on the dashboard)")
        progress = self.state.progress(name).get(name, {}).get(ex.scenario.id, {"wrong": 0})
        g = grade(self.catalog, ex.scenario, cause, int(progress["wrong"]))
        self.state.answer(name, ex.scenario.id, cause, g.correct)
        out = grade_json(g)
        if out["hint"]:
            live = self.live[(ex.label, "fault")]
            tls = self._tls(live)
            out["hint"] = (out["hint"].replace("HOST:PORT", f"{url_host(self.public_host)}:{tls.port}")
                           .replace("BACKEND:PORT", f"{url_host(self.public_host)}:{tls.port}")
                           .replace("NAME", tls.servername or ""))
        if g.correct:
            out["cause"] = {"id": ex.scenario.id, "title": ex.scenario.title}
            out["next"] = ("prove the fix: make your client succeed against the fixed endpoint "
                           "(the commands under 'fixed' carry your token)") if ex.variant("fixed") else None
        return out

    def proved(self, label: str, kind: str, token: str) -> None:
        """A request with `token` on a variant: on a fixed one, that student has proven the fix."""
        if kind != "fixed":
            return
        name = self.state.student(token)
        if name is not None:
            self.state.prove(name, self.exercise(label).scenario.id)


def _verdict(lines: list[str]) -> str | None:
    """A ladder's closing verdict (``=> failed: the client saw ...``, wrapped lines joined)."""
    for i, line in enumerate(lines):
        if line.startswith("=> "):
            rest = [x.strip() for x in lines[i + 1:] if x.startswith("   ")]
            return " ".join([line[3:], *rest])
    return None


@contextlib.contextmanager
def _access_watch(room: Room, interval: float = 1.0) -> Iterator[None]:
    """Backends without a tap (nginx): proofs from the access log, read once a second."""
    import threading

    from lab.workshop.recorder import TOKEN

    stop = threading.Event()
    seen: dict[tuple[str, str], int] = {}

    def watch() -> None:
        while not stop.wait(interval):
            for key, live in room.live.items():
                lines = live.deployment.access_log()
                for line in lines[seen.get(key, 0):]:
                    request = line.split('"', 2)[1] if line.count('"') >= 2 else ""
                    match = TOKEN.match(request.encode() + b" ")
                    if match and " 200 " in line:
                        room.proved(key[0], key[1], match.group(1).decode())
                seen[key] = len(lines)

    thread = threading.Thread(target=watch, name="tlslab-workshop-access", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _selection(catalog: Catalog, ids: tuple[str, ...]) -> list[Scenario]:
    if not ids or list(ids) == ["all"]:
        return list(catalog)
    return catalog.select(list(ids))


@contextlib.contextmanager
def open_room(options: Options, *, on_progress: Any = None) -> Iterator[Room]:
    """Everything up; leaving stops every server, the dashboard and the recorder."""
    catalog = Catalog.load(options.scenarios_dir)
    chosen = _selection(catalog, options.scenarios)
    names = Names.of(options.names, options.bind)
    state_path = options.state or (state_dir() / "workshop" / "progress.sqlite")
    with contextlib.ExitStack() as stack:
        state = State(state_path)
        stack.callback(state.close)
        seed = int(state.meta("seed", str(secrets.randbelow(2 ** 31))))
        key = state.meta("instructor_key", secrets.token_urlsafe(16))
        directory = options.directory or state_path.parent / "room"
        pki = WorkshopPki(directory, names)
        exercises = plan(chosen, seed=seed, base_port=options.base_port, fixed=options.fixed,
                         servername=lambda label: host_name(label, names))
        room_ref: list[Room] = []
        recorder = Recorder(lambda label, kind, token: room_ref[0].proved(label, kind, token))
        stack.callback(recorder.close)
        room = Room(options, catalog, names, pki, state, key, exercises, recorder)
        room_ref.append(room)
        backend = make_backend(options.backend)
        if hasattr(backend, "__enter__"):
            backend = stack.enter_context(backend)  # type: ignore[arg-type]
        tapped = options.backend == "twisted"
        for ex in exercises:
            ex_pki = pki.exercise(ex.label, ex.scenario.servername)
            for v in ex.variants:
                request = DeployRequest(
                    ex.neutral, v.server, v.client, ex.direction, ex_pki, bind=options.bind, port=v.front_port,
                    backend_port=v.backend_port if ex.direction is Direction.SOUTHBOUND else 0,
                    # nginx ignores both for its own servers; its southbound TLS backend is Twisted's
                    keylog=recorder.keylog, tap=recorder.tap(ex.label, v.kind))
                if on_progress:
                    on_progress(f"{ex.label} {v.kind}: starting on port {v.front_port}")
                try:
                    deployment = stack.enter_context(deployed(backend, request))
                except PortInUse as exc:
                    raise PortInUse(exc.host, exc.port, plan_hint(options.base_port)) from None
                room.live[(ex.label, v.kind)] = Live(ex, v, deployment, request)
        if not tapped:
            stack.enter_context(_access_watch(room))
        room.dashboard_url = stack.enter_context(dashboard.serve(room))
        handout.write(room)
        yield room
