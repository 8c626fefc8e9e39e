"""htag 2's exception logs are filtered like htag 1's: each kind once, then counted."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from htag import Tag

from htagweb_asgi.proc import applog
from htagweb_asgi.proc.htag2 import Htag2App
from htagweb_asgi.protocol.pagerequest import PageRequest

pytestmark = pytest.mark.anyio


class Failing(Tag.App):
    def init(self) -> None:
        self.button = Tag.button("x", _onclick=self.boom)

    def boom(self, _event: Any) -> None:
        raise ValueError("boom " + "x" * 100_000)


async def nowhere(_data: bytes) -> bool:
    return True


async def test_a_failing_callback_is_logged_once_then_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="htag")
    limiter = applog.ExceptionsOncePerKind()
    logging.getLogger("htag").addFilter(limiter)
    try:
        app = Htag2App(
            Failing, PageRequest(((), {})), debug=False, session={}, push=nowhere, on_exit=print
        )
        click = {"id": app.app.button.id, "event": "click", "data": {"callback_id": "c"}}
        for _ in range(10):
            await app.interact(json.dumps(click).encode())
    finally:
        logging.getLogger("htag").removeFilter(limiter)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("the App raised ValueError: Error in click callback: boom")
    assert len(messages[0]) < 12_000
    assert "ValueError at " in messages[1] and "10 times" in messages[1]
