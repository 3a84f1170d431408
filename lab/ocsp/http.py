"""The OCSP responder's HTTP resource (RFC 6960 appendix A), kept apart so that importing
:mod:`lab.ocsp` (every probe does, for staple checks) does not import twisted.web. It uses only
the responder's public surface (:meth:`Responder.answer`, :meth:`Responder.later`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.web import resource, server

from lab.ocsp.common import CONTENT_TYPE, MAX_REQUEST, SLOW_DELAY
from lab.specs import OcspNetwork

if TYPE_CHECKING:
    from lab.ocsp.responder import Responder


class CappedRequest(server.Request):
    """A request whose body is kept only up to MAX_REQUEST bytes: an OCSP request is a few hundred
    bytes, and twisted.web would otherwise buffer a body of any size (300 MB) before rendering.
    The rest is read and dropped; the resource then answers 413."""

    too_large = False

    def gotLength(self, length: int | None) -> None:
        self.too_large = length is not None and length > MAX_REQUEST
        super().gotLength(0 if self.too_large else length)

    def handleContentChunk(self, data: bytes) -> None:
        assert self.content is not None
        if self.too_large or self.content.tell() + len(data) > MAX_REQUEST:
            self.too_large = True
            return
        super().handleContentChunk(data)


def make_site(responder: "Responder") -> server.Site:
    site = server.Site(OcspResource(responder))
    site.requestFactory = CappedRequest
    return site


class OcspResource(resource.Resource):
    """POST (DER body) and GET (base64 in the path, RFC 6960 A.1) -> DER response."""

    isLeaf = True

    def __init__(self, responder: "Responder") -> None:
        super().__init__()
        self.responder = responder

    def render_POST(self, request: server.Request) -> Any:
        assert request.content is not None
        if getattr(request, "too_large", False):
            request.setResponseCode(413)
            request.setHeader(b"Content-Type", b"text/plain")
            return f"an OCSP request is at most {MAX_REQUEST} bytes\n".encode()
        return self._answer(request, request.content.read(MAX_REQUEST))

    def render_GET(self, request: server.Request) -> Any:
        import base64
        from urllib.parse import unquote
        path = unquote(request.path.decode("ascii", "replace")).lstrip("/")
        try:
            body = base64.b64decode(path, validate=False)
        except ValueError:
            body = b""
        return self._answer(request, body)

    def _answer(self, request: server.Request, body: bytes) -> Any:
        der = self.responder.answer(body)
        request.setHeader(b"Content-Type", CONTENT_TYPE.encode())
        request.setHeader(b"Content-Length", str(len(der)).encode())
        if self.responder.policy.network is not OcspNetwork.SLOW:
            return der
        finished = {"gone": False}
        request.notifyFinish().addErrback(lambda _: finished.update(gone=True))

        def later() -> None:
            if not finished["gone"]:
                request.write(der)
                request.finish()

        self.responder.later(SLOW_DELAY, later)
        return server.NOT_DONE_YET
