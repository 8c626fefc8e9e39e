"""The examples run as the README says, and work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.client import Visitor, receive_until, updated_text
from tests.support.servers import Server, start_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def hello(runtime: str, logs: Path) -> Iterator[Server]:
    """python examples/hello.py: the App lives in __main__; its processes re-import the file."""
    server = start_server("script", "examples/hello.py", runtime, logs, ready="/")
    yield server
    server.close()


@pytest.fixture
def fastapi_example(runtime: str, logs: Path) -> Iterator[Server]:
    server = start_server("uvicorn", "examples.fastapi.app:app", runtime, logs, ready="/api/time")
    yield server
    server.close()


async def check_clicks_and_pushes(visitor: Visitor, path: str) -> None:
    page = await visitor.page(path)
    async with visitor.websocket(page) as ws:
        await ws.send(page.click("increment"))
        await receive_until(ws, lambda message: updated_text(message) == ["1"])
        pushed = await receive_until(ws, lambda message: "update" in message)
        assert ":" in updated_text(pushed)[0]  # the clock, pushed by the server


async def test_hello_script_serves_clicks_and_pushes(hello: Server) -> None:
    async with Visitor(hello.url) as visitor:
        await check_clicks_and_pushes(visitor, "/")


async def test_fastapi_example(fastapi_example: Server) -> None:
    async with Visitor(fastapi_example.url) as visitor:
        assert "FastAPI home" in (await visitor.http.get("/")).text
        assert "time" in (await visitor.http.get("/api/time")).json()
        await check_clicks_and_pushes(visitor, "/ui/")
