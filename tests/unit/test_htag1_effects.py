"""What a user process asks of htag 1 for other pages: a click's effect, a full rendering
(proc/htag1.py, on a real HRenderer; no process)."""

from __future__ import annotations

import json

import pytest
from htag import Tag

from htagweb_asgi.proc.htag1 import Htag1App
from htagweb_asgi.protocol.pagerequest import PageRequest
from tests.support.pageparse import ParsedPage

pytestmark = pytest.mark.anyio
REQUEST = PageRequest(((), {}))


class Counter(Tag.body):
    def init(self) -> None:
        self.value = Tag.span("0", _class="value")
        self.add(self.value)
        self.add(Tag.button("+", _class="inc", _onclick=self.increment))
        self.add(Tag.button("hello", _class="hello", _onclick=self.hello))

    def increment(self, _: object) -> None:
        self.value.clear(str(int(self.value.childs[0]) + 1))

    def hello(self, _: object) -> None:
        self.call("alert('hello')")  # for the page that clicked only


async def no_push(_: bytes) -> bool:
    return False


def app() -> tuple[Htag1App, ParsedPage]:
    counter = Htag1App(Counter, REQUEST, debug=True, session={}, push=no_push, on_exit=lambda: None)
    config = '<script id="htagweb-config" type="application/json">{}</script>'
    return counter, ParsedPage.parse(config + counter.render(REQUEST))


def texts(pushed: bytes) -> list[str]:
    return [ParsedPage.texts_of(html) for html in json.loads(pushed)["update"].values()]


async def test_a_clicks_effect_is_its_updates_without_its_scripts() -> None:
    counter, page = app()
    reply = await counter.interact(page.click("inc").encode())
    assert counter.changed(reply)
    effect = counter.effect(reply)
    assert effect is not None and texts(effect) == ["1"]
    said = await counter.interact(page.click("hello").encode())
    assert "alert" in json.loads(said)["post"] and not counter.changed(said)


async def test_the_full_rendering_is_the_whole_app_as_it_is() -> None:
    counter, page = app()
    await counter.interact(page.click("inc").encode())
    (body,) = json.loads(counter.full_rendering())["update"].values()
    assert body.startswith("<body") and 'class="value"' in body
    assert ParsedPage.texts_of(body).startswith("1")
