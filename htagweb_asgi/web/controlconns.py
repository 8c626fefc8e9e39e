"""A worker's idle connections to its App's template, kept for the next request.

Every new user needs one request to the template (SPAWN). Connecting for each one costs a
``connect()`` here and an ``accept()``, a loop turn and a ``close()`` in the template, and,
on the portable path, the secret's handshake too: ~5 % of the server's CPU per new user
(bench/profiles). The template answers any number of requests on one connection, in order,
so a connection that answered is as good as new. One request at a time uses a connection:
concurrent requests take other connections, or open new ones.

A connection whose request did not end with its reply (an error, a cancellation: the reply
may still come and would answer the next request) is closed, never kept. A kept connection
can have gone stale meanwhile (the template was renewed or restarted and closed it): the
request then goes again on another connection. Every request is safe to repeat (a SPAWN
finds the process it started, a KILL names its pid), as the pool's own retry assumes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol.frames import Kind

if TYPE_CHECKING:  # not imported at run time: this module stays a floor below the channel's
    from htagweb_asgi.web.channel import Channel

MAX_IDLE = 4  # connections kept: as many requests at once as a burst of arrivals makes


class ControlConnections:
    """Idle connections to one template, at most `max_idle` of them."""

    def __init__(self, connect: Callable[[], Awaitable[Channel]], max_idle: int = MAX_IDLE) -> None:
        self._connect = connect
        self._max_idle = max_idle
        self._idle: list[Channel] = []

    def __len__(self) -> int:
        return len(self._idle)

    async def request(self, kind: Kind, obj: Any) -> tuple[Kind, Any]:
        """The template's reply to one request. Raises OSError or ChannelClosed when a fresh
        connection fails (a kept one that fails is replaced by a fresh one first)."""
        while self._idle:
            channel = self._idle.pop()
            try:
                return await self._exchange(channel, kind, obj)
            except (OSError, HtagwebError):  # ChannelClosed, an HtagwebError
                continue  # stale: the template closed it
        return await self._exchange(await self._connect(), kind, obj)

    async def _exchange(self, channel: Channel, kind: Kind, obj: Any) -> tuple[Kind, Any]:
        try:
            reply = await channel.request(kind, obj)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await channel.aclose()
            raise
        if len(self._idle) < self._max_idle:
            self._idle.append(channel)
        else:
            await channel.aclose()
        return reply

    async def aclose(self) -> None:
        """Close every kept connection (the template is gone, or this worker stops)."""
        idle, self._idle = self._idle, []
        with anyio.CancelScope(shield=True):
            for channel in idle:
                await channel.aclose()
