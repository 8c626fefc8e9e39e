"""examples/htag2/app.py runs as its docstring says: FastAPI beside the htag 2 App, one
session for both, clicks and the pushed clock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.client import Visitor, receive_until
from tests.support.servers import Server, start_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def example(runtime: str, logs: Path) -> Iterator[Server]:
    server = start_server("uvicorn", "examples.htag2.app:app", runtime, logs, ready="/")
    yield server
    server.close()


async def test_the_htag2_example(example: Server) -> None:
    async with Visitor(example.url) as visitor:
        assert "FastAPI home" in (await visitor.http.get("/")).text
        named = await visitor.http.get("/name?value=Ada")
        assert named.status_code == 303 and named.headers["location"] == "/ui/?n"
        page = await visitor.page("/ui/?n")
        assert "Hello Ada, from htag 2" in (await visitor.http.get("/ui/")).text
        async with visitor.websocket(page) as ws:
            data = {"callback_id": "a"}
            click = {"id": page.elements["increment"]["id"], "event": "click", "data": data}
            await ws.send(json.dumps(click))
            await receive_until(ws, lambda m: isinstance(m, list) and ">1</b>" in str(m))
            pushed = await receive_until(ws, lambda m: isinstance(m, dict) and "clock" in str(m))
            assert re.search(r"\d\d:\d\d:\d\d", json.dumps(pushed))
