"""A visitor as a real client sees the host: a cookie jar, pages, a websocket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.pageparse import ParsedPage

TIMEOUT = 10.0


class Visitor:
    """One browser's worth of state against one server; ``async with Visitor(url) as v:``
    closes its connections however the test ends (servers are shared by a module's tests)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, follow_redirects=False)

    async def __aenter__(self) -> Visitor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    def new_connection(self) -> Visitor:
        """The same browser (its cookies as they are now) on a new connection: with several
        workers, served by any of them."""
        other = Visitor(self.base_url)
        other.http.cookies.update(self.http.cookies)
        return other

    @property
    def origin(self) -> str:
        """What a browser on our pages sends as Origin."""
        return self.base_url

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)

    async def page(self, path: str = "/") -> ParsedPage:
        response = await self.http.get(path)
        assert response.status_code == 200, (response.status_code, response.text[:2000])
        return ParsedPage.parse(response.text)

    def ws_url(self, page: ParsedPage, path: str | None = None) -> str:
        base = self.base_url.replace("http://", "ws://")
        app = path if path is not None else page.config["prefix"] + page.config["base"]
        return f"{base}{app}/_/ws?i={page.config['instance']}"

    @asynccontextmanager
    async def websocket(
        self, page: ParsedPage, ready: bool = True, path: str | None = None
    ) -> AsyncIterator[ClientConnection]:
        async with websockets.connect(
            self.ws_url(page, path),
            additional_headers={"cookie": self.cookie_header},
            origin=self.origin,  # type: ignore[arg-type]
            open_timeout=TIMEOUT,
        ) as ws:
            if ready:
                assert await receive(ws) == {"htagweb": {"ready": True}}
            yield ws

    async def post(self, page: ParsedPage, body: str | bytes) -> httpx.Response:
        url = f"{page.config['prefix']}{page.config['base']}/_/post?i={page.config['instance']}"
        headers = {
            "content-type": "application/json",
            "origin": self.origin,
            "x-htagweb-csrf": page.config.get("csrf", ""),
        }
        return await self.http.post(url, content=body, headers=headers)


async def receive(ws: ClientConnection) -> Any:
    with anyio.fail_after(TIMEOUT):
        return json.loads(await ws.recv())


async def receive_until(ws: ClientConnection, wanted: Callable[[Any], bool]) -> Any:
    """Skip messages (pushes) until one satisfies `wanted`; return it."""
    with anyio.fail_after(TIMEOUT):
        while True:
            message = json.loads(await ws.recv())
            if wanted(message):
                return message


async def click(ws: ClientConnection, page: ParsedPage, css_class: str) -> Any:
    await ws.send(page.click(css_class))
    return await receive(ws)


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """Wait for the host's close request, answer it like our client does, return (code, reason)."""
    while True:
        message = await receive(ws)
        if "htagweb" in message and "close" in message["htagweb"]:
            code, reason = message["htagweb"]["close"], message["htagweb"]["reason"]
            await ws.close(code, reason)
            return code, reason


def updated_text(reply: dict[str, Any]) -> list[str]:
    """The texts of the elements an update action replaces."""
    texts = []
    for fragment in reply.get("update", {}).values():
        texts.append(ParsedPage.texts_of(fragment))
    return texts
