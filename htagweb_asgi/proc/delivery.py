"""Pushes from a user process to its pages: numbered, kept for a while, caught up on attach.

Each page connection that takes pushes (a websocket, or a Server-Sent Events stream) is a
:class:`Subscriber`. A page that says which push it has last (``resume``) gets every push as
an EVENT frame (its number, then the page's message, sealed for a parano page), first the
ones it missed (pushlog.py: those kept, or one full rendering of the App), then the new ones.
A bare client (no ``resume``) gets PUSH frames with htag's own payloads only, as they come
(and first what the App kept for it: htag 2's engine keeps what no page took).

Frames are written with no await between taking a push's number and writing it to every
subscriber (then drained): a subscriber sees pushes in order, and none between its catch-up
and the next one is lost or doubled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from htagweb_asgi.parano.link import ParanoLink
from htagweb_asgi.proc.pagewire import push_message
from htagweb_asgi.proc.pushlog import Entry, PushLog
from htagweb_asgi.protocol.frames import PUSH_NUMBER, Kind, encode

logger = logging.getLogger(__name__)


class Peer(Protocol):
    """A host connection, as delivery writes to it (user.Connection)."""

    parano: ParanoLink | None

    def write(self, frame: bytes) -> None: ...

    async def drain(self) -> None: ...


class Subscriber:
    """One page connection that takes pushes."""

    def __init__(self, peer: Peer, page: str | None, resume: int | None) -> None:
        self.peer = peer
        self.page = page  # the page's token: its own interactions' effects are not for it
        self.resume = resume  # the last push it has; None: a bare client
        self.started = False  # caught up: new pushes go to it as they come

    def frame(self, seq: int, data: bytes) -> bytes:
        message = data if self.resume is None else push_message(seq, data)
        if self.peer.parano is not None:
            message = self.peer.parano.seal(message)
        if self.resume is None:
            return encode(Kind.PUSH, message)
        return encode(Kind.EVENT, PUSH_NUMBER.pack(seq) + message)

    def wants(self, entry: Entry) -> bool:
        if self.resume is None:
            return not entry.echo
        return entry.is_for(self.page)


class Delivery:
    """The push log of one App and the connections subscribed to it."""

    def __init__(self, full_rendering: Callable[[], bytes]) -> None:
        self.log = PushLog()
        self._full_rendering = full_rendering  # htag's actions that re-render the whole App
        self._subscribers: dict[Peer, Subscriber] = {}

    def subscribe(self, peer: Peer, page: str | None, resume: int | None) -> Subscriber:
        subscriber = Subscriber(peer, page, resume)
        self._subscribers[peer] = subscriber
        return subscriber

    def unsubscribe(self, peer: Peer) -> None:
        self._subscribers.pop(peer, None)

    def subscriber(self, peer: Peer) -> Subscriber | None:
        return self._subscribers.get(peer)

    @property
    def subscribed(self) -> int:
        """How many page connections take pushes (caught up or not yet)."""
        return len(self._subscribers)

    def start(self, subscriber: Subscriber, kept: bytes | None = None) -> None:
        """Write what `subscriber` missed; from now on it gets every push (drain it after).
        `kept`: what the App kept for a page while none took its pushes, for a bare client
        (a page that resumes gets them from the log)."""
        if subscriber.resume is None and kept is not None:
            subscriber.peer.write(subscriber.frame(0, kept))
        if subscriber.resume is not None:
            missed = self.log.since(subscriber.resume, subscriber.page)
            if missed is None:
                logger.debug("a page missed pushes no longer kept: a full rendering instead")
                subscriber.peer.write(subscriber.frame(self.log.seq, self._full_rendering()))
            else:
                for entry in missed:
                    assert entry.data is not None  # since() says None for a full rendering
                    subscriber.peer.write(subscriber.frame(entry.seq, entry.data))
        subscriber.started = True

    async def push(self, data: bytes | None, origin: str | None = None, echo: bool = False) -> int:
        """Number `data` (None: a change only a full rendering shows), keep it, and send it to
        the subscribers it is for; return how many took it now."""
        entry = self.log.append(data, origin, echo)
        if data is None:
            return 0
        written, gone = [], []
        for subscriber in self._subscribers.values():
            if subscriber.started and subscriber.wants(entry):
                try:
                    subscriber.peer.write(subscriber.frame(entry.seq, data))
                except ConnectionError:  # closed by the host: its reader forgets it soon
                    gone.append(subscriber.peer)
                    continue
                written.append(subscriber)
        for peer in gone:
            self.unsubscribe(peer)
        took = 0
        for subscriber in written:
            try:
                await subscriber.peer.drain()
                took += 1
            except ConnectionError:
                self.unsubscribe(subscriber.peer)
        return took

    def others_watching(self, page: str | None) -> bool:
        """Whether a page other than `page` takes interactions' effects now (so rendering them
        for it is worth it; else a mark in the log will do)."""
        return any(
            s.started and s.resume is not None and s.page != page
            for s in self._subscribers.values()
        )
