"""One user's process of one App, as endpoints reach it: where, whose session, how to sync."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio

from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.web.channel import ChannelClosed
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

    def session_sync(self) -> SessionSync:
        """A fresh sync: for a channel to a process whose session we have not sent yet."""
        return SessionSync(self.sessions, self.session_id)


CRASHED_REASON = "The application stopped unexpectedly."
REPLACED_REASON = (
    "This application was opened again with other arguments (in another tab?): "
    "reload this page to use it here."
)
HELLO_WAIT = 2.0  # seconds a live process takes to greet a new connection, at most


async def why_gone(target: UserTarget, pid: int | None) -> tuple[Close, str]:
    """Process `pid` of `target` ended without a word: what to tell its page.

    When another process answers for the key, a page with other arguments replaced it
    (the template kills the process it replaces): REPLACED, not a crash. Telling the page to
    reload would replace that process in turn. A connection that the dying process's
    listening socket still took is never greeted: a crash.
    """
    other = await target.connect()
    if other is None:
        return Close.CRASHED, CRASHED_REASON
    answering = None
    try:
        with anyio.move_on_after(HELLO_WAIT):
            answering = await other.hello()
    except ChannelClosed:
        pass
    finally:
        await other.aclose()
    if answering is None or answering == pid:
        return Close.CRASHED, CRASHED_REASON
    return Close.REPLACED, REPLACED_REASON
