"""Whether this worker can serve its Apps, checked at startup rather than found out by every
request: the runtime directory (ours, private, short enough for sockets), the state
directory and the secret key, the session store.

A problem is logged once, with what to change, and every page meanwhile is a clear 503 (a
websocket is closed with UNAVAILABLE, a POST gets a 503 JSON). While there is a problem it is
checked again every RECHECK seconds, so fixing it needs no restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio

from htagweb_asgi import paths
from htagweb_asgi.sessions.core import Sessions

logger = logging.getLogger(__name__)

RECHECK = 5.0  # seconds between two checks while something is wrong
PROBE_EVERY = 1.0  # /_/readyz checks again at most this often (probes are frequent)


class Readiness:
    """The result of the startup checks of one worker."""

    def __init__(
        self,
        sessions: Sessions,
        runtime_dir: str | None,
        clock: Callable[[], float] = time.monotonic,
        extra: Callable[[], str | None] | None = None,
    ) -> None:
        self._extra = extra  # a cluster node's own checks (HtagASGI._cluster_problem)
        self._sessions = sessions
        self._runtime_dir = runtime_dir
        self._clock = clock
        self._problem: str | None = None
        self._checked_at: float | None = None

    @property
    def problem(self) -> str | None:
        """What is wrong, as last checked (None: nothing)."""
        return self._problem

    async def check(self) -> str | None:
        """Check now if never checked, or if a problem is due for another look; return it."""
        due = self._checked_at is None or (
            self._problem is not None and self._clock() - self._checked_at >= RECHECK
        )
        if due:
            self._checked_at = self._clock()
            problem = await anyio.to_thread.run_sync(self._find_problem)
            if problem and problem != self._problem:
                logger.error("cannot serve the htag Apps: %s", problem)
            elif not problem and self._problem:
                logger.info("the htag Apps can be served again")
            self._problem = problem
        return self._problem

    async def probe(self) -> str | None:
        """For ``/_/readyz``: check again (at most every PROBE_EVERY s); return the problem."""
        if self._checked_at is None or self._clock() - self._checked_at >= PROBE_EVERY:
            self._checked_at = None
        return await self.check()

    def _find_problem(self) -> str | None:
        base = self._runtime_dir or paths.default_base()
        try:
            paths.check_base(base)
        except paths.RuntimeDirError as exc:
            return str(exc)
        except OSError as exc:
            return f"cannot create the runtime directory {base!r} ({exc}): choose a runtime_dir"
        try:
            self._sessions.check()
        except Exception as exc:  # whatever the store or the file system says, said plainly
            return (
                f"the sessions cannot be used ({type(exc).__name__}: {exc}): check that the "
                f"state directory ({paths.STATE_ENV_VAR}, else ~/.local/state/htagweb-asgi) "
                "is writable by this user, and the session store reachable"
            )
        return self._extra() if self._extra is not None else None
