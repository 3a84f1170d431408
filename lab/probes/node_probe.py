"""The Node.js client (``https.request`` over Node's ``tls``): the stack of Node services and tooling.

``node/tlsprobe.js`` runs as one long-lived ``node`` process per ``with probe:`` block, one JSON
line each way. The spec maps onto Node's TLS options:

* versions -> ``minVersion``/``maxVersion``, always explicit (:func:`lab.tls.client_handshake`);
* ciphers -> ``ciphers``, the same OpenSSL string (Node hands it to OpenSSL), plus OpenSSL's
  default TLS 1.3 suites: Node disables TLS 1.3 when its ``ciphers`` names none;
* ``sni = false`` -> ``servername: ''`` (no server_name sent). Node then checks the certificate's
  name against the connected address, so the probe's ``checkServerIdentity`` checks the lab's name
  (with Node's own ``tls.checkServerIdentity``): that name verdict is judged by the lab;
* trust -> ``ca``; the client certificate -> ``cert``/``key``.

A skewed clock: Node has no clock option, so a spec with ``clock_offset_days`` gets a second
``node`` process of its own under libfaketime (``LD_PRELOAD``, monotonic clocks left real), as
curl does; one process per distinct offset, all ended with the block.

Not applicable, honestly: revocation (Node can request a staple, ``requestOCSP``, and hands it
to an ``'OCSPResponse'`` listener, but never validates it).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.errors import LabError, ToolMissing
from lab.probes.base import CLIENT, LAB, ClientFiles, Outcome, ProbeBase, Target, outcome_from_error, which
from lab.probes.curl import faketime_env, faketime_library
from lab.probes.jsonlines import LineProcess
from lab.specs import ClientSpec
from lab.symptoms import http_symptom, lab_message
from lab.tls import Protocol, client_handshake

SOURCE = Path(__file__).resolve().parent / "node" / "tlsprobe.js"
NODE_PACKAGE = "nodejs"
_NODE_VERSIONS = {Protocol.TLSv1_0: "TLSv1", Protocol.TLSv1_1: "TLSv1.1",
                  Protocol.TLSv1_2: "TLSv1.2", Protocol.TLSv1_3: "TLSv1.3"}
# OpenSSL's default TLS 1.3 suites: what every OpenSSL-based probe offers for TLS 1.3.
TLS13_SUITES = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"


def node_ciphers(spec: ClientSpec) -> str:
    """Node's ``ciphers`` option: the TLS 1.3 defaults, then the spec's (or the lab's) OpenSSL string."""
    return f"{TLS13_SUITES}:{client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers).ciphers}"


def request_for(target: Target, spec: ClientSpec, files: ClientFiles) -> dict[str, Any]:
    handshake = client_handshake(spec.min_protocol, spec.max_protocol, spec.ciphers)
    return {
        "host": target.host, "port": target.port, "servername": target.servername, "sni": spec.sni,
        "min_version": _NODE_VERSIONS[handshake.min_protocol], "max_version": _NODE_VERSIONS[handshake.max_protocol],
        "ciphers": node_ciphers(spec), "ca_file": str(files.ca_file),
        "cert_file": str(files.cert_file or ""), "key_file": str(files.key_file or ""),
        "timeout_ms": int(spec.timeout * 1000),
    }


class NodeProbe(ProbeBase):
    name = "node"
    description = "Node.js https/tls client (Node's OpenSSL), one long-lived process"
    revocation_note = ("Node can request a staple (requestOCSP) and hands it to an 'OCSPResponse' "
                       "listener, but never validates it")

    def clock_offset_reason(self) -> str | None:
        if faketime_library() is None:
            return "Node has no clock option and libfaketime is not installed (Debian: apt-get install faketime)"
        return None

    def __init__(self, node: str = "node") -> None:
        self.node = node
        self._processes: dict[float, LineProcess] = {}  # by clock offset (days); 0: the real clock
        self._entered = False
        self._lock = threading.Lock()
        self.starts = 0

    def unavailable_reason(self) -> str | None:
        if which(self.node) is None:
            return f"the '{self.node}' command is not installed (Debian: apt-get install {NODE_PACKAGE})"
        return None

    @property
    def _process(self) -> LineProcess | None:
        """The process on the real clock."""
        return self._processes.get(0.0)

    @property
    def pid(self) -> int | None:
        return self._process.proc.pid if self._process else None

    def __enter__(self) -> "NodeProbe":
        reason = self.unavailable_reason()
        if reason:
            raise ToolMissing(self.node, reason)
        self._entered = True
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._entered = False
        while self._processes:
            self._processes.popitem()[1].close()

    def _start(self, offset_days: float = 0.0) -> LineProcess:
        env = faketime_env(offset_days) if offset_days else None
        process = LineProcess([self.node, str(SOURCE)], label="Node", env=env)
        self._processes[offset_days] = process
        self.starts += 1
        return process

    def run(self, target: Target, spec: ClientSpec, files: ClientFiles) -> Outcome:
        if not self._entered:
            raise LabError("the Node probe keeps a process running: use it as 'with NodeProbe() as probe: ...'")
        started = time.monotonic()
        request = request_for(target, spec, files)
        with self._lock:
            offset = float(spec.clock_offset_days)
            process = self._processes.get(offset) or self._start(offset)
            try:
                result = process.ask(request, timeout=spec.timeout + 5)
            except TimeoutError as exc:
                process.close()
                del self._processes[offset]
                # The client's own deadline (spec.timeout) passed long ago: the probe process is stuck,
                # which is the lab's failure, never the server's timeout symptom.
                return outcome_from_error(self.name, lab_message(f"{exc}; its process was replaced"), started,
                                          judged_by=LAB)
        if "bad_request" in result:
            raise LabError(f"the Node probe could not use its inputs: {result['bad_request']}")
        judged_by = LAB if result.get("judged_by") == LAB else CLIENT
        if result.get("status"):
            status = int(result["status"])
            return Outcome(self.name, http_symptom(status), result.get("status_line") or f"HTTP {status}",
                           http_status=status, protocol=result.get("protocol"), cipher=result.get("cipher"),
                           elapsed=time.monotonic() - started, judged_by=judged_by)
        return outcome_from_error(self.name, result.get("error") or "no error text", started, judged_by=judged_by)
