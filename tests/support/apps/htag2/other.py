"""The htag 2 twin of tests/support/apps/other.py: a second App, for hosts that serve several."""

from __future__ import annotations

import os

from htag import Tag


class Other(Tag.App):
    def init(self) -> None:
        self.clicks = 0
        Tag.div(f"pid={os.getpid()}", _class="pid")
        Tag.h1("other")
        self.value = Tag.span("0", _class="value")
        Tag.button("+1", _class="inc", _onclick=self.increment)

    def increment(self, _: object) -> None:
        self.clicks += 1
        self.value.text = str(self.clicks)
