"""One HTTP/2 GET over an established TLS connection (ALPN ``h2``), with the h2 library.

A probe that negotiated ``h2`` must speak HTTP/2, or an HTTP/2-only server closes on it: this is
the sans-I/O half (bytes in, bytes out), each probe drives it over its own socket.
"""

from __future__ import annotations

import h2.config
import h2.connection
import h2.events


class H2Get:
    """``GET /`` on stream 1; :attr:`status` once the response headers arrived, :attr:`done` at its end."""

    def __init__(self, authority: str) -> None:
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.authority = authority
        self.status: int | None = None
        self.done = False
        self.error: str | None = None

    def start(self) -> bytes:
        self.conn.initiate_connection()
        self.conn.send_headers(1, [(":method", "GET"), (":path", "/"), (":scheme", "https"),
                                   (":authority", self.authority), ("user-agent", "tlslab")], end_stream=True)
        return self.conn.data_to_send()

    def feed(self, data: bytes) -> bytes:
        """Bytes from the server in; bytes to send back out (acknowledgements, window updates)."""
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                headers = {str(k): str(v) for k, v in (event.headers or [])}  # str: header_encoding is set
                self.status = int(headers.get(":status", "0"))
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                self.done = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.error = f"HTTP/2 GOAWAY (error code {event.error_code})"
                self.done = True
        return self.conn.data_to_send()
