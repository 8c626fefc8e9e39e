"""An htag 2 App (``Tag.App``, ``State``) with a process per user, inside FastAPI.

    pip install 'htagweb-asgi[server,htag2]' fastapi
    uvicorn examples.htag2.app:app        # then open http://localhost:8000/

What htag 2's own runner would give it, and what it gets here instead: each visitor's App
lives in a process of its own (a crash or a leak stays there); ``self.request.session`` is
the session FastAPI's routes see (``/name`` writes it, the App reads it); ``?n`` gives a fresh
App; ``on_destroy`` runs when the process ends (the visitor idles out after
``timeout_inactivity``, or the server stops). ``python -m examples.htag2.app`` serves the App
alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from htag import State, Tag

from htagweb_asgi import HtagASGI, SessionMiddleware, Sessions

logger = logging.getLogger(__name__)


class App(Tag.App):
    statics = [Tag.title("htag 2 on htagweb-asgi"), Tag.style("b.count{color:#06c}")]

    def init(self) -> None:
        self.count = State(0)
        self.clock = State(time.strftime("%H:%M:%S"))
        self._ticker: asyncio.Task[None] | None = None
        name = self.request.session.get("name", "stranger")
        Tag.h1(f"Hello {name}, from htag 2")
        Tag.p(f"Your own process: pid {os.getpid()}")
        Tag.p(lambda: f"This page's query: {dict(self.request.query_params)}")
        with Tag.p():
            Tag.span("Clicks: ")
            Tag.b(lambda: str(self.count.value), _class="count")
            Tag.button("+1", _class="increment", _onclick=self.increment)
        Tag.p(lambda: f"Server clock (pushed): {self.clock.value}", _class="clock")

    def increment(self, _event: object) -> None:
        self.count.value += 1

    def on_mount(self) -> None:  # again at every reload: one ticker is enough
        if self._ticker is None:
            self._ticker = asyncio.ensure_future(self.tick())

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.clock.value = time.strftime("%H:%M:%S")  # a State change pushes

    def on_destroy(self) -> None:
        logger.warning("App of process %d ends after %d clicks", os.getpid(), self.count.value)


sessions = Sessions()
ui = HtagASGI(App, sessions=sessions, timeout_inactivity=600)
app = FastAPI(lifespan=ui.lifespan)
app.add_middleware(SessionMiddleware, sessions=sessions)
app.mount("/ui", ui)


@app.get("/", response_class=HTMLResponse)
async def home() -> str:
    return (
        "<h1>FastAPI home</h1><p><a href='/ui/'>Open the htag 2 App</a> · "
        "<a href='/name?value=Ada'>Be Ada</a> (a route writes the session, the App reads it) · "
        "<a href='/ui/?n'>A fresh App</a></p>"
    )


@app.get("/name")
async def set_name(request: Request, value: str) -> RedirectResponse:
    request.session["name"] = value[:40]
    return RedirectResponse("/ui/?n", status_code=303)  # ?n: a new App reads the new name


if __name__ == "__main__":
    HtagASGI(App).run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
