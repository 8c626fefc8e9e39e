"""Exactly-once interactions through a proxy that drops replies, and the Server-Sent Events
transport, with raw clients against real servers."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from htagweb_asgi.parano.agreement import PageHandshake
from htagweb_asgi.protocol.codes import Close
from tests.support.client import Visitor, receive, updated_text
from tests.support.pageclient import NumberedPage
from tests.support.paranoclient import agree, post_bytes, post_hello, receive_bytes
from tests.support.servers import Server, start_server
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def proxied(runtime: str, logs: Path) -> Iterator[tuple[Server, TcpProxy]]:
    server = start_server("uvicorn", "tests.support.apps.hosts:main", runtime, logs)
    proxy = TcpProxy(server.port).start()
    yield server, proxy
    proxy.stop()
    server.close()


@pytest.fixture(scope="module")
def parano_proxied(runtime: str, logs: Path) -> Iterator[tuple[Server, TcpProxy]]:
    server = start_server("uvicorn", "tests.support.apps.parano_hosts:main", runtime, logs)
    proxy = TcpProxy(server.port).start()
    yield server, proxy
    proxy.stop()
    server.close()


async def value_now(visitor: Visitor, path: str = "/") -> str:
    return (await visitor.page(path)).texts["value"]


async def test_a_click_whose_websocket_reply_is_dropped_is_applied_once(
    proxied: tuple[Server, TcpProxy],
) -> None:
    """The proxy cuts the connection instead of passing the reply on (the process applied
    the click); the page's resend on a new connection gets that reply, and nothing runs twice."""
    _, proxy = proxied
    async with NumberedPage.load(Visitor(proxy.url)) as page:
        iid, click = page.interaction("inc")
        proxy.drop_message(lambda payload: iid.encode() in payload)
        async with page.websocket() as ws:
            await ws.send(click)
            with pytest.raises(websockets.ConnectionClosed):
                await receive(ws)
        async with page.websocket() as ws:
            await ws.send(click)
            reply = await receive(ws)
        assert reply["reply"] == iid and updated_text(reply["message"]) == ["1"]
        assert await value_now(page.visitor) == "1"


async def test_a_click_whose_post_reply_is_dropped_is_applied_once(
    proxied: tuple[Server, TcpProxy],
) -> None:
    _, proxy = proxied
    async with NumberedPage.load(Visitor(proxy.url), "/sse/") as page:
        iid, click = page.interaction("inc")
        proxy.drop_response(b"/_/post")
        with pytest.raises(httpx.TransportError):
            await page.post(click)
        response = await page.post(click)
        assert response.status_code == 200
        reply = response.json()
        assert reply["reply"] == iid and updated_text(reply["message"]) == ["1"]
        assert await value_now(page.visitor, "/sse/") == "1"


async def test_a_parano_resend_is_sealed_afresh_and_answered_under_the_new_keys(
    parano_proxied: tuple[Server, TcpProxy],
) -> None:
    """Websocket: the reply to a click is lost with its connection; the resend goes under the
    next connection's key agreement, and so does the remembered reply."""
    _, proxy = parano_proxied
    async with NumberedPage.load(Visitor(proxy.url)) as page:
        iid, click = page.interaction("inc")
        async with page.websocket() as ws:
            session = await agree(ws)
            proxy.drop_message(lambda payload: payload[:1] == b"\x03")  # the sealed reply
            await ws.send(session.seal(click.encode()))
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        async with page.websocket() as ws:
            session = await agree(ws)
            await ws.send(session.seal(click.encode()))
            reply = json.loads(session.open(await receive_bytes(ws)))
        assert reply["reply"] == iid and updated_text(reply["message"]) == ["1"]


async def test_a_parano_post_resend_is_sealed_afresh(
    parano_proxied: tuple[Server, TcpProxy],
) -> None:
    _, proxy = parano_proxied
    async with NumberedPage.load(Visitor(proxy.url)) as page:
        session = await post_hello(page.visitor, page.page)
        iid, click = page.interaction("inc")
        proxy.drop_response(b"/_/post")
        with pytest.raises(httpx.TransportError):
            await post_bytes(page.visitor, page.page, session.seal(click.encode()))
        response = await post_bytes(page.visitor, page.page, session.seal(click.encode()))
        reply = json.loads(session.open(response.content))
        assert reply["reply"] == iid and updated_text(reply["message"]) == ["1"]
        assert await value_now(page.visitor) == "1"


async def test_pushes_come_by_server_sent_events_and_a_stream_that_returns_misses_none(
    server: Server,
) -> None:
    """Every server streams the events as they come; a stream that returns with the last
    id it got (Last-Event-ID, as an EventSource does) gets the pushes after it."""
    async with NumberedPage.load(Visitor(server.url), "/sse/") as page:
        async with page.events() as events:
            assert await events.control() == {"ready": True}
            assert events.response.headers["content-type"].startswith("text/event-stream")
            iid, click = page.interaction("push")
            assert (await page.post(click)).json()["reply"] == iid
            pushes = [await events.next() for _ in range(3)]
        messages = [json.loads(event.data) for event in pushes]
        assert [str(message["push"]) for message in messages] == [e.id for e in pushes]
        assert [updated_text(message["message"]) for message in messages] == [["1"], ["2"], ["3"]]
        async with page.events(headers={"last-event-id": str(pushes[0].id)}) as events:
            assert await events.control() == {"ready": True}
            again = [await events.next() for _ in range(2)]
        assert [event.id for event in again] == [pushes[1].id, pushes[2].id]


async def test_a_stream_of_a_page_whose_process_is_gone_says_so(server: Server) -> None:
    async with (
        NumberedPage.load(Visitor(server.url), "/sse/") as page,
        page.events(i="0" * 32) as events,
    ):
        assert (await events.control())["close"] == Close.NO_PROCESS


async def test_what_the_event_stream_refuses(
    proxied: tuple[Server, TcpProxy], parano_proxied: tuple[Server, TcpProxy]
) -> None:
    """Another method, an App that does not use it, another site, a parano stream without a
    key agreement: a plain status before any stream."""
    for (server, _), path, headers, status in [
        (proxied, "/ws/_/sse", {}, 404),
        (proxied, "/sse/_/sse", {"origin": "http://evil.example"}, 403),
        (proxied, "/sse/_/sse", {"sec-fetch-site": "cross-site"}, 403),
        (parano_proxied, "/sse/_/sse", {}, 400),
        (parano_proxied, "/sse/_/sse?h=AQID", {}, 400),
    ]:
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get(path, headers=headers)).status_code == status, path
            assert (await http.post(path)).status_code in (404, 405)


async def test_a_parano_stream_agrees_on_its_own_keys_and_seals_every_push(
    parano_proxied: tuple[Server, TcpProxy],
) -> None:
    server, _ = parano_proxied
    async with NumberedPage.load(Visitor(server.url), "/sse/") as page:
        handshake = PageHandshake()
        hello = base64.urlsafe_b64encode(handshake.hello).decode().rstrip("=")
        async with page.events(h=hello) as events:
            ready = await events.control()
            stream = handshake.complete(base64.b64decode(ready["welcome"]), strict=True)
            posts = await post_hello(page.visitor, page.page)
            iid, click = page.interaction("push")
            response = await post_bytes(page.visitor, page.page, posts.seal(click.encode()))
            assert json.loads(posts.open(response.content))["reply"] == iid
            pushed = [
                json.loads(stream.open(base64.b64decode((await events.next()).data)))
                for _ in range(3)
            ]
        assert [updated_text(message["message"]) for message in pushed] == [["1"], ["2"], ["3"]]
