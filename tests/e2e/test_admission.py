"""Admission control on a real server, at its default settings: health checks and HEAD
cost no process, one address's flood gets 429 while others get pages, a cross-site link
does not replace a live App, one cookie cannot hold unbounded websockets."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import websockets

from htagweb_asgi.protocol import control
from tests.support.client import Visitor, click, closed_with
from tests.support.pageparse import ParsedPage
from tests.support.servers import Server, our_processes, start_server

pytestmark = pytest.mark.anyio

APP = "tests.support.apps.hosts:admission_defaults"
FLOODER = "127.0.0.2"  # all of 127.0.0.0/8 is this machine: another address to count


@pytest.fixture(scope="module")
def served(runtime: str, logs: Path) -> Iterator[Server]:
    server = start_server("uvicorn", APP, runtime, logs)
    yield server
    server.close()


def from_address(address: str, base_url: str) -> httpx.AsyncClient:
    """A client whose connections come from `address` (no cookie jar kept)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=10.0)


async def test_health_checks_and_head_start_no_process(logs: Path) -> None:
    runtime = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"hw-health-{os.getpid()}")
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    server = start_server("uvicorn", APP, runtime, logs, ready="/_/healthz")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as client:
            for path in ("/_/healthz", "/http/_/healthz"):
                for _ in range(25):
                    response = await client.get(path)
                    assert (response.status_code, response.text) == (200, "ok\n")
            for _ in range(10):
                head = await client.head("/")
                assert head.status_code == 200 and head.headers["content-type"].startswith(
                    "text/html"
                )
                assert "set-cookie" not in head.headers
        assert not our_processes(runtime), "a health check or HEAD started a template"
    finally:
        server.close()
        os.rmdir(runtime) if not os.listdir(runtime) else None


async def test_one_address_flooding_gets_429_others_get_their_page(served: Server) -> None:
    async with from_address(FLOODER, served.url) as flood:
        statuses = []
        for _ in range(40):
            flood.cookies.clear()  # each request a new visitor
            response = await flood.get("/")
            statuses.append(response.status_code)
            if response.status_code == 429:
                refused = response
        assert statuses[:20] == [200] * 20  # the burst
        assert statuses.count(429) >= 10, statuses
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        assert "retry in" in refused.text and "set-cookie" not in refused.headers
    async with Visitor(served.url) as visitor:  # from 127.0.0.1
        page = await visitor.page("/")
        async with visitor.websocket(page) as ws:
            await click(ws, page, "inc")


async def test_a_cross_site_link_does_not_replace_a_live_app(served: Server) -> None:
    async with Visitor(served.url) as user:
        page = await user.page("/?a=1")
        async with user.websocket(page) as ws:
            await click(ws, page, "inc")
            for site in ("cross-site", "same-site"):
                hostile = await user.http.get("/?evil=1", headers={"sec-fetch-site": site})
                assert hostile.status_code == 200 and "Open this page here?" in hostile.text
            reply = await click(ws, page, "inc")  # the same App, its state intact
            assert "2" in str(reply)
            own = await user.http.get("/?b=2", headers={"sec-fetch-site": "same-origin"})
            assert own.status_code == 200 and ParsedPage.parse(own.text).pid != page.pid
            code, reason = await closed_with(ws)
        assert code == 4008 and "other arguments" in reason


async def test_one_cookie_cannot_hold_unbounded_websockets(served: Server) -> None:
    async with Visitor(served.url) as user:
        page = await user.page("/")
        async with contextlib.AsyncExitStack() as held:
            for _ in range(16):  # max_websockets_per_page: all open at once
                await held.enter_async_context(user.websocket(page))
            async with user.websocket(page, ready=False) as refused:
                code, reason = await closed_with(refused)
            assert code == 4009 and "Too many open connections" in reason
        async with user.websocket(page) as again:  # closed ones no longer count
            await click(again, page, "inc")


async def test_an_http_page_says_it_loaded_and_its_process_counts_as_attached(
    served: Server, runtime: str
) -> None:
    async with Visitor(served.url) as user:
        page = await user.page("/http")
        announced = await user.post(page, "")
        assert announced.status_code == 200 and announced.json() == {}
        with anyio.fail_after(10):
            listing = await anyio.to_thread.run_sync(control.listings, runtime)
        mine = [p for t in listing for p in t["processes"] if p["pid"] == page.pid]
        assert mine and mine[0]["attached"] is True


async def test_a_websocket_from_a_flood_page_still_connects(served: Server) -> None:
    """Pages are refused, never the websockets of pages already served."""
    async with Visitor(served.url) as user:
        page = await user.page("/")
        async with websockets.connect(
            user.ws_url(page),
            additional_headers={"cookie": user.cookie_header},
            origin=user.origin,  # type: ignore[arg-type]
        ) as ws:
            assert "ready" in await ws.recv()
