"""Draining: this worker is going away (SIGTERM, lifespan shutdown, ``HtagASGI.drain()``).

While draining, the worker starts no user process (a new user gets a 503 with Retry-After,
and a balancer sends them elsewhere), ``/_/readyz`` answers 503, and every open page is told
to reconnect after a random delay (``{"htagweb": {"reconnect": ms}}``): the pages of a
stopping server come back spread over DRAIN_SPREAD seconds, to another node behind a
balancer, or to the restarted server, which finds their processes where they were.

SIGTERM is observed by wrapping the handler the server installed (uvicorn's, hypercorn's,
gunicorn's worker's), which still runs: the server stops as it would without us.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import anyio

logger = logging.getLogger(__name__)

DRAIN_SPREAD = 3.0  # seconds over which the pages of a draining worker reconnect


class Drain:
    """Whether this worker drains, and an event the open pages wait on."""

    def __init__(self, spread: float = DRAIN_SPREAD, rng: Callable[[], float] = random.random):
        self.spread = spread
        self._rng = rng
        self._event = anyio.Event()  # built in the worker's event loop (Services are)
        self.reason = ""

    @property
    def draining(self) -> bool:
        return self._event.is_set()

    def begin(self, reason: str) -> None:
        """Start draining (idempotent); called in the event loop's thread."""
        if not self._event.is_set():
            self.reason = reason
            logger.info("draining (%s): no new user process, pages told to reconnect", reason)
            self._event.set()

    async def wait(self) -> None:
        await self._event.wait()

    def reconnect_delay_ms(self) -> int:
        """A page's delay before reconnecting: uniform over the spread (full jitter)."""
        return int(self._rng() * self.spread * 1000)


def observe_sigterm(on_sigterm: Callable[[], None]) -> bool:
    """Call `on_sigterm` (soon, in this event loop) when the process gets SIGTERM, then
    whatever handler was there before. Only from the main thread; return whether installed.

    Must be called in the running event loop (asyncio or trio) that `on_sigterm` belongs to.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):  # the default (the process just ends: nothing to drain) or
        return False  # ignored, or set outside Python: not ours to change
    wake = _in_this_loop(on_sigterm)

    def handler(signum: int, frame: FrameType | None) -> None:
        try:
            wake()
        except Exception as exc:  # the loop is gone: the server's own handler still runs
            logger.debug("cannot start draining: %s", exc)
        previous(signum, frame)

    signal.signal(signal.SIGTERM, handler)
    return True


def _in_this_loop(callback: Callable[[], None]) -> Callable[[], None]:
    """A signal-safe way to run `callback` in the current event loop (asyncio's or trio's)."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio: trio, whose run_sync_soon is safe in signal handlers
        import trio

        token = trio.lowlevel.current_trio_token()
        return lambda: token.run_sync_soon(callback)

    def wake() -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(callback)

    return wake


def drain_hint(delay_ms: int) -> dict[str, Any]:
    """The control message that asks a page to reconnect after `delay_ms` (the page adds
    its own jitter: docs/reference/protocol.md#control-messages)."""
    return {"htagweb": {"reconnect": {"after_ms": delay_ms}}}
