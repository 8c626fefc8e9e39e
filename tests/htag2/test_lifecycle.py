"""An htag 2 App's life on a real server: its request, ``?n``, and ``on_destroy`` at every end
that lets it run (exit, inactivity, replacement, the server's stop)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.client import Visitor, closed_with, receive_until
from tests.support.pageparse import ParsedPage
from tests.support.servers import Server, start_server
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.anyio

HOST = "tests.support.apps.htag2.lifecycle_host:main"


@pytest.fixture(scope="module")
def destroyed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the counter's on_destroy leaves a file named after its pid (its count inside)."""
    return tmp_path_factory.mktemp("destroyed")


@pytest.fixture(scope="module")
def server(runtime: str, logs: Path, destroyed: Path) -> Iterator[Server]:
    env = {"HTAGWEB_TEST_DESTROYED": str(destroyed)}
    running = start_server("hypercorn", HOST, runtime, logs, env=env)
    yield running
    running.close()


async def click(ws: ClientConnection, page: ParsedPage, css_class: str) -> list[dict[str, Any]]:
    """Click like htag 2's page does; return the reply (its payloads)."""
    tag_id = page.elements[css_class]["id"]
    callback = f"cb-{css_class}"
    message = {"id": tag_id, "event": "click", "data": {"callback_id": callback}}
    await ws.send(json.dumps(message))
    reply: list[dict[str, Any]] = await receive_until(
        ws, lambda m: isinstance(m, list) and any(p.get("callback_id") == callback for p in m)
    )
    return reply


async def count_once(visitor: Visitor, path: str = "/") -> ParsedPage:
    page = await visitor.page(path)
    async with visitor.websocket(page) as ws:
        await click(ws, page, "inc")
    return page


async def test_the_page_links_the_bridge_after_the_client(server: Server) -> None:
    async with Visitor(server.url) as visitor:
        html = (await visitor.http.get("/")).text
        bundle = "_/client-websocket-http-htag2.js"
        assert html.index(f"{bundle}?v=") < html.index("window.HTAG_EXT_INIT=true")
        script = await visitor.http.get(f"/{bundle}")
        assert script.status_code == 200
        assert script.text.index("htagweb-asgi client:") < script.text.index("handle_payload")


async def test_a_query_change_keeps_the_app_and_shows_the_new_query(server: Server) -> None:
    async with Visitor(server.url) as visitor:
        first = await count_once(visitor)
        again = await visitor.page("/?a=1&b")
        assert again.pid == first.pid and again.texts["value"] == "1"
        assert again.texts["init"] == "query=[('a', '1'), ('b', '')]"


async def test_n_gives_a_fresh_app_and_the_old_one_is_destroyed(
    server: Server, destroyed: Path
) -> None:
    async with Visitor(server.url) as visitor:
        first = await count_once(visitor)
        fresh = await visitor.page("/?n")
        assert fresh.pid != first.pid and fresh.texts["value"] == "0"
        await eventually_async(lambda: (destroyed / str(first.pid)).exists())
        assert (destroyed / str(first.pid)).read_text() == "1"


async def test_exit_ends_the_process_and_runs_on_destroy(server: Server, destroyed: Path) -> None:
    async with Visitor(server.url) as visitor:
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            tag_id = page.elements["exit"]["id"]
            await ws.send(json.dumps({"id": tag_id, "event": "click", "data": {}}))
            assert (await closed_with(ws))[0] == 4000  # Close.EXITED: the page reloads
        await eventually_async(lambda: (destroyed / str(page.pid)).exists())


async def test_a_crash_is_reported_and_a_reload_gets_a_fresh_app(server: Server) -> None:
    async with Visitor(server.url) as visitor:
        page = await count_once(visitor)
        async with visitor.websocket(page) as ws:
            tag_id = page.elements["crash"]["id"]
            await ws.send(json.dumps({"id": tag_id, "event": "click", "data": {}}))
            assert (await closed_with(ws))[0] == 4004  # Close.CRASHED: a message, a link
        again = await visitor.page()
        assert again.pid != page.pid and again.texts["value"] == "0"


async def test_inactivity_ends_the_process_and_runs_on_destroy(
    server: Server, destroyed: Path
) -> None:
    async with Visitor(server.url) as visitor:
        page = await count_once(visitor, "/idle")
        await eventually_async(lambda: (destroyed / str(page.pid)).exists(), 10)


async def test_stopping_the_server_runs_on_destroy(
    runtime: str, logs: Path, tmp_path: Path
) -> None:
    stopping = start_server(
        "uvicorn", HOST, runtime, logs, env={"HTAGWEB_TEST_DESTROYED": str(tmp_path)}
    )
    try:
        async with Visitor(stopping.url) as visitor:
            page = await count_once(visitor)
    finally:
        stopping.close()
    await eventually_async(lambda: (tmp_path / str(page.pid)).exists(), 10)


async def test_every_worker_reaches_the_users_one_process(runtime: str, logs: Path) -> None:
    """Four workers: whichever gets a request, the user's App is the same one."""
    several = start_server("uvicorn-4", HOST, runtime, logs)
    try:
        async with Visitor(several.url) as visitor:
            first = await count_once(visitor)
            for _ in range(8):  # a new connection each: the kernel spreads them over the workers
                async with visitor.new_connection() as again:
                    page = await again.page("/")
                assert (page.pid, page.texts["value"]) == (first.pid, "1")
    finally:
        several.close()
