"""The htag 2 twin of tests/support/apps/counter.py: the same page, the same buttons.

htag 2 builds its App with no arguments: the page shows the query it was loaded with
(``self.request``), re-read at every render. With HTAGWEB_TEST_DESTROYED set, ``on_destroy``
leaves a file named after the process id in that directory.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from htag import Tag


class App(Tag.App):
    def init(self) -> None:
        self.count = 0
        self.pushes = 0
        Tag.div(f"pid={os.getpid()}", _class="pid")
        Tag.div(lambda: f"query={sorted(self.request.query_params.multi_items())!r}", _class="init")
        self.value = Tag.span("0", _class="value")
        self.pushed = Tag.span("0", _class="pushed")
        Tag.button("+1", _class="inc", _onclick=self.increment)
        Tag.button("push", _class="push", _onclick=self.start_pushes)
        Tag.button("slow", _class="slow", _onclick=self.slow)
        Tag.button("exit", _class="exit", _onclick=self.leave)
        Tag.button("crash", _class="crash", _onclick=self.crash)
        Tag.button("fail", _class="fail", _onclick=self.fail)
        self._tasks: set[asyncio.Task[None]] = set()

    def increment(self, _: object) -> None:
        self.count += 1
        self.value.text = str(self.count)

    def start_pushes(self, _: object) -> None:
        task = asyncio.ensure_future(self._push_three_times())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push_three_times(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0.1)  # past htag's 0.05 s throttle: three pushes, not one
            self.pushes += 1
            self.pushed.text = str(self.pushes)
            self.pushed.update()

    async def slow(self, _: object) -> None:
        await asyncio.sleep(3600)

    def hang(self, _: object) -> None:
        time.sleep(3600)

    def leave(self, _: object) -> None:
        self.exit()

    def crash(self, _: object) -> None:
        os._exit(3)

    def fail(self, _: object) -> None:
        raise ValueError("deliberate failure")

    def on_destroy(self) -> None:
        directory = os.environ.get("HTAGWEB_TEST_DESTROYED")
        if directory:
            Path(directory, str(os.getpid())).write_text(str(self.count))
