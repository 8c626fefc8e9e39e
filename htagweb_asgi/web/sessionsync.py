"""Keep a user process's session in step with the store, over one channel.

Before a page or an interaction the host sends the session as stored (SESSION), unless the
process already has exactly that; the process answers what the App changed (CHANGES) before
its reply, and the host saves those keys. So a route's write is seen at the App's next page
load or interaction, and the App's writes are stored before the page sees their effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from htagweb_asgi.protocol.frames import Kind, load_json
from htagweb_asgi.sessions.core import Sessions, SessionStoreError
from htagweb_asgi.sessions.values import Snapshot
from htagweb_asgi.web.channel import Channel


class SessionSync:
    """The session of one channel to a user process."""

    def __init__(
        self,
        sessions: Sessions,
        session_id: str,
        rotate: Callable[[int | None], Awaitable[str]] | None = None,
    ) -> None:
        self.sessions = sessions
        self.session_id = session_id
        self.rotated = False  # the App rotated the session: the browser needs a new cookie
        self._rotate = rotate  # UserTarget.rotate: new id, process kept (see ROTATE)
        self._sent: Snapshot | None = None  # what the process has, as far as we know
        self._stamp: Hashable | None = None  # the store's stamp when we last loaded

    async def send_if_changed(self, channel: Channel) -> None:
        """Send the stored session when it differs from what the process has.

        The store is read only when its stamp moved since our last read: an interaction of
        an App whose session nobody writes costs no read.
        """
        stamp = self.sessions.stamp(self.session_id)  # before the load: a write after it
        if stamp is not None and stamp == self._stamp:  # moves the next stamp
            return
        snapshot = await self.sessions.load(self.session_id)
        self._stamp = stamp
        if snapshot != self._sent:
            await channel.send_json(Kind.SESSION, snapshot)
            self._sent = snapshot

    async def receive(self, channel: Channel, pid: int | None = None) -> tuple[Kind, bytes]:
        """The process's next frame that is not CHANGES or ROTATE, storing the CHANGES and
        rotating the session as they come (before the reply: the store has them before the
        page sees their effect). `pid` is the process's, for a rotation."""
        while True:
            kind, payload = await channel.receive()
            if kind is Kind.CHANGES:
                await self.save(payload)
            elif kind is Kind.ROTATE:
                await self.rotate(pid)
            else:
                return kind, payload

    async def rotate(self, pid: int | None) -> str:
        """The App asked for a new session id: return the new id (`rotated` says the
        browser must be given its cookie)."""
        if self._rotate is None:
            raise SessionStoreError("this session cannot be rotated here")
        self.session_id = await self._rotate(pid)
        self.rotated = True
        self._stamp = None  # the store's content moved with the id: what we sent stays true
        return self.session_id

    async def save(self, payload: bytes) -> None:
        """Store a CHANGES frame from the process."""
        changes: dict[str, Any] = load_json(payload)
        await self.sessions.save(self.session_id, changes)
        sent = dict(self._sent or {})
        for key, text in changes.items():
            if text is None:
                sent.pop(key, None)
            else:
                sent[key] = text
        self._sent = sent
