"""The recorder: a loopback TCP relay in front of a lab server, writing what passed as pcapng.

Why a relay and not tcpdump on ``lo``: capturing packets needs root (or CAP_NET_RAW), and
the lab runs as a normal user. The lab makes every connection it wants to record, so it
can put a relay between client and server instead: the probe connects to the relay, the
relay connects to the real server, and every chunk either side sends is forwarded at once
(TCP_NODELAY both ways) and recorded with its time and direction. The bytes are the real
ones; the Ethernet/IPv4/TCP headers around them are synthesised (see
:mod:`lab.capture.pcapfile`), with the real client port and the real server port.

What a client sees does not change: the server name (SNI, certificate check, Host header)
is the scenario's, only the port is the relay's. A connection the server refuses is
passed on as a reset, a close as a close (half-close included), a reset as a reset.

One :class:`Group` is one pcapng file (a phase and a client in ``run``, the whole session
in ``up``); each connection is appended when it ends, with a Decryption Secrets Block
holding the key-log lines of its ClientHello's random, so the file decrypts by itself.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import selectors
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.capture import pcapfile
from lab.capture.pcapfile import Chunk
from lab.errors import EnvironmentError_, UserInputError

CONNECT_TIMEOUT = 10.0  # seconds the relay waits for the real server to accept
DRAIN_TIMEOUT = 5.0  # seconds a relay waits, when closed, for its connections to finish on their own
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class KeyLog:
    """Key-log lines from every source the lab has: a server's callback, and clients' SSLKEYLOGFILE."""

    def __init__(self, client_file: Path | None = None) -> None:
        self._by_random: dict[bytes, list[bytes]] = {}  # hex client random -> its lines, in order
        self._lock = threading.Lock()
        self._read = 0  # how far the clients' file has been read
        self.client_file = client_file  # curl, Chromium, python-ssl append here (SSLKEYLOGFILE)

    def _add(self, line: bytes) -> None:
        parts = line.split()
        if len(parts) == 3:
            lines = self._by_random.setdefault(parts[1].lower(), [])
            if line not in lines:
                lines.append(line)

    def server_callback(self, conn: Any, line: bytes) -> None:
        """pyOpenSSL's ``set_keylog_callback`` signature."""
        with self._lock:
            self._add(bytes(line))

    def lines_for(self, client_random: bytes) -> list[bytes]:
        with self._lock:
            if self.client_file is not None:
                with contextlib.suppress(OSError), open(self.client_file, "rb") as f:
                    f.seek(self._read)
                    data = f.read()
                    whole = data.rfind(b"\n") + 1  # a client may be mid-line: keep that for later
                    self._read += whole
                    for line in data[:whole].splitlines():
                        self._add(line)
            return list(self._by_random.get(client_random.hex().encode(), ()))


@dataclass(frozen=True)
class Connection:
    client: tuple[str, int]
    server: tuple[str, int]
    started: float
    chunks: tuple[Chunk, ...]


def client_random(chunks: tuple[Chunk, ...]) -> bytes | None:
    """The random of the first ClientHello the client sent (to pick its key-log lines)."""
    data = b"".join(c.data for c in chunks if c.from_client)[:4096]
    if len(data) >= 43 and data[0] == 22 and data[5] == 1:
        return data[11:43]
    return None


class Group:
    """One pcapng file (and its ``.keys`` key log); connections are appended as they end."""

    def __init__(self, path: Path, keylog: KeyLog, writer: "Writer | None" = None) -> None:
        self.path = path
        self.keylog = keylog
        self.connections = 0
        self._lock = threading.Lock()
        self._writer = writer

    def add(self, conn: Connection) -> None:
        """Record a finished connection: now, or queued to the session's writer (off the probe's path)."""
        if self._writer is not None:
            self._writer.put(self, conn)
        else:
            self.write(conn)

    def write(self, conn: Connection) -> None:
        random = client_random(conn.chunks)
        keys = self.keylog.lines_for(random) if random else []
        blocks = [pcapfile.secrets_block(b"\n".join(keys) + b"\n")] if keys else []
        blocks += pcapfile.tcp_packets(conn.client, conn.server, conn.started, conn.chunks)
        with self._lock:
            new = not self.path.exists() or self.connections == 0
            with _private(self.path, new) as f:
                if new:
                    f.write(pcapfile.section_header("tlslab"))
                f.write(b"".join(blocks))
            if keys:
                with _private(self.path.with_suffix(".keys"), new) as f:
                    f.write(b"\n".join(keys) + b"\n")
            elif new:
                self.path.with_suffix(".keys").unlink(missing_ok=True)
            self.connections += 1


class Writer:
    """One thread that writes finished connections, so a phase never waits on the disk."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Group, Connection] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tlslab-capture-writer", daemon=True)
        self._thread.start()

    def put(self, group: Group, conn: Connection) -> None:
        self._queue.put((group, conn))

    def flush(self) -> None:
        """Wait until everything queued so far is on disk."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                with contextlib.suppress(OSError):  # a full disk loses a capture, never the run
                    item[0].write(item[1])
            finally:
                self._queue.task_done()


def _private(path: Path, truncate: bool) -> Any:
    """Open for writing, owner-only: a capture with its key log decrypts the session (0600, like keys)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND)
    return os.fdopen(os.open(path, flags, 0o600), "wb")


class Relay:
    """Listens on 127.0.0.1, forwards each connection to `upstream`, records it into `group`."""

    def __init__(self, upstream: tuple[str, int], group: Group, *, timeout: float = 30.0) -> None:
        self.upstream = upstream
        self.group = group
        self.timeout = timeout
        self.drain = DRAIN_TIMEOUT
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._accepter = threading.Thread(target=self._accept, name=f"tlslab-relay-{self.port}", daemon=True)

    def __enter__(self) -> "Relay":
        self._accepter.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self, drain: float | None = None) -> None:
        """Stop accepting; give open connections `drain` seconds to end, then cut them."""
        drain = self.drain if drain is None else drain
        self._closing.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._accepter.join(timeout=2)
        deadline = time.monotonic() + drain
        for t in list(self._threads):
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            for s in list(self._sockets):
                with contextlib.suppress(OSError):
                    s.close()
        for t in list(self._threads):
            t.join(timeout=2)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, addr = self._listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(client, addr), daemon=True,
                                 name=f"tlslab-relay-{self.port}-{addr[1]}")
            with self._lock:
                self._threads.append(t)
            t.start()

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._sockets.update(socks)

    def _serve(self, client: socket.socket, addr: tuple[str, int]) -> None:
        started = time.time()
        chunks: list[Chunk] = []
        self._track(client)
        try:
            try:
                upstream = socket.create_connection(self.upstream, timeout=CONNECT_TIMEOUT)
            except OSError:
                _reset(client)  # nothing listens there: the client sees a reset, as it would directly
                chunks.append(Chunk(time.time(), False, end="rst"))
                return
            self._track(upstream)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(None)
            _pump(client, upstream, chunks, self._closing, self.timeout)
            with contextlib.suppress(OSError):
                upstream.close()
        finally:
            with contextlib.suppress(OSError):
                client.close()
            with self._lock:
                self._sockets.difference_update({client})
            self.group.add(Connection((addr[0], addr[1]), ("127.0.0.1", self.upstream[1]), started, tuple(chunks)))


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def _pump(client: socket.socket, upstream: socket.socket, chunks: list[Chunk], closing: threading.Event,
          idle: float) -> None:
    """Forward both ways until both sides have closed (or one resets, or `idle` seconds pass silently)."""
    peers = {client: upstream, upstream: client}
    open_ = {client, upstream}
    with selectors.DefaultSelector() as sel:
        for s in open_:
            sel.register(s, selectors.EVENT_READ)
        last = time.monotonic()
        while open_:
            events = sel.select(timeout=0.5)
            if not events:
                if closing.is_set() or time.monotonic() - last > idle:
                    return
                continue
            last = time.monotonic()
            for key, _ in events:
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                dst = peers[src]
                from_client = src is client
                try:
                    data = src.recv(65536)
                except ConnectionResetError:
                    chunks.append(Chunk(time.time(), from_client, end="rst"))
                    _reset(dst)
                    return
                except OSError:
                    return
                if data:
                    chunks.append(Chunk(time.time(), from_client, data))
                    try:
                        dst.sendall(data)
                    except OSError:
                        chunks.append(Chunk(time.time(), not from_client, end="rst"))
                        _reset(src)
                        return
                    continue
                chunks.append(Chunk(time.time(), from_client, end="fin"))
                sel.unregister(src)
                open_.discard(src)
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)


def group_path(directory: Path, *names: str) -> Path:
    """Where a group's pcapng goes: ``DIR/<scenario>-<phase>-<client>.pcapng`` in ``run``."""
    return directory / ("-".join(_SAFE.sub("_", n) for n in names if n) + ".pcapng")


class CaptureSession:
    """Where ``--capture DIR`` writes: one pcapng per group, keys beside, clients' SSLKEYLOGFILE set.

    While the session is entered, ``SSLKEYLOGFILE`` points at ``DIR/client-keys.log`` for the
    clients that honour it (curl, Chromium, the python-ssl probe); a Twisted server logs its
    own keys through :attr:`keylog`. Leaving restores the environment.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.keylog = KeyLog(directory / "client-keys.log")
        self._saved: str | None = None
        self.files: list[Path] = []
        self._stack = contextlib.ExitStack()  # relays the session itself owns (``up``: the gateway's upstream)
        self._writer: Writer | None = None

    def __enter__(self) -> "CaptureSession":
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / ".tlslab-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise UserInputError(f"--capture: cannot write to {self.directory}: {exc.strerror}") from None
        assert self.keylog.client_file is not None
        with _private(self.keylog.client_file, False):
            pass  # created owner-only before any client appends to it
        self._saved = os.environ.get("SSLKEYLOGFILE")
        os.environ["SSLKEYLOGFILE"] = str(self.keylog.client_file)
        self._writer = Writer()
        return self

    def flush(self) -> None:
        """Every connection that has ended is in its file (call before reading the files back)."""
        if self._writer is not None:
            self._writer.flush()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._saved is None:
            os.environ.pop("SSLKEYLOGFILE", None)
        else:
            os.environ["SSLKEYLOGFILE"] = self._saved

    def group(self, *names: str) -> Group:
        path = group_path(self.directory, *names)
        path.unlink(missing_ok=True)
        self.files.append(path)
        return Group(path, self.keylog, self._writer)

    def relay_for_session(self, target: Any, *names: str, idle: float = 300.0) -> Any:
        """A relay in front of `target` that lives as long as the session; the target to use instead."""
        from dataclasses import replace

        relay = self._stack.enter_context(self.relay((target.host, target.port), *names))
        relay.timeout, relay.drain = idle, 1.0
        return replace(target, host="127.0.0.1", port=relay.port)

    @contextlib.contextmanager
    def relay(self, upstream: tuple[str, int], *names: str) -> Iterator[Relay]:
        try:
            relay = Relay(upstream, self.group(*names))
        except OSError as exc:
            raise EnvironmentError_(f"cannot start the capture relay on 127.0.0.1: {exc.strerror}") from None
        with relay:
            yield relay


@contextlib.contextmanager
def relayed(session: CaptureSession, deployment: Any, *names: str, idle: float = 300.0) -> Iterator[Any]:
    """``tlslab up --capture``: the deployment with its TLS endpoint behind a recording relay.

    The endpoint keeps its servername and CA; only its port becomes the relay's, so every
    URL and command line ``up`` prints goes through the recorder.
    """
    from dataclasses import replace

    target = deployment.tls_target
    with session.relay((target.host, target.port), *names) as relay:
        relay.timeout = idle  # a person exploring by hand may leave a connection idle for a while
        relay.drain = 1.0  # Ctrl-C: cut what is still open after a second
        endpoints = tuple(replace(e, host="127.0.0.1", port=relay.port)
                          if e.scheme == "https" and e.port == target.port else e for e in deployment.endpoints)
        yield replace(deployment, tls_target=replace(target, host="127.0.0.1", port=relay.port), endpoints=endpoints)
