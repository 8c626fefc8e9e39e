"""What the transports ask of htag 2's engine (proc/htag2.py): a full rendering for a page
that missed pushes, and a click's effect for the App's other pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from htag import Tag

from htagweb_asgi.proc.htag2 import Htag2App
from htagweb_asgi.protocol.pagerequest import PageRequest

pytestmark = pytest.mark.anyio
REQUEST = PageRequest(((), {}), "http://127.0.0.1/", "/", "", "", [], None)


class Counter(Tag.App):
    def init(self) -> None:
        self.count = 0
        self.value = Tag.span("0", _class="value")
        self.button = Tag.button("+", _onclick=self.increment)

    def increment(self, _: object) -> None:
        self.count += 1
        self.value.text = str(self.count)


async def pushed(_: bytes) -> bool:
    return True


async def test_a_click_changes_the_page_and_its_effect_redraws_the_body() -> None:
    engine = Htag2App(Counter, REQUEST, debug=True, session={}, push=pushed, on_exit=lambda: None)
    engine.render(REQUEST)
    click = {"id": engine.app.button.id, "event": "click", "data": {"callback_id": "c1"}}
    reply = await engine.interact(json.dumps(click).encode())
    assert engine.changed(reply) and not engine.changed(b"[]")
    effect = engine.effect(reply)
    assert effect is not None
    for payload in (json.loads(effect), json.loads(engine.full_rendering())):
        text: Any = json.dumps(payload)
        assert "callback_id" not in payload or payload["callback_id"] is None
        assert ">1</span>" in text  # the App as it is now, whole
