"""What the nginx tests share: the Docker requirement (skip only outside CI) and small waits.

Under CI=true a missing Docker engine, nginx package or compose tool is a failure, never a skip:
CI must not pass by skipping the container tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from conftest import skip_or_fail
from lab.nginx.engine import unavailable_reason

T = TypeVar("T")


def require_docker() -> None:
    """Skip (fail under CI=true) when no Docker engine answers, naming how to start one."""
    reason = unavailable_reason()
    if reason:
        skip_or_fail(f"the nginx backend needs Docker: {reason}")
    if not os.path.exists("/usr/sbin/nginx") and not os.environ.get("TLSLAB_NGINX_IMAGE"):
        skip_or_fail("the lab's nginx image is built from the host's nginx: apt-get install nginx-light "
                     "(or set TLSLAB_NGINX_IMAGE to a local nginx image)")


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
