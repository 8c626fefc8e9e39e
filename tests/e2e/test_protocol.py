"""A real websocket/HTTP client against real servers: what a page does, byte for byte."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Awaitable, Callable

import httpx
import pytest
import websockets

from tests.support.client import Visitor, click, closed_with, receive, updated_text
from tests.support.servers import Server
from tests.support.waiting import eventually, pid_gone

pytestmark = pytest.mark.anyio


async def test_click_updates_the_counter(server: Server) -> None:
    """A click goes to the user's process and its reply updates the span."""
    async with Visitor(server.url) as visitor:
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            for expected in ("1", "2", "3"):
                assert updated_text(await click(ws, page, "inc")) == [expected]


async def test_pushes_arrive_without_a_click(server: Server) -> None:
    """A background task's three update() calls reach the page as three pushes."""
    async with Visitor(server.url) as visitor:
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            reply = await click(ws, page, "push")
            assert "err" not in reply
            pushes = [updated_text(await receive(ws)) for _ in range(3)]
    assert pushes == [["1"], ["2"], ["3"]]


async def test_reload_keeps_state_and_process(server: Server) -> None:
    """Reloading the page shows the same App instance, in the same process."""
    async with Visitor(server.url) as visitor:
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            await click(ws, page, "inc")
            await click(ws, page, "inc")
        again = await visitor.page()
    assert again.pid == page.pid
    assert again.texts["value"] == "2"
    assert again.config["instance"] == page.config["instance"]


async def test_query_change_recreates_the_process(server: Server) -> None:
    """?a&b=1 makes App("a", b="1") in a new process; the same query again reuses it."""
    async with Visitor(server.url) as visitor:
        first = await visitor.page("/")
        changed = await visitor.page("/?a&b=1&_onload=alert(1)")
        assert changed.pid != first.pid
        assert changed.texts["init"] == "init=['a'] [('b', '1')]"  # '_' keywords never reach htag
        assert "onload" not in changed.elements.get("pid", {})
        eventually(lambda: pid_gone(first.pid), 5, message="the replaced process still runs")
        assert (await visitor.page("/?a&b=1")).pid == changed.pid


async def test_two_visitors_get_two_processes(server: Server) -> None:
    """Each session has its own process and state."""
    async with Visitor(server.url) as alice, Visitor(server.url) as bob:
        alice_page, bob_page = await alice.page(), await bob.page()
        assert alice_page.pid != bob_page.pid
        async with alice.websocket(alice_page) as ws:
            await click(ws, alice_page, "inc")
        assert (await bob.page()).texts["value"] == "0"


async def test_http_only_app_interacts_over_post(server: Server) -> None:
    """http_only: POST carries the interaction; there is no websocket (404 at the handshake,
    every server here offering ASGI's denial response)."""
    async with Visitor(server.url) as visitor:
        page = await visitor.page("/http")
        assert page.config["transport"] == "http"
        for expected in ("1", "2"):
            response = await visitor.post(page, page.click("inc"))
            assert response.status_code == 200
            assert updated_text(response.json()) == [expected]
        assert (await visitor.page("/http")).texts["value"] == "2"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with visitor.websocket(page):
                pass
    assert refused.value.response.status_code == 404
    assert refused.value.response.body == b"this application uses HTTP interactions"


async def test_interaction_timeout_kills_and_a_reload_starts_afresh(server: Server) -> None:
    """An interaction over timeout_interaction (3 s): process killed, page told, reload fresh."""
    async with Visitor(server.url) as visitor:
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            await ws.send(page.click("slow"))
            code, reason = await closed_with(ws)
        assert code == 4002 and "3 s" in reason
        eventually(lambda: pid_gone(page.pid), 5, message="the timed-out process still runs")
        fresh = await visitor.page()
    assert fresh.pid != page.pid and fresh.texts["value"] == "0"


async def test_inactivity_ends_the_process(server: Server) -> None:
    """timeout_inactivity (1.5 s at /idle): the idle process ends; its page learns why."""
    async with Visitor(server.url) as visitor:
        page = await visitor.page("/idle")
        async with visitor.websocket(page) as ws:
            await click(ws, page, "push")  # pushes are not activity
            code, _ = await closed_with(ws)
        assert code == 4003
        eventually(lambda: pid_gone(page.pid), 5, message="the idle process still runs")
        assert (await visitor.page("/idle")).pid != page.pid


async def test_exit_ends_the_process(server: Server) -> None:
    """self.exit() ends the process; the page is asked to reload (4000)."""
    async with Visitor(server.url) as visitor:
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            await click(ws, page, "exit")
            code, _ = await closed_with(ws)
        assert code == 4000
        eventually(lambda: pid_gone(page.pid), 5, message="the process did not exit")
        assert (await visitor.page()).pid != page.pid


async def test_crash_is_reported_and_a_reload_recovers(server: Server) -> None:
    """os._exit in a handler: the page is told (4004); the next load gets a new process."""
    async with Visitor(server.url) as visitor, Visitor(server.url) as other:
        other_page = await other.page()
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            await ws.send(page.click("crash"))
            code, _ = await closed_with(ws)
        assert code == 4004
        assert (await visitor.page()).pid != page.pid
        async with other.websocket(other_page) as ws:
            assert updated_text(await click(ws, other_page, "inc")) == ["1"]


async def test_a_killed_process_is_noticed_at_once(server: Server) -> None:
    """kill -9 of a user process (as the OOM killer does): its page is told right away, a
    reload gets a fresh process, and another user never notices."""
    async with Visitor(server.url) as visitor, Visitor(server.url) as other:
        other_page = await other.page()
        page = await visitor.page()
        async with visitor.websocket(page) as ws, other.websocket(other_page) as other_ws:
            assert updated_text(await click(other_ws, other_page, "inc")) == ["1"]
            os.kill(page.pid, signal.SIGKILL)
            code, _ = await closed_with(ws)
            assert code == 4004
            assert updated_text(await click(other_ws, other_page, "inc")) == ["2"]
        fresh = await visitor.page()
    assert fresh.pid != page.pid and fresh.texts["value"] == "0"


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/", "failed to handle"), ("/debug", "ValueError: deliberate failure")],
    ids=["short-message", "debug-traceback"],
)
async def test_handler_exception_is_an_error_action(
    server: Server, path: str, expected: str
) -> None:
    """A handler's exception: a short message (or the traceback with debug); process lives."""
    async with Visitor(server.url) as visitor:
        page = await visitor.page(path)
        async with visitor.websocket(page) as ws:
            reply = await click(ws, page, "fail")
            assert expected in reply["err"]
            assert updated_text(await click(ws, page, "inc")) == ["1"]


async def test_several_apps_and_an_extra_route(server: Server) -> None:
    """One host serves several Apps at several paths, and plain routes."""
    async with Visitor(server.url) as visitor:
        other = await visitor.page("/other")
        root = await visitor.page("/")
        assert other.pid != root.pid and "value" in other.texts
        async with visitor.websocket(other) as ws:
            assert updated_text(await click(ws, other, "inc")) == ["1"]
        assert (await visitor.http.get("/hello.txt")).text == "hello"


async def test_an_app_that_fails_to_import_gives_an_error_page(server: Server) -> None:
    """A broken App module: 500 with a short page, not a crash or a respawn loop."""
    async with Visitor(server.url) as visitor:
        for _ in range(3):
            response = await visitor.http.get("/broken")
            assert response.status_code == 500
            assert "cannot start" in response.text
            assert "broken on purpose" not in response.text  # no traceback without debug
        assert (await visitor.http.get("/")).status_code == 200


async def test_static_client_is_cacheable(server: Server) -> None:
    """client.js has an ETag and answers 304 to If-None-Match."""
    async with Visitor(server.url) as visitor:
        response = await visitor.http.get("/_/client.js")
        assert response.status_code == 200 and "htagweb" in response.text
        etag = response.headers["etag"]
        again = await visitor.http.get("/_/client.js", headers={"if-none-match": etag})
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(b"\x00\x01", 1003, id="binary-1003"),
        pytest.param("{not json", 1007, id="not-json-1007"),
        pytest.param(json.dumps({"id": "x", "method": "inc"}), 1008, id="wrong-shape-1008"),
        pytest.param(
            json.dumps({"id": 1, "method": "__class__", "args": [], "kargs": {}}),
            1008,
            id="dunder-method-1008",
        ),
        pytest.param("x" * (65 * 1024), 1009, id="too-big-1009"),
    ],
)
async def test_a_bad_message_closes_the_websocket_and_the_process_lives_on(
    server: Server, message: str | bytes, expected: int
) -> None:
    async with Visitor(server.url) as visitor:
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            await ws.send(message)
            code, _ = await closed_with(ws)
        assert code == expected
        async with visitor.websocket(page) as ws:
            assert updated_text(await click(ws, page, "inc")) == ["1"]
        assert (await visitor.page()).pid == page.pid


async def test_an_unknown_tag_id_gets_htags_answer_and_the_page_goes_on(server: Server) -> None:
    async with Visitor(server.url) as visitor:
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            assert updated_text(await click(ws, page, "inc")) == ["1"]
            unknown = json.dumps({"id": 12345, "method": "increment", "args": [], "kargs": {}})
            await ws.send(unknown)
            assert "err" in await receive(ws)  # htag's own answer for an unknown tag id
            assert updated_text(await click(ws, page, "inc")) == ["2"]


@pytest.mark.parametrize("who", ["forged-cookie", "stale-page"])
async def test_websocket_without_session_or_with_a_stale_page_reloads(
    server: Server, who: str
) -> None:
    """A forged cookie (so no session) or a page of an ended process: asked to reload (4001)."""
    async with Visitor(server.url) as visitor, Visitor(server.url) as stranger:
        page = await visitor.page()
        if who == "forged-cookie":  # another browser, with a cookie of its own making
            stranger.http.cookies.set("htagweb_session", "../../etc/passwd")
            opener = stranger
        else:
            page.config["instance"] = "0" * 32
            opener = visitor
        async with opener.websocket(page, ready=False) as ws:
            code, _ = await closed_with(ws)
    assert code == 4001


Ask = Callable[[Visitor], Awaitable[httpx.Response]]


async def unknown_path(visitor: Visitor) -> httpx.Response:
    return await visitor.http.get("/nope")


async def post_to_a_page(visitor: Visitor) -> httpx.Response:
    return await visitor.http.post("/")


async def get_the_post_endpoint(visitor: Visitor) -> httpx.Response:
    return await visitor.http.get("/http/_/post")


async def post_to_a_websocket_app(visitor: Visitor) -> httpx.Response:
    return await visitor.http.post("/ws/_/post")  # websocket-only Apps never POST


async def oversized_body(visitor: Visitor) -> httpx.Response:
    return await visitor.post(await visitor.page("/http"), b"x" * (65 * 1024))


async def bad_json(visitor: Visitor) -> httpx.Response:
    return await visitor.post(await visitor.page("/http"), b"{nope")


async def stale_page(visitor: Visitor) -> httpx.Response:
    page = await visitor.page("/http")
    page.config["instance"] = "f" * 32
    return await visitor.post(page, page.click("inc"))


async def long_query(visitor: Visitor) -> httpx.Response:
    return await visitor.http.get("/?" + "a" * 9000)


@pytest.mark.parametrize(
    ("ask", "status", "code"),
    [
        pytest.param(unknown_path, 404, None, id="unknown-path-404"),
        pytest.param(post_to_a_page, 405, None, id="post-to-a-page-405"),
        pytest.param(get_the_post_endpoint, 405, None, id="get-the-post-endpoint-405"),
        pytest.param(post_to_a_websocket_app, 404, None, id="post-to-a-websocket-app-404"),
        pytest.param(oversized_body, 413, None, id="oversized-body-413"),
        pytest.param(bad_json, 400, 1007, id="bad-json-400"),
        pytest.param(stale_page, 410, 4001, id="stale-page-410"),
        pytest.param(long_query, 414, None, id="long-query-414"),
    ],
)
async def test_http_errors(server: Server, ask: Ask, status: int, code: int | None) -> None:
    """Each refusal with its status (and, for interactions, the close code the page uses)."""
    async with Visitor(server.url) as visitor:
        response = await ask(visitor)
    assert response.status_code == status
    if code is not None:
        assert response.json()["code"] == code
