"""One Twisted reactor per process, running in a daemon thread, driven from the caller's thread.

The harness and the CLI are synchronous; the servers are Twisted. The reactor can run only
once per process, so it starts on first use and stops at interpreter exit. Every call into
it goes through :func:`call`, which blocks until the reactor thread has done the work.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import reactor as _reactor
from twisted.internet.interfaces import IReactorCore
from twisted.internet.threads import blockingCallFromThread

T = TypeVar("T")
_lock = threading.Lock()
_thread: threading.Thread | None = None


def reactor() -> Any:
    """The running reactor (started in its thread on first use)."""
    global _thread
    with _lock:
        if _thread is None:
            ready = threading.Event()
            _reactor.callWhenRunning(ready.set)  # type: ignore[attr-defined,misc]
            _thread = threading.Thread(
                target=_reactor.run, kwargs={"installSignalHandlers": False},  # type: ignore[attr-defined,misc]
                name="tlslab-reactor", daemon=True,
            )
            _thread.start()
            ready.wait(10)
            atexit.register(_stop)
            # A thread pool sized for probes and gateways running at once on 2 cores.
            _reactor.suggestThreadPoolSize(16)  # type: ignore[attr-defined,misc]
    return _reactor


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` in the reactor thread and return its result (a Deferred's result is awaited)."""
    return blockingCallFromThread(reactor(), fn, *args, **kwargs)  # type: ignore[no-any-return]


def _stop() -> None:
    core: IReactorCore = _reactor  # type: ignore[assignment]
    if _thread is not None and _thread.is_alive() and core.running:
        _reactor.callFromThread(_reactor.stop)  # type: ignore[attr-defined,misc]
        _thread.join(5)
