"""One Redis client per worker process, shared by the session store and the cluster, and
whether Redis answers: the one log line and the counters of an outage.

redis-py's *synchronous* client, called in worker threads (``anyio.to_thread``) or from
threads of its own: workers run asyncio or trio (``hypercorn -k trio``), and redis-py's
asyncio client runs on asyncio only. A thread hop costs tens of microseconds beside a
Redis round trip of about a hundred, and Redis is asked at page loads, websocket connects
and heartbeats, not at every click (see sessions/redisstore.py for the clicks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RedisHealth:
    """Whether Redis answered the last command: an outage is logged once when it starts and
    once when it ends, and counted (``outages``, ``failures``) for the metrics."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.up = True
        self.outages = 0  # times Redis went from answering to not
        self.failures = 0  # commands that failed
        self._down_since = 0.0
        self._clock = clock
        self._lock = threading.Lock()

    def succeeded(self) -> None:
        if self.up:
            return
        with self._lock:
            if not self.up:
                self.up = True
                seconds = self._clock() - self._down_since
                logger.warning("Redis at %s answers again (after %.1f s)", self.url, seconds)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.failures += 1
            if self.up:
                self.up = False
                self.outages += 1
                self._down_since = self._clock()
                logger.error(
                    "Redis at %s does not answer (%s: %s): users keep their processes, new "
                    "page loads get a 503 until it does",
                    _redacted(self.url),
                    type(exc).__name__,
                    exc,
                )

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run one blocking Redis call, noting whether Redis answered (re-raises)."""
        import redis

        try:
            result = function(*args)
        except (redis.RedisError, OSError) as exc:
            self.failed(exc)
            raise
        self.succeeded()
        return result


def _redacted(url: str) -> str:
    """The URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}***@{host}" if at and credentials else url


def connect(url: str, timeout: float) -> redis.Redis:
    """A client with bounded waits: a Redis that does not answer within `timeout` is down.

    Raises ImportError (with the extra to install) when redis-py is missing.
    """
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "cluster mode needs redis-py: pip install 'htagweb-asgi[cluster]'"
        ) from exc
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),  # one retry: a connection the server closed meanwhile
        health_check_interval=15,
        decode_responses=False,
    )
