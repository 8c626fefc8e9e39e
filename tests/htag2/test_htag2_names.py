"""Every name of htag 2 that proc/htag2*.py and static/htag2.js rely on, called once.

Several start with ``_``: htag's internals, which a release may rename. This test fails
loudly, naming the one that moved, before a user process does.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import htag
import pytest
from htag import Tag
from htag.client_js import CLIENT_JS

pytestmark = pytest.mark.anyio


class Sink:
    """What htag calls on a member of app.websockets."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send_text(self, text: str) -> None:
        self.texts.append(text)


class Named(Tag.App):
    def init(self) -> None:
        self.mounts = 0
        self.destroyed = False
        self.button = Tag.button("b", _onclick=self.click)
        self.out = Tag.span("0")

    def click(self, _event: Any) -> str:
        self.out.text = "1"
        return "clicked"

    def on_mount(self) -> None:
        self.mounts += 1

    async def on_destroy(self) -> None:
        self.destroyed = True


def test_module_names() -> None:
    assert isinstance(htag.App, type) and issubclass(Named, htag.App)
    assert not isinstance(htag.Tag, type)  # a factory: appref tells the majors apart by it
    assert callable(htag.current_request.set) and callable(htag.current_request.reset)
    assert isinstance(CLIENT_JS, str)


def test_page_script_hooks() -> None:
    """static/htag2.js plugs into these: htag's script must still offer them."""
    for name in (
        "window.HTAG_EXT_INIT",
        "window.htag_transport = window.htag_transport ||",
        "function handle_payload(",
        "function htag_event(",
        "window._htag_callbacks[data.callback_id]",
    ):
        assert name in CLIENT_JS, name


async def test_app_names() -> None:
    app = Named()
    sink = Sink()
    for attribute in ("debug", "parano_key", "htag_csrf", "htag_request"):
        setattr(app, attribute, None)
    assert app.request is None and app.htag_request is None
    app.htag_request = "the request"
    assert app.request == "the request"  # GTag.request reads htag_request
    app.websockets.clear()
    app.websockets.add(sink)
    app.sse_queues.clear()
    app._trigger_mount()
    app._trigger_unmount()
    assert app.mounts == 1
    assert app.button.id in app.render_initial()
    statics: list[str] = []
    app.collect_statics(app, statics)
    app.sent_statics.clear()
    app.sent_statics.update(statics)
    assert app.id in json.loads(app._build_initial_payload())["updates"]
    message = {"id": app.button.id, "event": "click", "data": {"callback_id": "n1"}}
    await app.handle_event(message, sink)
    assert json.loads(sink.texts[-1])["result"] == "clicked"
    app._flush_pending_lifecycle_generators(sink)
    app.websockets.clear()
    app.out.text = "2"
    await app.broadcast_updates()  # no client: htag keeps it in _fallback_queue
    assert len(app._fallback_queue) == 1
    result = app.on_destroy()
    assert inspect.isawaitable(result)
    await result
    assert app.destroyed


async def test_a_state_change_reaches_the_websockets() -> None:
    app = Named()
    sink = Sink()
    app.websockets.add(sink)
    count = htag.State(0)
    with app:
        Tag.span(lambda: f"n={count.value}")
    app.render_initial()
    count.value = 1  # htag schedules a broadcast (throttled) through update()
    for _ in range(100):
        if sink.texts:
            break
        await asyncio.sleep(0.01)
    assert "n=1" in sink.texts[-1]
