"""The page's side of parano for the real-server tests: what client.js does, in Python."""

from __future__ import annotations

import json
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection

from htagweb_asgi.parano.agreement import PageHandshake, SecureSession
from tests.support.client import TIMEOUT, Visitor
from tests.support.pageparse import ParsedPage

SEALED_TYPE = "application/octet-stream"


async def receive_bytes(ws: ClientConnection) -> bytes:
    with anyio.fail_after(TIMEOUT):
        message = await ws.recv()
    assert isinstance(message, bytes), f"a message in clear: {message!r}"
    return message


async def agree(ws: ClientConnection) -> SecureSession:
    """The key agreement that follows the host's ready message."""
    handshake = PageHandshake()
    await ws.send(handshake.hello)
    return handshake.complete(await receive_bytes(ws), strict=True)


async def receive_sealed(ws: ClientConnection, session: SecureSession) -> Any:
    return json.loads(session.open(await receive_bytes(ws)))


async def click(ws: ClientConnection, session: SecureSession, page: ParsedPage, css: str) -> Any:
    await ws.send(session.seal(page.click(css).encode()))
    return await receive_sealed(ws, session)


async def post_hello(visitor: Visitor, page: ParsedPage) -> SecureSession:
    """An http_only page's key agreement: one POST."""
    handshake = PageHandshake()
    response = await post_bytes(visitor, page, handshake.hello)
    assert response.status_code == 200, response.text
    return handshake.complete(response.content, strict=False)


async def post_bytes(visitor: Visitor, page: ParsedPage, body: bytes) -> Any:
    url = f"{page.config['prefix']}{page.config['base']}/_/post?i={page.config['instance']}"
    headers = {
        "content-type": SEALED_TYPE,
        "origin": visitor.origin,
        "x-htagweb-csrf": page.config.get("csrf", ""),
    }
    return await visitor.http.post(url, content=body, headers=headers)


async def post_click(
    visitor: Visitor, session: SecureSession, page: ParsedPage, css: str
) -> tuple[bytes, Any]:
    """Return the sealed body sent and the opened reply."""
    body = session.seal(page.click(css).encode())
    response = await post_bytes(visitor, page, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == SEALED_TYPE
    return body, json.loads(session.open(response.content))
