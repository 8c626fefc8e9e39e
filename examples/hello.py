"""The smallest htagweb-asgi App: ``python examples/hello.py``, then open http://localhost:8000/

Each visitor gets their own process: open a second browser (or a private window) and its
counter starts at 0. The clock is pushed by the server (``tag.update()``) every second.
"""

from __future__ import annotations

import asyncio
import os
import time

from htag import Tag

from htagweb_asgi import HtagASGI


class App(Tag.body):
    def init(self) -> None:
        self.count = 0
        self.value = Tag.b("0", _class="count")
        self.clock = Tag.span(time.strftime("%H:%M:%S"), _class="clock")
        self.add(Tag.h1("Hello from htagweb-asgi"))
        self.add(Tag.p(f"Your own process: pid {os.getpid()}"))
        self.add(
            Tag.p(
                [
                    "Clicks: ",
                    self.value,
                    " ",
                    Tag.button("+1", _class="increment", _onclick=self.increment),
                ]
            )
        )
        self.add(Tag.p(["Server clock (pushed): ", self.clock]))
        self._ticker = asyncio.ensure_future(self.tick())

    def increment(self, _event: object) -> None:
        self.count += 1
        self.value.clear(str(self.count))

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.clock.clear(time.strftime("%H:%M:%S"))
            await self.clock.update()


app = HtagASGI(App)  # or serve it with any ASGI server: hypercorn examples.hello:app

if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8000")))
