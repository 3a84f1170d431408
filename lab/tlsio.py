"""Driving a pyOpenSSL connection on a non-blocking socket, bounded in time.

Shared by the pyOpenSSL probe (and so the Twisted gateway's upstream client) and nginx's
stapling warm-up: one select-driven loop, so no handshake can hang past its deadline.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from typing import TypeVar

from OpenSSL import SSL

T = TypeVar("T")


def pump(conn: SSL.Connection, sock: socket.socket, op: Callable[[], T], deadline: float) -> T:
    """Run a pyOpenSSL operation on a non-blocking socket until it completes or time runs out."""
    while True:
        try:
            return op()
        except (SSL.WantReadError, SSL.WantWriteError) as want:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out waiting for the server") from None
            readable = isinstance(want, SSL.WantReadError)
            select.select([sock] if readable else [], [] if readable else [sock], [], remaining)
