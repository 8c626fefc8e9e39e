"""One user's process of one App, as endpoints reach it: where, whose session, how to sync."""

from __future__ import annotations

from dataclasses import dataclass

from .pool import ProcessPool, UserChannel
from .sessions import Sessions
from .sessionsync import SessionSync


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

    def session_sync(self) -> SessionSync:
        """A fresh sync: for a channel to a process whose session we have not sent yet."""
        return SessionSync(self.sessions, self.session_id)
