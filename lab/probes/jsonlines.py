"""A long-lived client process speaking JSON lines: one request line in, one result line out.

The Go and Node probes start one such process per ``with probe:`` block (a start costs 30-80 ms,
a probe a few); the process ends when its stdin closes, and is killed if it does not.
"""

from __future__ import annotations

import json
import queue
import subprocess
import tempfile
import threading
from typing import IO, Any

from lab.errors import LabError


class LineProcess:
    """One child process: ``ask`` writes a JSON line and waits for the JSON line it answers."""

    def __init__(self, argv: list[str], *, label: str, env: dict[str, str] | None = None,
                 start_timeout: float = 20.0) -> None:
        self.label = label
        self._stderr: IO[bytes] = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        self._lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, name=f"tlslab-{label}-stdout", daemon=True).start()
        try:
            self.hello: dict[str, Any] = json.loads(self.read(timeout=start_timeout))
        except BaseException:
            self.close()
            raise

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(b"")  # EOF

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace").strip()[-2000:]

    def read(self, timeout: float) -> bytes:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the {self.label} probe gave no answer within {timeout:g}s") from None
        if not line:
            self.proc.wait(timeout=5)
            raise LabError(f"the {self.label} probe process exited ({self.proc.returncode}): "
                           f"{self.stderr_text() or 'no output'}")
        return line

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        result: dict[str, Any] = json.loads(self.read(timeout))
        return result

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()  # the process ends at EOF
            self.proc.wait(timeout=3)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self._stderr.close()
