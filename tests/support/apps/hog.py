"""An App that goes past its limits on demand: 2 GiB of memory, or CPU for a minute."""

from __future__ import annotations

import os
import time

from htag import Tag

BLOCK = 16 << 20  # bytes allocated (and written: pages only count once touched) at a time


class App(Tag.body):
    def init(self) -> None:
        self.blocks: list[bytes] = []
        self.count = 0
        self.value = Tag.span("0", _class="value")
        self.add(Tag.div(f"pid={os.getpid()}", _class="pid"))
        self.add(self.value)
        self.add(Tag.button("+1", _class="inc", _onclick=self.increment))
        self.add(Tag.button("hog", _class="hog", _onclick=self.hog))
        self.add(Tag.button("burn", _class="burn", _onclick=self.burn))

    def increment(self, _: object) -> None:
        self.count += 1
        self.value.clear(str(self.count))

    def hog(self, _: object) -> None:
        for _ in range((2 << 30) // BLOCK):  # 2 GiB
            self.blocks.append(b"x" * BLOCK)

    def burn(self, _: object) -> None:
        deadline = time.process_time() + 60
        while time.process_time() < deadline:
            pass
