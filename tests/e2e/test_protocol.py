"""A real websocket/HTTP client against real servers: what a page does, byte for byte."""

from __future__ import annotations

import json
import os
import signal

import pytest

from tests.support.client import Visitor, click, closed_with, receive, updated_text
from tests.support.servers import Server
from tests.support.waiting import eventually, pid_gone

pytestmark = pytest.mark.anyio


async def test_click_updates_the_counter(server: Server) -> None:
    """A click goes to the user's process and its reply updates the span."""
    visitor = Visitor(server.url)
    page = await visitor.page()
    async with visitor.websocket(page) as ws:
        for expected in ("1", "2", "3"):
            assert updated_text(await click(ws, page, "inc")) == [expected]
    await visitor.aclose()


async def test_pushes_arrive_without_a_click(server: Server) -> None:
    """A background task's three update() calls reach the page as three pushes."""
    visitor = Visitor(server.url)
    page = await visitor.page()
    async with visitor.websocket(page) as ws:
        reply = await click(ws, page, "push")
        assert "err" not in reply
        pushes = [updated_text(await receive(ws)) for _ in range(3)]
    assert pushes == [["1"], ["2"], ["3"]]
    await visitor.aclose()


async def test_reload_keeps_state_and_process(server: Server) -> None:
    """Reloading the page shows the same App instance, in the same process."""
    visitor = Visitor(server.url)
    page = await visitor.page()
    async with visitor.websocket(page) as ws:
        await click(ws, page, "inc")
        await click(ws, page, "inc")
    again = await visitor.page()
    assert again.pid == page.pid
    assert again.texts["value"] == "2"
    assert again.config["instance"] == page.config["instance"]
    await visitor.aclose()


async def test_query_change_recreates_the_process(server: Server) -> None:
    """?a&b=1 makes App("a", b="1") in a new process; the same query again reuses it."""
    visitor = Visitor(server.url)
    first = await visitor.page("/")
    changed = await visitor.page("/?a&b=1&_onload=alert(1)")
    assert changed.pid != first.pid
    assert changed.texts["init"] == "init=['a'] [('b', '1')]"  # '_' keywords never reach htag
    assert "onload" not in changed.elements.get("pid", {})
    eventually(lambda: pid_gone(first.pid), 5, message="the replaced process still runs")
    assert (await visitor.page("/?a&b=1")).pid == changed.pid
    await visitor.aclose()


async def test_two_visitors_get_two_processes(server: Server) -> None:
    """Each session has its own process and state."""
    alice, bob = Visitor(server.url), Visitor(server.url)
    alice_page, bob_page = await alice.page(), await bob.page()
    assert alice_page.pid != bob_page.pid
    async with alice.websocket(alice_page) as ws:
        await click(ws, alice_page, "inc")
    assert (await bob.page()).texts["value"] == "0"
    await alice.aclose()
    await bob.aclose()


async def test_http_only_app_interacts_over_post(server: Server) -> None:
    """http_only: POST carries the interaction; there is no websocket."""
    visitor = Visitor(server.url)
    page = await visitor.page("/http")
    assert page.config["transport"] == "http"
    for expected in ("1", "2"):
        response = await visitor.post(page, page.click("inc"))
        assert response.status_code == 200
        assert updated_text(response.json()) == [expected]
    assert (await visitor.page("/http")).texts["value"] == "2"
    with pytest.raises(Exception):  # noqa: B017 - refused handshake, whatever the client's error
        async with visitor.websocket(page):
            pass
    await visitor.aclose()


async def test_interaction_timeout_kills_and_a_reload_starts_afresh(server: Server) -> None:
    """An interaction over timeout_interaction (3 s): process killed, page told, reload fresh."""
    visitor = Visitor(server.url)
    page = await visitor.page()
    async with visitor.websocket(page) as ws:
        await ws.send(page.click("slow"))
        code, reason = await closed_with(ws)
    assert code == 4002 and "3 s" in reason
    eventually(lambda: pid_gone(page.pid), 5, message="the timed-out process still runs")
    fresh = await visitor.page()
    assert fresh.pid != page.pid and fresh.texts["value"] == "0"
    await visitor.aclose()


async def test_inactivity_ends_the_process(server: Server) -> None:
    """timeout_inactivity (1.5 s at /idle): the idle process ends; its page learns why."""
    visitor = Visitor(server.url)
    page = await visitor.page("/idle")
    async with visitor.websocket(page) as ws:
        await click(ws, page, "push")  # pushes are not activity
        code, _ = await closed_with(ws)
    assert code == 4003
    eventually(lambda: pid_gone(page.pid), 5, message="the idle process still runs")
    assert (await visitor.page("/idle")).pid != page.pid
    await visitor.aclose()


async def test_exit_ends_the_process(server: Server) -> None:
    """self.exit() ends the process; the page is asked to reload (4000)."""
    visitor = Visitor(server.url)
    page = await visitor.page()
    async with visitor.websocket(page) as ws:
        await click(ws, page, "exit")
        code, _ = await closed_with(ws)
    assert code == 4000
    eventually(lambda: pid_gone(page.pid), 5, message="the process did not exit")
    assert (await visitor.page()).pid != page.pid
    await visitor.aclose()


async def test_crash_is_reported_and_a_reload_recovers(server: Server) -> None:
    """os._exit in a handler: the page is told (4004); the next load gets a new process."""
    visitor, other = Visitor(server.url), Visitor(server.url)
    other_page = await other.page()
    page = await visitor.page()
    async with visitor.websocket(page) as ws:
        await ws.send(page.click("crash"))
        code, _ = await closed_with(ws)
    assert code == 4004
    assert (await visitor.page()).pid != page.pid
    async with other.websocket(other_page) as ws:
        assert updated_text(await click(ws, other_page, "inc")) == ["1"]
    await visitor.aclose()
    await other.aclose()


async def test_a_killed_process_is_noticed_at_once(server: Server) -> None:
    """kill -9 of a user process (as the OOM killer does): its page is told right away, a
    reload gets a fresh process, and another user never notices."""
    visitor, other = Visitor(server.url), Visitor(server.url)
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
    await visitor.aclose()
    await other.aclose()


async def test_handler_exception_is_an_error_action(server: Server) -> None:
    """A handler's exception: a short message (or the traceback with debug); process lives."""
    visitor = Visitor(server.url)
    for path, expected in (("/", "failed to handle"), ("/debug", "ValueError: deliberate failure")):
        page = await visitor.page(path)
        async with visitor.websocket(page) as ws:
            reply = await click(ws, page, "fail")
            assert expected in reply["err"]
            assert updated_text(await click(ws, page, "inc")) == ["1"]
    await visitor.aclose()


async def test_several_apps_and_an_extra_route(server: Server) -> None:
    """One host serves several Apps at several paths, and plain routes."""
    visitor = Visitor(server.url)
    other = await visitor.page("/other")
    root = await visitor.page("/")
    assert other.pid != root.pid and "value" in other.texts
    async with visitor.websocket(other) as ws:
        assert updated_text(await click(ws, other, "inc")) == ["1"]
    assert (await visitor.http.get("/hello.txt")).text == "hello"
    await visitor.aclose()


async def test_an_app_that_fails_to_import_gives_an_error_page(server: Server) -> None:
    """A broken App module: 500 with a short page, not a crash or a respawn loop."""
    visitor = Visitor(server.url)
    for _ in range(3):
        response = await visitor.http.get("/broken")
        assert response.status_code == 500
        assert "cannot start" in response.text
        assert "broken on purpose" not in response.text  # no traceback without debug
    assert (await visitor.http.get("/")).status_code == 200
    await visitor.aclose()


async def test_static_client_is_cacheable(server: Server) -> None:
    """client.js has an ETag and answers 304 to If-None-Match."""
    visitor = Visitor(server.url)
    response = await visitor.http.get("/_/client.js")
    assert response.status_code == 200 and "htagweb" in response.text
    etag = response.headers["etag"]
    again = await visitor.http.get("/_/client.js", headers={"if-none-match": etag})
    assert again.status_code == 304
    await visitor.aclose()


async def test_bad_messages_close_the_websocket_with_a_reason(server: Server) -> None:
    """Binary → 1003, not JSON → 1007, wrong shape → 1008, too big → 1009; process lives on."""
    visitor = Visitor(server.url)
    page = await visitor.page()
    cases: list[tuple[str | bytes, int]] = [
        (b"\x00\x01", 1003),
        ("{not json", 1007),
        (json.dumps({"id": "x", "method": "inc"}), 1008),
        (json.dumps({"id": 1, "method": "__class__", "args": [], "kargs": {}}), 1008),
        ("x" * (65 * 1024), 1009),
    ]
    for message, expected in cases:
        async with visitor.websocket(page) as ws:
            await ws.send(message)
            code, _ = await closed_with(ws)
            assert code == expected, message[:40]
    async with visitor.websocket(page) as ws:
        reply = await click(ws, page, "inc")
        assert updated_text(reply) == ["1"]
        unknown = json.dumps({"id": 12345, "method": "increment", "args": [], "kargs": {}})
        await ws.send(unknown)
        assert "err" in await receive(ws)  # htag's own answer for an unknown tag id
        assert updated_text(await click(ws, page, "inc")) == ["2"]
    assert (await visitor.page()).pid == page.pid
    await visitor.aclose()


async def test_websocket_without_session_or_with_a_stale_page_reloads(server: Server) -> None:
    """No cookie, a forged cookie or a page of an ended process: asked to reload (4001)."""
    visitor = Visitor(server.url)
    page = await visitor.page()
    stranger = Visitor(server.url)
    stranger.http.cookies.set("htagweb_session", "../../etc/passwd")
    for who, instance in ((stranger, page.config["instance"]), (visitor, "0" * 32)):
        page.config["instance"] = instance
        async with who.websocket(page, ready=False) as ws:
            code, _ = await closed_with(ws)
            assert code == 4001
    await visitor.aclose()
    await stranger.aclose()


async def test_http_errors(server: Server) -> None:
    """Unknown path 404, wrong method 405, oversized body 413, bad JSON 400, stale page 410."""
    visitor = Visitor(server.url)
    assert (await visitor.http.get("/nope")).status_code == 404
    assert (await visitor.http.post("/")).status_code == 405
    assert (await visitor.http.get("/http/_/post")).status_code == 405
    assert (await visitor.http.post("/_/post")).status_code == 404  # websocket Apps never POST
    page = await visitor.page("/http")
    assert (await visitor.post(page, b"x" * (65 * 1024))).status_code == 413
    response = await visitor.post(page, b"{nope")
    assert response.status_code == 400 and response.json()["code"] == 1007
    page.config["instance"] = "f" * 32
    response = await visitor.post(page, page.click("inc"))
    assert response.status_code == 410 and response.json()["code"] == 4001
    long_query = "/?" + "a" * 9000
    assert (await visitor.http.get(long_query)).status_code == 414
    await visitor.aclose()
