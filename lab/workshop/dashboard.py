"""The dashboard: Twisted web in the lab's reactor, the page plus a small JSON API.

``GET /`` the page (student view), ``GET /instructor?key=K`` (instructor view), ``GET /api/state
?token=T`` and ``GET /api/instructor?key=K`` (what the page polls), ``POST /api/join {"name"}``,
``POST /api/answer {"name", "exercise", "cause"}`` (also ``tlslab answer``), ``/ca.pem``,
``/handout.html``, ``/handout.txt``, a 2-way exercise's client files under ``/files/``. Views are
computed in Twisted's thread pool so a slow poll never stalls a handshake.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import Callable, Iterator
from typing import Any

from twisted.internet import threads
from twisted.internet.error import CannotListenError
from twisted.web import resource, server

from lab import reactor as lab_reactor
from lab.errors import EnvironmentError_, LabError, PortInUse
from lab.servers.base import LISTEN_BACKLOG, local_host, url_host
from lab.workshop.page import PAGE
from lab.workshop.plan import plan_hint

MAX_BODY = 16 * 1024


def _arg(request: server.Request, name: bytes) -> bytes:
    args: dict[bytes, list[bytes]] = request.args or {}
    return (args.get(name) or [b""])[0]


class Dashboard(resource.Resource):
    isLeaf = True

    def __init__(self, room: Any) -> None:
        super().__init__()
        self.room = room

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _send(request: server.Request, code: int, body: bytes, ctype: str, attachment: str | None = None) -> bytes:
        request.setResponseCode(code)
        request.setHeader(b"Content-Type", ctype.encode())
        request.setHeader(b"Cache-Control", b"no-store")
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        if attachment:
            request.setHeader(b"Content-Disposition", f'attachment; filename="{attachment}"'.encode())
        return body

    def _json(self, request: server.Request, code: int, data: Any) -> bytes:
        return self._send(request, code, json.dumps(data).encode(), "application/json")

    def _deferred(self, request: server.Request, work: Callable[[], Any]) -> Any:
        def done(data: Any) -> None:
            if not request.finished and not request._disconnected:  # noqa: SLF001 - Twisted's own flag
                request.write(self._json(request, 200, data))
                request.finish()

        def failed(f: Any) -> None:
            if request.finished or request._disconnected:  # noqa: SLF001
                return
            exc = f.value
            code = 400 if isinstance(exc, LabError) else 500
            request.write(self._json(request, code, {"error": str(exc) if isinstance(exc, LabError) else "internal error"}))
            request.finish()

        threads.deferToThread(work).addCallbacks(done, failed)
        return server.NOT_DONE_YET

    def _key_ok(self, request: server.Request) -> bool:
        given = _arg(request, b"key")
        return hmac.compare_digest(given, self.room.key.encode())

    # -- routes ----------------------------------------------------------------------------
    def render_GET(self, request: server.Request) -> Any:
        path = request.path.decode("utf-8", "replace")
        room = self.room
        if path == "/":
            return self._send(request, 200, PAGE.encode(), "text/html; charset=utf-8")
        if path == "/instructor":
            if not self._key_ok(request):
                return self._send(request, 403, b"the instructor view needs ?key= (printed at start)\n", "text/plain")
            return self._send(request, 200, PAGE.encode(), "text/html; charset=utf-8")
        if path == "/api/state":
            token = _arg(request, b"token").decode("utf-8", "replace") or None
            return self._deferred(request, lambda: room.student_view(token))
        if path == "/api/instructor":
            if not self._key_ok(request):
                return self._json(request, 403, {"error": "wrong or missing key"})
            return self._deferred(request, room.instructor_view)
        if path == "/healthz":
            return self._json(request, 200, {"ok": True, "exercises": len(room.exercises)})
        if path == "/ca.pem":
            return self._send(request, 200, room.pki.ca_file.read_bytes(), "application/x-pem-file", "workshop-ca.pem")
        if path in ("/handout.html", "/handout.txt"):
            name = path.lstrip("/")
            ctype = "text/html; charset=utf-8" if name.endswith("html") else "text/plain; charset=utf-8"
            return self._send(request, 200, (room.pki.directory / name).read_bytes(), ctype)
        parts = path.split("/")
        if len(parts) == 5 and parts[1] == "files":
            file = room.client_file(parts[2], parts[3], parts[4])
            if file is not None:
                return self._send(request, 200, file.read_bytes(), "application/x-pem-file",
                                  f"{parts[2]}-{parts[3]}-{parts[4]}")
        return self._send(request, 404, b"not found\n", "text/plain")

    def render_POST(self, request: server.Request) -> Any:
        path = request.path.decode("utf-8", "replace")
        body = request.content.read(MAX_BODY + 1) if request.content else b""
        try:
            data = json.loads(body or b"{}") if len(body) <= MAX_BODY else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return self._json(request, 400, {"error": "send a JSON object (at most 16 KiB)"})
        text = {k: str(v) for k, v in data.items() if isinstance(v, (str, int))}
        room = self.room
        if path == "/api/join":
            return self._deferred(request, lambda: room.join(text.get("name", "")))
        if path == "/api/answer":
            return self._deferred(request, lambda: room.answer(text.get("name", ""), text.get("exercise", ""),
                                                               text.get("cause", "")))
        return self._json(request, 404, {"error": "no such endpoint"})


@contextlib.contextmanager
def serve(room: Any) -> Iterator[str]:
    """The dashboard on the room's bind address and base port; its URL."""
    bind, port = room.options.bind, room.options.base_port
    site = server.Site(Dashboard(room))
    site.noisy = False
    site.timeOut = 30

    def listen() -> Any:
        return lab_reactor.reactor().listenTCP(port, site, backlog=LISTEN_BACKLOG, interface=bind)

    try:
        listening = lab_reactor.call(listen)
    except CannotListenError as exc:
        if "in use" in str(exc).lower():
            raise PortInUse(bind, port, plan_hint(port)) from None
        raise EnvironmentError_(f"cannot listen on {bind}:{port}: {exc.socketError}") from None
    try:
        yield f"http://{url_host(room.public_host if bind in ('0.0.0.0', '::', '') else local_host(bind))}:{port}/"
    finally:
        lab_reactor.call(listening.stopListening)
