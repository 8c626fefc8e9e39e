"""A second App, for hosts that serve several."""

from __future__ import annotations

import os

from htag import Tag


class Other(Tag.body):
    def init(self) -> None:
        self.clicks = 0
        self.value = Tag.span("0", _class="value")
        self.add(Tag.div(f"pid={os.getpid()}", _class="pid"))
        self.add(Tag.h1("other"))
        self.add(self.value)
        self.add(Tag.button("+1", _class="inc", _onclick=self.increment))

    def increment(self, _: object) -> None:
        self.clicks += 1
        self.value.clear(str(self.clicks))
