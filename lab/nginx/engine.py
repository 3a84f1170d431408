"""The Docker engine, reached through the Docker SDK for Python, and the labels every lab object carries.

Every container and image the lab creates carries ``tlslab=1``; containers also carry the run id
(``tlslab.run``), the scenario they were started for, the owning process and host, so
``tlslab down`` can sweep what a killed run left behind, and nothing else is ever touched.
"""

from __future__ import annotations

import os
import pwd
import socket
from typing import TYPE_CHECKING, Any

from lab.errors import EnvironmentError_

if TYPE_CHECKING:
    import docker

LABEL = "tlslab"
RUN_LABEL = "tlslab.run"
SCENARIO_LABEL = "tlslab.scenario"
PID_LABEL = "tlslab.pid"
HOST_LABEL = "tlslab.host"
ROLE_LABEL = "tlslab.role"

HOW_TO_START = ("start it with 'sudo systemctl start docker' (or 'sudo dockerd &' where there is no systemd; "
                "Debian: 'sudo apt-get install docker.io' first), or point DOCKER_HOST at a running engine. "
                "The Twisted backend (--backend twisted) needs no Docker.")


def permission_advice() -> str:
    """The engine answers root but not this user: the fix is the docker group, not starting anything."""
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = os.environ.get("USER") or "$USER"
    return (f"the Docker engine at {engine_address()} is running, but user {user} may not use it "
            f"(not in the 'docker' group): sudo usermod -aG docker {user}, then log in again "
            "(the 'docker' group is root-equivalent; or run as root)")


class DockerUnavailable(EnvironmentError_):
    """No Docker engine to talk to: the message says how to start one."""


class DockerNotAnswering(DockerUnavailable):
    """Something listens at the engine's address but does not answer: a hung or overloaded engine.

    Unlike an absent engine (nothing to clean up there), this means the lab cannot tell what
    the engine holds, so ``tlslab down`` must not report "nothing to clean up".
    """


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def docker_client(timeout: int = 60, answer_within: float = 10.0) -> "docker.DockerClient":
    """A client that has answered a ping; raises DockerUnavailable saying how to start the engine.

    The version query and the ping must answer within `answer_within` seconds (a socket that
    accepts and never answers must not hold a command for `timeout`); later calls get `timeout`.
    """
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise DockerUnavailable("the Docker SDK for Python is not installed: pip install 'docker>=7'") from None
    try:
        client = docker.from_env(timeout=min(timeout, answer_within))  # type: ignore[arg-type]
        client.ping()
        client.api.timeout = timeout
    except (DockerException, OSError) as exc:  # some transports raise socket errors directly
        reason = _short(exc)
        if reason == "timed out":
            raise DockerNotAnswering(
                f"the Docker engine at {engine_address()} did not answer within {answer_within:g} s: it is hung "
                "or overloaded; check 'docker info' or restart it (e.g. 'sudo systemctl restart docker')") from None
        if reason == "Permission denied":  # the engine runs; this user may not use it
            raise DockerUnavailable(permission_advice()) from None
        raise DockerUnavailable(
            f"cannot reach the Docker engine at {engine_address()} ({reason}): {HOW_TO_START}"
        ) from None
    return client


def unavailable_reason() -> str | None:
    try:
        docker_client(timeout=10).close()
    except DockerUnavailable as exc:
        return str(exc)
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    # requests' connection errors nest several reprs; the innermost reason is what a person needs
    for marker in ("No such file or directory", "Connection refused", "Permission denied", "timed out"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200] if text else type(exc).__name__


def owner_labels(run_id: str, scenario: str, role: str) -> dict[str, str]:
    return {LABEL: "1", RUN_LABEL: run_id, SCENARIO_LABEL: scenario, ROLE_LABEL: role,
            PID_LABEL: str(os.getpid()), HOST_LABEL: socket.gethostname()}


def container_logs(container: Any, tail: int = 40) -> str:
    """The container's last log lines, for an error message (never raises)."""
    try:
        return container.logs(tail=tail).decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - the container may already be gone; the message must still be built
        return "(no logs: the container is gone)"
