"""parano against real servers, with a Python page: sealed both ways, forgeries refused, the
process unharmed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from htagweb_asgi.parano import envelope
from htagweb_asgi.protocol.codes import Close
from tests.support.client import Visitor, closed_with, receive, updated_text
from tests.support.paranoclient import (
    agree,
    click,
    post_bytes,
    post_click,
    post_hello,
    receive_bytes,
    receive_sealed,
)
from tests.support.servers import Server, start_server

pytestmark = pytest.mark.anyio

CLEAR_WORDS = (b"increment", b"__on__", b"update", b"<span", b"pushed", b"value")


@pytest.fixture(scope="module", params=["hypercorn-trio", "uvicorn"])
def served(request: pytest.FixtureRequest, runtime: str, logs: Path) -> Iterator[Server]:
    running = start_server(request.param, "tests.support.apps.parano_hosts:main", runtime, logs)
    yield running
    running.close()


async def closed_after(ws: ClientConnection, message: bytes | str) -> tuple[int, str]:
    await ws.send(message)
    return await closed_with(ws)


async def test_clicks_and_pushes_are_sealed_both_ways(served: Server) -> None:
    async with Visitor(served.url) as visitor:
        page = await visitor.page()
        assert page.config["parano"] is True
        async with visitor.websocket(page) as ws:
            session = await agree(ws)
            assert updated_text(await click(ws, session, page, "inc")) == ["1"]
            assert "err" not in await click(ws, session, page, "push")
            pushes = [updated_text(await receive_sealed(ws, session)) for _ in range(3)]
            assert pushes == [["1"], ["2"], ["3"]]
            assert updated_text(await click(ws, session, page, "inc")) == ["2"]


async def test_a_reconnection_agrees_on_new_keys(served: Server) -> None:
    """Each websocket has its own key agreement; the App's state outlives them."""
    async with Visitor(served.url) as visitor:
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            first = await agree(ws)
            await click(ws, first, page, "inc")
            stale = first.seal(page.click("inc").encode())
        async with visitor.websocket(page) as ws:
            second = await agree(ws)
            assert second.session_id != first.session_id
            assert updated_text(await click(ws, second, page, "inc")) == ["2"]
        async with visitor.websocket(page) as ws:
            await agree(ws)
            code, reason = await closed_after(ws, stale)  # a message of the old connection
            assert code == Close.CHANNEL_BROKEN and "another session" in reason


async def test_the_host_refuses_plaintext(served: Server) -> None:
    """Text, or binary not shaped like an envelope: closed (1003) before the process sees it."""
    async with Visitor(served.url) as visitor:
        page = await visitor.page()
        for message in (page.click("inc"), page.click("inc").encode(), b"\x03short"):
            async with visitor.websocket(page) as ws:
                code, reason = await closed_after(ws, message)
                assert (code, reason) == (1003, envelope.PLAINTEXT_REFUSED)


async def test_forgeries_close_the_connection_and_the_process_serves_on(served: Server) -> None:
    """Tampered, replayed, reordered, early or repeated handshake: 4005; same process after."""
    async with Visitor(served.url) as visitor:
        page = await visitor.page()

        async def tampered(ws: ClientConnection) -> bytes:
            message = bytearray((await agree(ws)).seal(page.click("inc").encode()))
            message[-1] ^= 1
            return bytes(message)

        async def replayed(ws: ClientConnection) -> bytes:
            session = await agree(ws)
            message = session.seal(page.click("inc").encode())
            await ws.send(message)
            await receive_sealed(ws, session)
            return message

        async def reordered(ws: ClientConnection) -> bytes:
            session = await agree(ws)
            session.seal(b"never sent")
            return session.seal(page.click("inc").encode())

        async def early(ws: ClientConnection) -> bytes:
            return envelope.sealed_header(bytes(16), 0) + bytes(16)

        async def again(ws: ClientConnection) -> bytes:
            await agree(ws)
            return envelope.hello(bytes(range(32)))

        for forge in (tampered, replayed, reordered, early, again):
            async with visitor.websocket(page) as ws:
                code, reason = await closed_after(ws, await forge(ws))
                assert code == Close.CHANNEL_BROKEN, (forge.__name__, reason)
        again_page = await visitor.page()
        assert again_page.pid == page.pid
        async with visitor.websocket(again_page) as ws:
            session = await agree(ws)
            assert updated_text(await click(ws, session, again_page, "inc")) == ["2"]  # replayed: 1


async def test_the_ready_message_is_the_only_clear_frame(served: Server) -> None:
    """What a recording proxy sees: ready in clear, then bytes that name nothing."""
    async with Visitor(served.url) as visitor:
        page = await visitor.page()
        seen: list[bytes] = []
        async with visitor.websocket(page, ready=False) as ws:
            assert await receive(ws) == {"htagweb": {"ready": True}}
            session = await agree(ws)
            for css in ("inc", "push"):
                sealed = session.seal(page.click(css).encode())
                await ws.send(sealed)
                seen += [sealed, await receive_bytes(ws)]
            seen += [await receive_bytes(ws) for _ in range(3)]
        assert all(word not in message for message in seen for word in CLEAR_WORDS)


async def test_http_only_exchanges_are_sealed(served: Server) -> None:
    async with Visitor(served.url) as visitor:
        page = await visitor.page("/http")
        assert (page.config["transport"], page.config["parano"]) == ("http", True)
        session = await post_hello(visitor, page)
        for expected in ("1", "2"):
            body, reply = await post_click(visitor, session, page, "inc")
            assert updated_text(reply) == [expected]
            assert all(word not in body for word in CLEAR_WORDS)
        assert (await visitor.page("/http")).texts["value"] == "2"


async def test_http_only_refusals_and_the_process_serves_on(served: Server) -> None:
    """Plaintext: 415 (host); tampered or replayed: 400 with 4005 (process); then it goes on."""
    async with Visitor(served.url) as visitor:
        page = await visitor.page("/http")
        response = await visitor.post(page, page.click("inc"))
        assert response.status_code == 415 and response.json()["code"] == 1003
        session = await post_hello(visitor, page)
        sent, _ = await post_click(visitor, session, page, "inc")
        tampered = bytearray(session.seal(page.click("inc").encode()))
        tampered[30] ^= 1
        for forged in (sent, bytes(tampered)):
            response = await post_bytes(visitor, page, forged)
            assert response.status_code == 400, response.text
            assert response.json()["code"] == Close.CHANNEL_BROKEN
        _, reply = await post_click(visitor, session, page, "inc")  # a gap (the tampered one): fine
        assert updated_text(reply) == ["2"]
        assert (await visitor.page("/http")).pid == page.pid


async def test_parano_is_per_app(served: Server) -> None:
    """The same host serves /plain in clear: JSON text both ways."""
    async with Visitor(served.url) as visitor:
        page = await visitor.page("/plain")
        assert page.config["parano"] is False
        async with visitor.websocket(page) as ws:
            await ws.send(page.click("inc"))
            assert updated_text(await receive(ws)) == ["1"]
            code, _ = await closed_after(ws, envelope.hello(bytes(range(32))))
            assert code == 1003  # and no envelope either
