"""What client.js does beyond a bare client, for raw-client tests: a page token, numbered
interactions (resent as they were), the last push it has, the Server-Sent Events stream."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.client import TIMEOUT, Visitor, receive
from tests.support.eventstream import Event, EventParser
from tests.support.pageparse import ParsedPage


class NumberedPage:
    """One page load, as client.js keeps it."""

    def __init__(self, visitor: Visitor, page: ParsedPage) -> None:
        self.visitor = visitor
        self.page = page
        self.token = secrets.token_hex(8)
        self.number = 0
        self.last_push = int(page.config["push"])

    @classmethod
    @asynccontextmanager
    async def load(cls, visitor: Visitor, path: str = "/") -> AsyncIterator[NumberedPage]:
        """The page at `path`, for `visitor` (closed after)."""
        try:
            yield cls(visitor, await visitor.page(path))
        finally:
            await visitor.aclose()

    @property
    def app(self) -> str:
        return f"{self.page.config['prefix']}{self.page.config['base']}/_/"

    def query(self, **more: str) -> str:
        fields = {"i": self.page.config["instance"], "t": self.token, "p": str(self.last_push)}
        return "?" + "&".join(f"{k}={v}" for k, v in {**fields, **more}.items())

    def interaction(self, css: str) -> tuple[str, str]:
        """A new interaction: its id, and the text the page sends (and sends again)."""
        self.number += 1
        iid = f"{self.token}:{self.number}"
        return iid, json.dumps({"iid": iid, "message": json.loads(self.page.click(css))})

    def saw(self, message: dict[str, Any]) -> None:
        if "push" in message:
            self.last_push = max(self.last_push, int(message["push"]))

    @asynccontextmanager
    async def websocket(self) -> AsyncIterator[ClientConnection]:
        url = self.visitor.base_url.replace("http://", "ws://") + self.app + "ws" + self.query()
        async with websockets.connect(
            url,
            additional_headers={"cookie": self.visitor.cookie_header},
            origin=self.visitor.origin,  # type: ignore[arg-type]
            open_timeout=TIMEOUT,
        ) as ws:
            assert await receive(ws) == {"htagweb": {"ready": True}}
            yield ws

    async def post(self, body: str | bytes, content_type: str = "application/json") -> Any:
        headers = {
            "content-type": content_type,
            "origin": self.visitor.origin,
            "x-htagweb-csrf": self.page.config.get("csrf", ""),
        }
        url = self.app + "post?i=" + self.page.config["instance"]
        return await self.visitor.http.post(url, content=body, headers=headers)

    @asynccontextmanager
    async def events(
        self, headers: dict[str, str] | None = None, **query: str
    ) -> AsyncIterator[EventReader]:
        url = self.app + "sse" + self.query(**query)
        async with self.visitor.http.stream("GET", url, headers=headers or {}) as response:
            yield EventReader(response)


class EventReader:
    """The events of one streamed response, as they come."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks = response.aiter_bytes()
        self._parser = EventParser()
        self._events: list[Event] = []

    async def next(self) -> Event:
        with anyio.fail_after(TIMEOUT):
            while not self._events:
                self._events += self._parser.feed(await self._chunks.__anext__())
        return self._events.pop(0)

    async def control(self) -> dict[str, Any]:
        event = await self.next()
        assert event.name == "htagweb", event
        message: dict[str, Any] = json.loads(event.data)
        return message
