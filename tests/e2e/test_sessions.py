"""One session for framework routes and the htag App, kept in the store; login rotates it,
logout ends it and the user's processes; cross-site requests and forged cookies refused."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import websockets
from websockets.typing import Origin

from htagweb_asgi.protocol.codes import Close
from tests.support.client import Visitor, click, closed_with, receive
from tests.support.pageclient import NumberedPage
from tests.support.pageparse import ParsedPage
from tests.support.servers import Server, our_processes, start_server
from tests.support.waiting import eventually, pid_gone

pytestmark = pytest.mark.anyio

APP = "tests.support.apps.session_host:app"


@pytest.fixture(scope="module", params=["uvicorn", "uvicorn-4"])
def served(request: pytest.FixtureRequest, logs: Path) -> Iterator[tuple[Server, str]]:
    runtime = tempfile.mkdtemp(prefix="hw-")
    server = start_server(request.param, APP, runtime, logs)
    yield server, runtime
    server.close()
    eventually(lambda: not our_processes(runtime), 10, message="processes left behind")
    shutil.rmtree(runtime, ignore_errors=True)


def shown(message: dict[str, object]) -> dict[str, object]:
    """The session as the App rendered it in an update."""
    fragment = next(iter(message["update"].values()))  # type: ignore[attr-defined]
    return json.loads(ParsedPage.texts_of(fragment))


async def test_a_route_and_the_app_share_one_session(served: tuple[Server, str]) -> None:
    server, _ = served
    async with Visitor(server.url) as user:
        assert (await user.http.post("/api/session/from_route", json={"n": 1})).status_code == 200
        page = await user.page("/ui/")
        assert json.loads(page.texts["session"]) == {"from_route": {"n": 1}}
        async with user.websocket(page) as ws:
            assert shown(await click(ws, page, "write")) == {"from_app": 1, "from_route": {"n": 1}}
        for _ in range(3):  # whichever worker reads it
            async with user.new_connection() as other:
                assert (await other.http.get("/api/session")).json() == {
                    "from_app": 1,
                    "from_route": {"n": 1},
                }
        await user.http.post("/api/session/from_route", json={"n": 2})
        # the App sees the route's write at its next interaction
        async with user.websocket(page) as ws:
            assert shown(await click(ws, page, "show"))["from_route"] == {"n": 2}


async def test_concurrent_writes_to_different_keys_are_never_lost(
    served: tuple[Server, str],
) -> None:
    server, _ = served
    async with Visitor(server.url) as user:
        page = await user.page("/ui/")

        async def route_writes() -> None:
            for n in range(1, 31):
                async with user.new_connection() as other:
                    response = await other.http.post("/api/session/from_route", json=n)
                    assert response.status_code == 200

        async def app_writes() -> None:
            async with user.websocket(page) as ws:
                for _ in range(30):
                    await click(ws, page, "write")

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(route_writes)
            tasks.start_soon(app_writes)
        assert (await user.http.get("/api/session")).json() == {"from_app": 30, "from_route": 30}


async def test_tag_state_lives_in_the_session(served: tuple[Server, str]) -> None:
    server, _ = served
    async with Visitor(server.url) as user:
        page = await user.page("/ui/")
        async with user.websocket(page) as ws:
            await click(ws, page, "state")
            assert shown(await click(ws, page, "state")) == {
                "tests.support.apps.sessionapp.App": {"n": 2}
            }
        assert (await user.http.get("/api/session")).json() == {
            "tests.support.apps.sessionapp.App": {"n": 2}
        }


async def test_an_unstorable_value_is_refused_by_name_and_the_session_is_intact(
    served: tuple[Server, str],
) -> None:
    server, _ = served
    async with Visitor(server.url) as user:
        await user.http.post("/api/session/kept", json="yes")
        page = await user.page("/ui/")
        async with user.websocket(page) as ws:
            assert "'unstorable' is not JSON-serializable" in (await click(ws, page, "bad"))["err"]
            assert "'nested' is not JSON-serializable" in (await click(ws, page, "nested"))["err"]
        assert json.loads((await user.page("/ui/")).texts["session"]) == {"kept": "yes"}
        assert (await user.http.get("/api/session")).json() == {"kept": "yes"}


async def test_login_rotates_the_session_and_ends_the_old_process(
    served: tuple[Server, str],
) -> None:
    """Session fixation: the id changes at login; the App of the old id cannot go on."""
    server, _ = served
    async with Visitor(server.url) as user:
        page = await user.page("/ui/")
        old_cookie = user.http.cookies["htagweb_session"]
        async with user.websocket(page) as ws:
            response = await user.http.post("/login", json={"name": "alice"})
            assert response.status_code == 200
            assert "htagweb_session" in response.headers["set-cookie"]
            code, reason = await closed_with(ws)
        assert code == 4001 and "session ended" in reason
        assert user.http.cookies["htagweb_session"] != old_cookie
        eventually(lambda: pid_gone(page.pid), 5, message="the old session's process runs on")
        again = await user.page("/ui/")
        assert again.pid != page.pid and again.texts["user"] == "alice"
    async with Visitor(server.url) as stranger:  # the old cookie: no data, no process
        stranger.http.cookies.set("htagweb_session", old_cookie)
        assert (await stranger.http.get("/api/session")).json() == {}


async def test_logout_ends_the_session_and_its_processes(served: tuple[Server, str]) -> None:
    server, _ = served
    async with Visitor(server.url) as user:
        await user.http.post("/login", json={"name": "bob"})
        page = await user.page("/ui/")
        assert page.texts["user"] == "bob"
        async with user.websocket(page) as ws:
            response = await user.http.post("/logout")
            assert "Max-Age=0" in response.headers["set-cookie"]
            code, _ = await closed_with(ws)
        assert code == 4001
        eventually(lambda: pid_gone(page.pid), 5, message="the session's process runs on")
        again = await user.page("/ui/")
        assert again.texts["user"] == "anonymous"


async def test_cross_site_websockets_are_refused(served: tuple[Server, str]) -> None:
    server, _ = served
    async with Visitor(server.url) as user:
        page = await user.page("/ui/")
        url = user.ws_url(page)
        origins: list[Origin | None] = [
            Origin("https://evil.example"),
            Origin("http://127.0.0.1.evil.example"),
            None,
        ]
        for origin in origins:
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(
                    url, additional_headers={"cookie": user.cookie_header}, origin=origin
                ):
                    pass
            assert refused.value.response.status_code == 403
        async with user.websocket(page) as ws:  # our own origin: fine
            await click(ws, page, "show")


@pytest.mark.parametrize(
    "cookie",
    ["forged.value", "x" * 87, "a" * 43 + "." + "b" * 43, "../../etc/passwd", "é" * 10, "A" * 5000],
)
async def test_bad_cookies_mean_a_fresh_session_and_touch_nothing(
    served: tuple[Server, str], cookie: str, state_dir: str
) -> None:
    server, runtime = served
    before = set(os.listdir(state_dir)) | set(os.listdir(runtime))
    async with httpx.AsyncClient(base_url=server.url) as client:
        raw = f"htagweb_session={cookie}".encode()  # non-ASCII bytes go on the wire as they are
        response = await client.get("/ui/", headers={b"cookie": raw})
        assert response.status_code == 200
        assert "htagweb_session=" in response.headers["set-cookie"]
        assert cookie not in response.headers["set-cookie"]
    after = set(os.listdir(state_dir)) | set(os.listdir(runtime))
    assert not any(cookie[:20] in name for name in after - before)
    assert not os.path.exists("/etc/passwd.sock")


async def test_http_interactions_need_the_page_token_and_our_origin(logs: Path) -> None:
    """The POST endpoint: the CSRF token from the page config, and a same-site Origin."""
    runtime = tempfile.mkdtemp(prefix="hw-")
    server = start_server("uvicorn", "tests.support.apps.hosts:main", runtime, logs)
    try:
        async with Visitor(server.url) as user:
            page = await user.page("/http")
            url = f"/http/_/post?i={page.config['instance']}"
            body = page.click("inc")
            good = {
                "content-type": "application/json",
                "origin": server.url,
                "x-htagweb-csrf": page.config["csrf"],
            }
            cases = [
                ({**good, "x-htagweb-csrf": ""}, 403),
                ({**good, "x-htagweb-csrf": "0" * 32}, 403),
                ({**good, "origin": "https://evil.example"}, 403),
                ({**good, "sec-fetch-site": "cross-site"}, 403),
                (good, 200),
            ]
            for headers, status in cases:
                response = await user.http.post(url, content=body, headers=headers)
                assert response.status_code == status, (headers, response.text)
            assert response.json()["update"]
    finally:
        server.close()
        eventually(lambda: not our_processes(runtime), 10)
        shutil.rmtree(runtime, ignore_errors=True)


async def test_sessions_survive_a_server_restart(logs: Path) -> None:
    """The default store (SQLite in the state directory) outlives the server."""
    runtime = tempfile.mkdtemp(prefix="hw-")
    server = start_server("uvicorn", APP, runtime, logs)
    try:
        async with Visitor(server.url) as user:
            await user.http.post("/api/session/kept", json=[1, 2])
            server.stop()
            server.start()
            assert (await user.http.get("/api/session")).json() == {"kept": [1, 2]}
            page = await user.page("/ui/")
            assert json.loads(page.texts["session"]) == {"kept": [1, 2]}
            async with user.websocket(page) as ws:
                await receive_nothing_wrong(ws, page)
    finally:
        server.close()
        eventually(lambda: not our_processes(runtime), 10)
        shutil.rmtree(runtime, ignore_errors=True)


async def receive_nothing_wrong(ws: websockets.ClientConnection, page: ParsedPage) -> None:
    reply = await click(ws, page, "write")
    assert "err" not in reply, reply


async def test_a_message_after_logout_from_another_tab(served: tuple[Server, str]) -> None:
    """A page whose session ended elsewhere is asked to reload, not left talking to nothing."""
    server, _ = served
    async with Visitor(server.url) as user:
        page = await user.page("/ui/")
        async with user.new_connection() as other:
            await other.http.post("/logout")
        async with user.websocket(page, ready=False) as ws:
            message = await receive(ws)
            if message == {"htagweb": {"ready": True}}:  # attached before the template ended it
                code, _ = await closed_with(ws)
            else:
                code = message["htagweb"]["close"]
        assert code == 4001


async def test_the_app_logs_in_by_itself_rotates_and_keeps_its_process(
    served: tuple[Server, str],
) -> None:
    """``self.session.rotate()`` in the App: a new id (session fixation), the browser gets
    its cookie through /_/session, and the App's process and state go on."""
    server, _ = served
    async with Visitor(server.url) as user, Visitor(server.url) as stranger:
        page = await user.page("/ui/")
        old_cookie = user.http.cookies["htagweb_session"]
        headers = {"origin": user.origin}
        async with user.websocket(page) as ws:
            await ws.send(page.click("login"))
            token = (await receive(ws))["htagweb"]["session"]
            assert shown(await receive(ws))["user"] == {"name": "app-user"}
            thief = await user.http.post("/ui/_/session", content=token + "x", headers=headers)
            assert thief.status_code == 403
            traded = await user.http.post("/ui/_/session", content=token, headers=headers)
            assert traded.status_code == 200
            assert "htagweb_session=" in traded.headers["set-cookie"]
            assert user.http.cookies["htagweb_session"] != old_cookie
            reply = await click(ws, page, "write")  # the same connection goes on, logged in
            assert shown(reply)["user"] == {"name": "app-user"}
        again = await user.page("/ui/")
        assert again.pid == page.pid  # the same App (not rebuilt: its state is kept)
        assert json.loads(again.texts["session"])["user"] == {"name": "app-user"}
        # the fixated (old) id: ended, no data, no process, and the token served once
        stranger.http.cookies.set("htagweb_session", old_cookie)
        assert (await stranger.http.get("/api/session")).json() == {}
        assert (await stranger.page("/ui/")).pid != page.pid
        stranger.http.cookies.set("htagweb_session", old_cookie)
        replay = await stranger.http.post("/ui/_/session", content=token, headers=headers)
        assert replay.status_code == 403


async def test_the_old_cookie_after_logout_starts_a_new_session(
    served: tuple[Server, str],
) -> None:
    """A session ended is ended: the old cookie neither reads nor revives it."""
    server, _ = served
    async with Visitor(server.url) as user, Visitor(server.url) as stale:
        await user.http.post("/login", json={"name": "carol"})
        old_cookie = user.http.cookies["htagweb_session"]
        await user.http.post("/logout")
        stale.http.cookies.set("htagweb_session", old_cookie)
        written = await stale.http.post("/api/session/late", json=1)
        assert written.json() == {"late": 1}
        new_cookie = written.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        assert new_cookie != old_cookie  # a new session, not the old one revived
    async with Visitor(server.url) as replayed:
        replayed.http.cookies.set("htagweb_session", old_cookie)
        assert (await replayed.http.get("/api/session")).json() == {}


async def test_an_app_that_rotates_over_post_keeps_its_pages_event_stream(
    served: tuple[Server, str],
) -> None:
    """Transport "auto" without websocket (SSE + POST): the POST that logs in carries the
    new cookie; the event stream of that page goes on (its next push arrives), another tab's
    stream is ended (4001: it speaks for the old id); a resend of the login is answered
    again without rotating twice."""
    server, _ = served
    async with Visitor(server.url) as user:
        page = NumberedPage(user, await user.page("/ui/"))
        other_tab = NumberedPage(user, await user.page("/ui/"))
        async with page.events() as stream, other_tab.events() as other_stream:
            assert await stream.control() == {"ready": True}
            assert await other_stream.control() == {"ready": True}
            iid, login = page.interaction("login")
            logged_in = await page.post(login)
            assert logged_in.status_code == 200 and logged_in.json()["reply"] == iid
            assert "htagweb_session=" in logged_in.headers["set-cookie"]
            new_cookie = user.http.cookies["htagweb_session"]
            page.page.config["csrf"] = logged_in.headers["x-htagweb-csrf"]  # as http.js does
            ending = await other_stream.next()
            while ending.name != "htagweb":  # the login's effect comes first
                ending = await other_stream.next()
            assert json.loads(ending.data)["close"] == Close.NO_PROCESS
            resent = await page.post(login)
            assert resent.status_code == 200 and resent.json()["reply"] == iid
            assert "set-cookie" not in resent.headers  # rotated once
            assert user.http.cookies["htagweb_session"] == new_cookie
            new_tab = NumberedPage(user, await user.page("/ui/"))
            assert new_tab.page.pid == page.page.pid  # the process went on, under the new id
            _, write = new_tab.interaction("write")
            assert (await new_tab.post(write)).status_code == 200
            pushed = json.loads((await stream.next()).data)  # the new tab's effect
            assert pushed["push"] > page.last_push
