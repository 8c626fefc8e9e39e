"""Server-Sent Events framing (web/ssewire.py), read back as a browser reads it."""

from __future__ import annotations

import base64
import json

from htagweb_asgi.web import ssewire
from tests.support.eventstream import Event, EventParser


def test_a_push_is_an_event_with_its_number_as_id() -> None:
    events = EventParser().feed(ssewire.push(7, b'{"push":7}', sealed=False))
    assert events == [Event("message", '{"push":7}', "7")]


def test_data_on_several_lines_comes_back_whole() -> None:
    parser = EventParser()
    events = parser.feed(ssewire.event("a\nb\r\nc", name="x"))
    assert events == [Event("x", "a\nb\nc", None)]


def test_a_sealed_push_travels_in_base64() -> None:
    sealed = bytes(range(256))
    (event,) = EventParser().feed(ssewire.push(1, sealed, sealed=True))
    assert base64.b64decode(event.data) == sealed


def test_control_messages_and_keepalives() -> None:
    parser = EventParser()
    stream = ssewire.KEEPALIVE + ssewire.control({"close": 4001, "reason": "gone"})
    (event,) = parser.feed(stream[:5]) + parser.feed(stream[5:])
    assert event.name == "htagweb" and json.loads(event.data) == {"close": 4001, "reason": "gone"}
    assert parser.comments == 1
