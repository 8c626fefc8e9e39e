"""An App showing the event loop its user process runs (tests/proc/test_event_loop.py)."""

from __future__ import annotations

import asyncio

from htag import Tag


class App(Tag.body):
    def init(self) -> None:
        try:
            module = type(asyncio.get_running_loop()).__module__.split(".")[0]
        except RuntimeError:
            module = "none"
        self.add(Tag.div(f"loop={module}", _class="loop"))
