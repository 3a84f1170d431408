"""Running a client tool as a subprocess: bounded in time, never left behind."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class ToolResult:
    returncode: int | None  # None: killed at the deadline
    stdout: bytes
    stderr: str


def run_tool(argv: list[str], *, stdin: bytes = b"", timeout: float, env: dict[str, str] | None = None) -> ToolResult:
    """Run `argv`, feeding `stdin`; on timeout or interrupt the process is killed and reaped."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
        return ToolResult(proc.returncode, out, err.decode("utf-8", "replace"))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return ToolResult(None, out, err.decode("utf-8", "replace"))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
