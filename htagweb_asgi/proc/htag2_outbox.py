"""Where every payload an htag 2 App renders goes, in the order it rendered them.

htag 2 pushes by calling ``send_text`` on every object in ``app.websockets``: for each
broadcast (a State change, ``update()`` from a task, a generator's step, an ``on_mount``
generator) and for the reply of an event (the payload carrying its ``callback_id``). The App
gets one such object, an :class:`Outbox`, which sorts them:

- while an event runs, its reply (the payload with its callback id, and anything rendered
  after it) is kept for the reply frame;
- everything else is pushed at once to the subscribed pages (generator steps stream);
- what no page could take (no websocket page: ``http_only``, or between a page load and
  its websocket) is kept, and goes first in the next reply or to the next websocket page;
  past MAX_KEPT the kept payloads become one update of the whole body.

One lock keeps the order: a payload leaves only once the one rendered before it has, and a
reply is collected only once every push rendered before it has been written.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from htagweb_asgi.proc.engine import Push

logger = logging.getLogger(__name__)

MAX_KEPT = 1000  # htag 2's own cap for the payloads of its pure-HTTP fallback


class _Reply:
    """The reply being collected for the running event."""

    def __init__(self, callback_id: str | None) -> None:
        self.callback_id = callback_id
        self.needle = None if callback_id is None else json.dumps(callback_id)
        self.payloads: list[str] = []

    def takes(self, text: str) -> bool:
        if self.payloads:
            return True  # rendered after the reply: stays behind it
        if self.needle is None or self.needle not in text:
            return False
        try:  # a tag's HTML may contain the id too: confirm on the parsed payload
            return bool(json.loads(text).get("callback_id") == self.callback_id)
        except (ValueError, AttributeError):
            return False


class Outbox:
    """The one "websocket" of an htag 2 App (htag only ever calls ``send_text`` on it)."""

    def __init__(self, push: Push, full_body: Callable[[], str]) -> None:
        self._push = push
        self._full_body = full_body  # one payload that redraws the whole page
        self._order = asyncio.Lock()
        self._reply: _Reply | None = None
        self._kept: list[str] = []
        self.closed = False  # the App was destroyed: nothing leaves any more

    async def send_text(self, text: str) -> None:
        """Called by htag for every payload; never raises (htag drops a client that does)."""
        async with self._order:
            if self._reply is not None and self._reply.takes(text):
                self._reply.payloads.append(text)
                return
            if self.closed:
                return
            try:
                delivered = await self._push(text.encode())
            except Exception:
                logger.exception("a push failed")
                delivered = False
            if not delivered:
                self.keep([text])

    def keep(self, payloads: list[str]) -> None:
        """Keep payloads no page took, for the next reply or websocket page."""
        self._kept.extend(payloads)
        if len(self._kept) > MAX_KEPT:
            self._kept = [self._full_body()]

    def forget(self) -> None:
        """A page was rendered whole: what was kept is in it."""
        self._kept.clear()

    def expect_reply(self, callback_id: str | None) -> None:
        """An event is about to run: keep its reply (no await between this and the event)."""
        self._reply = _Reply(callback_id)

    async def take(self) -> list[str]:
        """Once every payload rendered so far has left: the kept ones, then the reply."""
        async with self._order:
            reply, self._reply = self._reply, None
            payloads, self._kept = self._kept, []
            if reply is not None:
                payloads.extend(reply.payloads)
            return payloads
