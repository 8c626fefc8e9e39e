"""One user's process of one App, as endpoints reach it: where, whose session, how to sync."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.web.failures import LimitReached
from htagweb_asgi.web.pool import ProcessPool, UserChannel
from htagweb_asgi.web.sessionsync import SessionSync

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserTarget:
    """The (session, App) process: its pool and key, and the session it shares."""

    pool: ProcessPool
    key: str
    sessions: Sessions
    session_id: str

    @classmethod
    def of(cls, pool: ProcessPool, sessions: Sessions, session_id: str, app: str) -> UserTarget:
        return cls(pool, sessions.process_key(session_id, app), sessions, session_id)

    async def connect(self) -> UserChannel | None:
        return await self.pool.connect(self.key)

    async def spawn(self, replace_pid: int | None = None) -> UserChannel:
        return await self.pool.spawn(self.key, replace_pid, self.sessions.tag(self.session_id))

    async def kill(self, pid: int | None) -> None:
        await self.pool.kill(self.key, pid)

    async def stop_overdue(self, pid: int | None, seconds: float, what: str) -> str:
        """`what` (an interaction, the App's creation) took more than `seconds`: kill the
        process (the next page load gets a fresh one); return what to tell the user."""
        logger.warning("%s took more than %g s: killing its process", what, seconds)
        await self.kill(pid)
        return f"The application took more than {seconds:g} s to answer and was stopped."

    async def raise_if_limited(self, pid: int | None) -> None:
        """Raise LimitReached if the process `pid` was ended for passing a limit (its
        template says so once it has reaped it); return otherwise (a crash, or unknown)."""
        ended = await self.pool.why_ended(pid)
        if ended.get("reason") == "limit":
            raise LimitReached(str(ended.get("message") or "This session reached a limit."))

    def session_sync(self) -> SessionSync:
        """A fresh sync: for a channel to a process whose session we have not sent yet."""
        return SessionSync(self.sessions, self.session_id)
