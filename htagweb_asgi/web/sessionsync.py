"""Keep a user process's session in step with the store, over one channel.

Before a page or an interaction the host sends the session as stored (SESSION), unless the
process already has exactly that; the process answers what the App changed (CHANGES) before
its reply, and the host saves those keys. So a route's write is seen at the App's next page
load or interaction, and the App's writes are stored before the page sees their effect.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from htagweb_asgi.protocol.frames import Kind, load_json
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.values import Snapshot
from htagweb_asgi.web.channel import Channel


class SessionSync:
    """The session of one channel to a user process."""

    def __init__(self, sessions: Sessions, session_id: str) -> None:
        self.sessions = sessions
        self.session_id = session_id
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

    async def receive(self, channel: Channel) -> tuple[Kind, bytes]:
        """The process's next frame that is not CHANGES, storing the CHANGES before it (they
        come before the reply: the store has them before the page sees their effect)."""
        while True:
            kind, payload = await channel.receive()
            if kind is not Kind.CHANGES:
                return kind, payload
            await self.save(payload)

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
