"""Drive an ASGI app in-process, message by message (for unit tests only)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio


@dataclass
class HTTPResult:
    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""


def http_scope(
    path: str,
    method: str = "GET",
    *,
    query: bytes = b"",
    root_path: str = "",
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": root_path,
        "headers": list(headers),
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def call_http(app: Any, scope: dict[str, Any], body: bytes = b"") -> HTTPResult:
    result = HTTPResult()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = dict(message["headers"])
        elif message["type"] == "http.response.body":
            result.body += message.get("body", b"")

    with anyio.fail_after(30):
        await app(scope, receive, send)
    return result


async def call_lifespan(app: Any, *events: str) -> list[dict[str, Any]]:
    """Send lifespan events (e.g. "startup", "shutdown") and return what the app answered."""
    queue = [{"type": f"lifespan.{name}"} for name in events]
    answers: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)

    with anyio.fail_after(30):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    return answers


async def call_websocket(
    app: Any, scope: dict[str, Any], messages: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Connect, feed `messages`, then disconnect once the app has nothing more to say."""
    incoming = [{"type": "websocket.connect"}, *messages]
    sent: list[dict[str, Any]] = []
    closed = anyio.Event()

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await closed.wait()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] in (
            "websocket.close",
            "websocket.http.response.body",
        ) or "close" in message.get("text", ""):
            closed.set()

    with anyio.fail_after(30):
        await app(scope, receive, send)
    return sent


@asynccontextmanager
async def lifespan_running(app: Any) -> AsyncIterator[list[dict[str, Any]]]:
    """Run `app`'s lifespan around the block: startup on entry, shutdown on exit; yields the
    app's answers (the startup one on entry, all of them after the block)."""
    events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    answers: list[dict[str, Any]] = []
    answered = anyio.Event()
    may_shut_down = anyio.Event()

    async def receive() -> dict[str, Any]:
        if len(events) == 1:
            await may_shut_down.wait()
        if not events:
            await anyio.sleep_forever()
        return events.pop(0)

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)
        answered.set()

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(app, {"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
            await answered.wait()
            try:
                yield answers
            finally:
                may_shut_down.set()
