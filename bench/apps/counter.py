"""The benchmark's counter: a ``+1`` button re-rendering a span, and a ``push`` button.

The push button starts a background task that calls ``update()`` PUSHES times; each pushed
span carries the server's wall clock (``data-t``, ns) taken just before ``update()``, so the
client measures update() → receipt. The page shows the process id, so the harness can find
the user's process (its memory) without guessing.
"""

from __future__ import annotations

import asyncio
import os
import time

from htag import Tag

PUSHES = 3
PUSH_INTERVAL = 0.01  # seconds between two pushes of one round


class App(Tag.body):
    def init(self, *args: str, **kwargs: str | None) -> None:
        self.count = 0
        self.pushes = 0
        self.value = Tag.span("0", _class="value")
        self.pushed = Tag.span("", _class="pushed", _data_t="0")
        self.add(Tag.div(f"pid={os.getpid()}", _class="pid"))
        self.add(self.value)
        self.add(self.pushed)
        self.add(Tag.button("+1", _class="inc", _onclick=self.increment))
        self.add(Tag.button("push", _class="push", _onclick=self.start_pushes))
        self._tasks: set[asyncio.Task[None]] = set()

    def increment(self, _event: object) -> None:
        self.count += 1
        self.value.clear(str(self.count))

    def start_pushes(self, _event: object) -> None:
        task = asyncio.ensure_future(self._push_round())
        self._tasks.add(task)  # keep a reference: the loop holds tasks only weakly
        task.add_done_callback(self._tasks.discard)

    async def _push_round(self) -> None:
        for _ in range(PUSHES):
            await asyncio.sleep(PUSH_INTERVAL)
            self.pushes += 1
            self.pushed.clear(str(self.pushes))
            self.pushed["data-t"] = str(time.time_ns())
            await self.pushed.update()
