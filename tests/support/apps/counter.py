"""The htag App most tests drive: a counter, pushes, and ways to end or hang its process."""

from __future__ import annotations

import asyncio
import os
import time

from htag import Tag


class App(Tag.body):
    def init(self, *args: str, **kwargs: str | None) -> None:
        self.count = 0
        self.pushes = 0
        self.value = Tag.span("0", _class="value")
        self.pushed = Tag.span("0", _class="pushed")
        self.said = Tag.span("", _class="said")
        self.add(Tag.div(f"pid={os.getpid()}", _class="pid"))
        self.add(Tag.div(f"init={list(args)!r} {sorted(kwargs.items())!r}", _class="init"))
        self.add(self.value)
        self.add(self.pushed)
        self.add(self.said)
        self.add(Tag.button("+1", _class="inc", _onclick=self.increment))
        self.add(Tag.button("push", _class="push", _onclick=self.start_pushes))
        self.add(Tag.button("slow", _class="slow", _onclick=self.slow))
        self.add(Tag.button("exit", _class="exit", _onclick=self.leave))
        self.add(Tag.button("crash", _class="crash", _onclick=self.crash))
        self.add(Tag.button("fail", _class="fail", _onclick=self.fail))
        self.add(Tag.button("say", _class="say", _onclick=self.say))
        self._tasks: set[asyncio.Task[None]] = set()

    def increment(self, _: object) -> None:
        self.count += 1
        self.value.clear(str(self.count))

    def start_pushes(self, _: object) -> None:
        task = asyncio.ensure_future(self._push_three_times())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push_three_times(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0.05)
            self.pushes += 1
            self.pushed.clear(str(self.pushes))
            await self.pushed.update()

    async def slow(self, _: object) -> None:
        await asyncio.sleep(3600)

    def hang(self, _: object) -> None:
        time.sleep(3600)

    def leave(self, _: object) -> None:
        self.exit()

    def crash(self, _: object) -> None:
        os._exit(3)

    def say(self, button: Tag) -> None:
        """Show what the page sent as the event's value (whatever text it is)."""
        self.said.clear(str(button.event.get("value", "")))

    def fail(self, _: object) -> None:
        raise ValueError("deliberate failure")
