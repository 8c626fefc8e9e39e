"""The host of the transport tests (``tests.support.apps.transport_hosts:main``): the streaming
App over each transport, and a route that makes every open websocket reconnect later, as a
draining server asks its pages to."""

from __future__ import annotations

import json
import os
from typing import Any

from htagweb_asgi import HtagASGI
from tests.support.apps.hosts import hello

RUNTIME = os.environ.get("HTAGWEB_TEST_RUNTIME")
STREAMING = "tests.support.apps.streaming:App"


def build() -> HtagASGI:
    host = HtagASGI(STREAMING, runtime_dir=RUNTIME, timeout_interaction=10)
    host.add_app("/sse", STREAMING, transport="sse")
    host.add_app("/ws", STREAMING, transport="websocket")
    host.add_app("/http", STREAMING, http_only=True)
    host.add_app("/idle", STREAMING, timeout_inactivity=1.5)
    host.add_app("/parano", STREAMING, parano=True)
    host.add_route("/hello.txt", hello)
    return host


class Draining:
    """`host`, and ``/drain?after_ms=N``: every open websocket gets the reconnect hint."""

    def __init__(self, host: HtagASGI) -> None:
        self.host = host
        self.sends: set[Any] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/drain":
            after = int(scope["query_string"].decode().partition("=")[2] or 0)
            hint = json.dumps({"htagweb": {"reconnect": {"after_ms": after}}})
            for websocket_send in list(self.sends):
                await websocket_send({"type": "websocket.send", "text": hint})
            await hello(scope, receive, send)  # type: ignore[no-untyped-call]
            return
        if scope["type"] != "websocket":
            await self.host(scope, receive, send)
            return

        async def tracked(message: Any) -> None:
            if message["type"] == "websocket.accept":
                self.sends.add(send)
            await send(message)

        try:
            await self.host(scope, receive, tracked)
        finally:
            self.sends.discard(send)


main = Draining(build())
