"""The benchmark's counter for htag 2: bench/apps/counter.py's page, as a ``Tag.App``.

A ``+1`` button re-rendering a span, and a ``push`` button whose background task calls
``update()`` PUSHES times, the server's wall clock (ns) in the pushed span's ``data-t``.
The page shows the process id, so the harness finds a user's process without guessing.
"""

from __future__ import annotations

import asyncio
import os
import time

from htag import Tag

PUSHES = 3
PUSH_INTERVAL = 0.06  # seconds between two pushes: past htag 2's 0.05 s update() throttle


class App(Tag.App):
    def init(self) -> None:
        self.count = 0
        self.pushes = 0
        Tag.div(f"pid={os.getpid()}", _class="pid")
        self.value = Tag.span("0", _class="value")
        self.pushed = Tag.span("", _class="pushed", _data_t="0")
        Tag.button("+1", _class="inc", _onclick=self.increment)
        Tag.button("push", _class="push", _onclick=self.start_pushes)
        self._tasks: set[asyncio.Task[None]] = set()

    def increment(self, _event: object) -> None:
        self.count += 1
        self.value.text = str(self.count)

    def start_pushes(self, _event: object) -> None:
        task = asyncio.ensure_future(self._push_round())
        self._tasks.add(task)  # keep a reference: the loop holds tasks only weakly
        task.add_done_callback(self._tasks.discard)

    async def _push_round(self) -> None:
        for _ in range(PUSHES):
            await asyncio.sleep(PUSH_INTERVAL)
            self.pushes += 1
            self.pushed.text = str(self.pushes)
            self.pushed["data-t"] = str(time.time_ns())
            self.pushed.update()
