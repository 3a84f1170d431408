"""What the room's clients did: every connection to every exercise, as ladders and as proofs.

A :class:`Recorder` taps each workshop server (``DeployRequest.tap``: the Twisted server reports
the raw bytes of each connection, no relay, no cost on the handshake's path but a list append)
and keeps the last few connections per exercise variant. The dashboard turns them into the
capture feature's handshake ladders (:mod:`lab.capture`) on demand, decrypted with the server's
own key log. An HTTP request on a fixed variant whose path is ``/s/<token>`` is a student's
proof: that student's client completed the handshake and sent a request.
"""

from __future__ import annotations

import collections
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.capture import pcapfile
from lab.capture.handshake import Handshake, read_capture
from lab.capture.ladder import ladder_lines
from lab.capture.pcapfile import Chunk
from lab.capture.relay import client_random
from lab.tempdirs import make_owned_dir

KEEP = 12  # connections kept per exercise variant
MAX_BYTES = 64 * 1024  # recorded per connection (the handshake; the rest is not drawn)
KEYS_KEPT = 4096  # key-log entries kept (by client random), oldest dropped
TOKEN = re.compile(rb"^[A-Z]+ /s/([A-Za-z0-9_-]{8,64})[/ ?]")


@dataclass(frozen=True)
class Record:
    seq: int
    client: tuple[str, int]
    server: tuple[str, int]
    started: float
    chunks: tuple[Chunk, ...]
    requested: bool  # an HTTP request arrived after a completed handshake


class _Tap:
    def __init__(self, owner: "Recorder", key: tuple[str, str], client: tuple[str, int],
                 server: tuple[str, int]) -> None:
        self.owner, self.key, self.client, self.server = owner, key, client, server
        self.started = time.time()
        self.chunks: list[Chunk] = []
        self.size = 0
        self.requested = False

    def data(self, from_client: bool, data: bytes) -> None:
        if self.size < MAX_BYTES:
            self.chunks.append(Chunk(time.time(), from_client, bytes(data)))
            self.size += len(data)

    def request(self, head: bytes) -> None:
        self.requested = True
        match = TOKEN.match(head)
        if match:
            self.owner.proved(self.key, match.group(1).decode(), self.client)

    def closed(self) -> None:
        self.chunks.append(Chunk(time.time(), True, end="fin"))
        self.owner.finished(self)


class Recorder:
    """Connections per (exercise label, variant kind); proofs go to `on_proof(label, kind, token)`."""

    def __init__(self, on_proof: Callable[[str, str, str], None]) -> None:
        self.on_proof = on_proof
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], collections.deque[Record]] = {}
        self._counts: dict[tuple[str, str], list[int]] = {}  # connections, requests
        self._seq = 0
        self._keys: collections.OrderedDict[bytes, list[bytes]] = collections.OrderedDict()
        self._ladders: dict[tuple[str, str, int], tuple[list[str], bool]] = {}
        self._tmp = make_owned_dir("tlslab-workshop-ladder-")  # swept by `tlslab down` after a kill -9

    def tap(self, label: str, kind: str) -> Callable[[tuple[str, int], tuple[str, int]], Any]:
        key = (label, kind)
        with self._lock:
            self._records.setdefault(key, collections.deque(maxlen=KEEP))
            self._counts.setdefault(key, [0, 0])
        return lambda client, server: _Tap(self, key, client, server)

    def keylog(self, conn: Any, line: bytes) -> None:
        """pyOpenSSL's keylog callback: the server's secrets, so TLS 1.3 ladders show the chain and alerts."""
        parts = bytes(line).split()
        if len(parts) != 3:
            return
        with self._lock:
            self._keys.setdefault(parts[1].lower(), []).append(bytes(line))
            while len(self._keys) > KEYS_KEPT:
                self._keys.popitem(last=False)

    def proved(self, key: tuple[str, str], token: str, client: tuple[str, int]) -> None:
        self.on_proof(key[0], key[1], token)

    def finished(self, tap: _Tap) -> None:
        with self._lock:
            self._seq += 1
            self._records[tap.key].append(Record(self._seq, tap.client, tap.server, tap.started, tuple(tap.chunks),
                                                 tap.requested))
            counts = self._counts[tap.key]
            counts[0] += 1
            counts[1] += tap.requested

    def counts(self, label: str, kind: str) -> tuple[int, int]:
        with self._lock:
            c = self._counts.get((label, kind), [0, 0])
            return c[0], c[1]

    def ladders(self, label: str, kind: str, limit: int = 3) -> list[dict[str, Any]]:
        """The last `limit` connections as ladders (newest first): {"lines", "failed", "time"}."""
        with self._lock:
            records = list(self._records.get((label, kind), ()))[-limit:][::-1]
        out = []
        for r in records:
            lines, failed = self._ladder(label, kind, r)
            out.append({"lines": lines, "failed": failed, "time": r.started, "seq": r.seq})
        return out

    def _ladder(self, label: str, kind: str, r: Record) -> tuple[list[str], bool]:
        cached = self._ladders.get((label, kind, r.seq))
        if cached is not None:
            return cached
        random = client_random(r.chunks)
        with self._lock:
            keys = list(self._keys.get(random.hex().encode(), ())) if random else []
        path = self._tmp / f"{label}-{kind}-{r.seq}.pcapng"
        blocks = [pcapfile.section_header("tlslab workshop")]
        if keys:
            blocks.append(pcapfile.secrets_block(b"\n".join(keys) + b"\n"))
        blocks += pcapfile.tcp_packets(r.client, r.server, r.started, r.chunks)
        path.write_bytes(b"".join(blocks))
        try:
            handshakes: tuple[Handshake, ...] = read_capture(path)
        except Exception:  # a connection that is no TLS at all (a port scan, plain HTTP): nothing to draw
            handshakes = ()
        finally:
            path.unlink(missing_ok=True)
        if handshakes:
            result = (ladder_lines(handshakes[0]), handshakes[0].failed)
        else:
            result = ([f"{r.client[0]}:{r.client[1]} -> port {r.server[1]}: no TLS handshake recorded"], True)
        if len(self._ladders) > 4 * KEEP * max(1, len(self._records)):
            self._ladders.clear()
        self._ladders[(label, kind, r.seq)] = result
        return result

    def close(self) -> None:
        import shutil

        shutil.rmtree(self._tmp, ignore_errors=True)
