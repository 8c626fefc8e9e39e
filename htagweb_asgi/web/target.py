"""One user's process of one App, as endpoints reach it: where, whose session, how to sync."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from htagweb_asgi.protocol.codes import REPLACED_REASON, Close
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.web.channel import ChannelClosed
from htagweb_asgi.web.failures import LimitReached
from htagweb_asgi.web.pool import ProcessPool, UserChannel
from htagweb_asgi.web.sessionsync import SessionSync

logger = logging.getLogger(__name__)


class Processes(Protocol):
    """Where a key's process is reached: this worker's ProcessPool, or (in a cluster) the
    owner node's processes over the link (cluster/placement.py)."""

    async def connect(self, key: str) -> UserChannel | None: ...

    async def spawn(
        self,
        key: str,
        replace_pid: int | None = None,
        session: str = "",
        *,
        client: str = "",
        mismatch: bool = False,
    ) -> UserChannel: ...

    async def kill(self, key: str, pid: int | None) -> None: ...

    async def rename(self, key: str, pid: int | None, new_key: str, session: str) -> bool: ...


class Placement(Protocol):
    """A cluster's answer to: where is the process of `key` (cluster/node.py)?"""

    async def place(self, pool: ProcessPool, app: str, key: str) -> Processes: ...


@dataclass
class UserTarget:
    """The (session, App) process: its pool and key, and the session it shares (both change
    when the App rotates the session).

    In a cluster, `placement` finds the node owning the process, once per target (a target
    lives for one request or one websocket).
    """

    pool: ProcessPool
    key: str
    sessions: Sessions
    session_id: str
    client: str = ""  # the request's address, as admission control counts it
    app: str = ""  # the App's identity (MountedApp.identity): keys are derived from it
    app_path: str = "/"
    placement: Placement | None = None
    _placed: list[Processes] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def of(
        cls,
        pool: ProcessPool,
        sessions: Sessions,
        session_id: str,
        app: str,
        client: str = "",
        app_path: str = "/",
        placement: Placement | None = None,
    ) -> UserTarget:
        key = sessions.process_key(session_id, app)
        return cls(pool, key, sessions, session_id, client, app, app_path, placement)

    async def processes(self) -> Processes:
        if self.placement is None:
            return self.pool
        if not self._placed:
            self._placed.append(await self.placement.place(self.pool, self.app_path, self.key))
        return self._placed[0]

    @property
    def owner_node(self) -> str | None:
        """The node owning the process, once placed in a cluster (for the node cookie)."""
        owner = getattr(self._placed[0], "owner", None) if self._placed else None
        return getattr(owner, "node", None)

    async def connect(self) -> UserChannel | None:
        return await (await self.processes()).connect(self.key)

    async def spawn(self, replace_pid: int | None = None, mismatch: bool = False) -> UserChannel:
        """The process of this target, started (or replacing `replace_pid`: `mismatch` when
        its page asked for other arguments, else it crashed)."""
        processes = await self.processes()
        tag = self.sessions.tag(self.session_id)
        return await processes.spawn(
            self.key, replace_pid, tag, client=self.client, mismatch=mismatch
        )

    async def kill(self, pid: int | None) -> None:
        await (await self.processes()).kill(self.key, pid)

    async def stop_overdue(self, pid: int | None, seconds: float, what: str) -> str:
        """`what` (an interaction, the App's creation) took more than `seconds`: kill the
        process (the next page load gets a fresh one); return what to tell the user."""
        logger.warning("%s took more than %g s: killing its process", what, seconds)
        await self.kill(pid)
        return f"The application took more than {seconds:g} s to answer and was stopped."

    async def rotate(self, pid: int | None) -> str:
        """The App called ``session.rotate()`` (a login of its own): move the session to a
        new id, keep process `pid` as the new id's, end the old id's other processes (of
        every App); return the new id (the browser still needs its cookie)."""
        old_id, new_id = self.session_id, self.sessions.new_id()
        await self.sessions.move(old_id, new_id)
        new_key = self.sessions.process_key(new_id, self.app)
        tag = self.sessions.tag(new_id)
        processes = await self.processes()  # the same node: the process stays where it is
        if not await processes.rename(self.key, pid, new_key, tag):
            logger.warning("the process that rotated its session is gone: nothing to keep")
        self.key, self.session_id = new_key, new_id
        await self.sessions.end_processes(old_id)
        return new_id

    async def limit_message(self, pid: int | None) -> str | None:
        """What to tell the user if process `pid` was ended for passing a limit (its
        template says so once it has reaped it); None otherwise (a crash, or unknown). Only
        this node's template knows: a process forwarded to another node is never asked."""
        if self._placed and getattr(self._placed[0], "forwarded", False):
            return None
        ended = await self.pool.why_ended(pid)
        if ended.get("reason") != "limit":
            return None
        return str(ended.get("message") or "This session reached a limit.")

    async def raise_if_limited(self, pid: int | None) -> None:
        """Raise LimitReached if the process `pid` was ended for passing a limit."""
        message = await self.limit_message(pid)
        if message is not None:
            raise LimitReached(message)

    def session_sync(self) -> SessionSync:
        """A fresh sync: for a channel to a process whose session we have not sent yet."""
        return SessionSync(self.sessions, self.session_id, self.rotate)


CRASHED_REASON = "The application stopped unexpectedly."
HELLO_WAIT = 2.0  # seconds a live process takes to greet a new connection, at most


async def why_gone(target: UserTarget, pid: int | None) -> tuple[Close, str]:
    """Process `pid` of `target` ended without a word: what to tell its page.

    Its template may have ended it for passing a limit: LIMIT, with what the user is told.
    When another process answers for the key, a page with other arguments replaced it
    (the template kills the process it replaces): REPLACED, not a crash. Telling the page to
    reload would replace that process in turn. A connection that the dying process's
    listening socket still took is never greeted: a crash.
    """
    limit = await target.limit_message(pid)
    if limit is not None:
        return Close.LIMIT, limit
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
