"""The App of the transport tests: clicks that count (one slowly), a stream of 40 pushes,
a running clock of pushes, and a session write."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any

from htag import Tag

STREAM_LENGTH = 40


class App(Tag.body):
    def init(self, *args: str, **kwargs: str | None) -> None:
        self.count = 0
        self.ticks = 0
        self.value = Tag.span("0", _class="value")
        self.items = Tag.div("", _class="items")  # the stream: "1 2 3 ... 40"
        self.clock = Tag.span("0", _class="ticks")
        self.streamed = Tag.span("0", _class="streamed")
        self.stored = Tag.span("", _class="stored")
        self.add(Tag.div(f"pid={os.getpid()}", _class="pid"))
        self.add(self.value)
        self.add(self.items)
        self.add(self.clock)
        self.add(self.streamed)
        self.add(self.stored)
        self.add(Tag.button("+1", _class="inc", _onclick=self.increment))
        self.add(Tag.button("slow +1", _class="slowinc", _onclick=self.slow_increment))
        self.add(Tag.button("stream", _class="stream", _onclick=self.start_stream))
        self.add(Tag.button("tick", _class="tick", _onclick=self.start_ticking))
        self.add(Tag.button("stored", _class="show", _onclick=self.show_stored))
        self._tasks: set[asyncio.Task[None]] = set()

    def increment(self, _: object) -> None:
        self.count += 1
        self.value.clear(str(self.count))

    async def slow_increment(self, _: object) -> None:
        """Counts after a while, and keeps the count in the session: a reply to lose."""
        await asyncio.sleep(float(os.environ.get("HTAGWEB_TEST_SLOW", "0.4")))
        self.count += 1
        self.session["count"] = self.count
        self.value.clear(str(self.count))

    def show_stored(self, _: object) -> None:
        self.stored.clear(str(self.session.get("count")))

    def start_stream(self, _: object) -> None:
        self._spawn(self._stream())

    def start_ticking(self, _: object) -> None:
        self._spawn(self._tick())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stream(self) -> None:
        """40 pushes, each *appending* a number to the list in the page (a script, not a
        re-rendering of the list): a lost push leaves a gap, a doubled one a repeat. The
        list is kept here too, for a page that gets the App rendered afresh."""
        interval = float(os.environ.get("HTAGWEB_TEST_STREAM_INTERVAL", "0.1"))
        for n in range(1, STREAM_LENGTH + 1):
            await asyncio.sleep(interval)
            self.items.add(Tag.span(str(n), _class="item"))
            html = f'<span class="item">{n}</span>'
            self.items.call(f"self.insertAdjacentHTML('beforeend', '{html}')")
            self.streamed.clear(str(n))
            await self.streamed.update()

    async def _tick(self) -> None:
        """Pushes forever, whether a page is there or not."""
        while True:
            await asyncio.sleep(0.005)
            self.ticks += 1
            self.clock.clear(str(self.ticks))
            await self.clock.update()
