"""A user who may not use the Docker engine is told so, and how to fix it: not "start the engine"."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from nginx_support import require_docker


def _reason_as_nobody(queue: "multiprocessing.Queue[str | None]") -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)  # nobody: not root, not in the docker group
    from lab.nginx.engine import unavailable_reason
    queue.put(unavailable_reason())


def test_a_user_outside_the_docker_group_gets_the_real_reason() -> None:
    require_docker()  # the engine runs (and answers root)
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user (CI runs as root)")
    import docker  # noqa: F401  (loaded before dropping privileges: the venv may not be readable by nobody)

    import lab.nginx.engine  # noqa: F401  (likewise the checkout)

    ctx = multiprocessing.get_context("fork")
    queue: "multiprocessing.Queue[str | None]" = ctx.Queue()
    child = ctx.Process(target=_reason_as_nobody, args=(queue,))
    child.start()
    reason = queue.get(timeout=30)
    child.join(10)
    assert reason is not None
    assert "is running, but user nobody" in reason and "usermod -aG docker" in reason, reason
    assert "systemctl start docker" not in reason
