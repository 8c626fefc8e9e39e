"""SessionMiddleware in-process: cookie only when needed, per-key saves, rotation, logout."""

from __future__ import annotations

from typing import Any

import pytest

from htagweb_asgi import MemoryStore, SessionMiddleware, Sessions
from tests.support.asgi_driver import call_http, http_scope

pytestmark = pytest.mark.anyio


def make(action: str) -> tuple[SessionMiddleware, Sessions]:
    sessions = Sessions(
        secret_key="a test secret that is long enough",
        store=MemoryStore(),
        runtime_dir="/nonexistent",
    )

    async def route(scope: dict[str, Any], receive: Any, send: Any) -> None:
        session = scope["session"]
        if action == "write":
            session["n"] = session.get("n", 0) + 1
        elif action == "login":
            session["user"] = "alice"
            session.rotate()
        elif action == "logout":
            session.end()
        body = repr(dict(session)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return SessionMiddleware(route, sessions=sessions), sessions


def cookie_of(result: Any) -> str:
    return result.headers[b"set-cookie"].decode().split(";")[0]


async def test_no_cookie_until_something_is_stored() -> None:
    app, _ = make("read")
    result = await call_http(app, http_scope("/"))
    assert b"set-cookie" not in result.headers


async def test_a_write_creates_the_session_and_later_requests_see_it() -> None:
    app, _ = make("write")
    first = await call_http(app, http_scope("/"))
    cookie = cookie_of(first)
    assert "Path=/" in first.headers[b"set-cookie"].decode()
    second = await call_http(app, http_scope("/", headers=[(b"cookie", cookie.encode())]))
    assert second.body == b"{'n': 2}" and b"set-cookie" not in second.headers


async def test_a_forged_cookie_is_a_new_session() -> None:
    app, _ = make("write")
    result = await call_http(app, http_scope("/", headers=[(b"cookie", b"htagweb_session=forged")]))
    assert result.status == 200 and result.body == b"{'n': 1}" and "forged" not in cookie_of(result)


async def test_login_rotates_and_logout_clears() -> None:
    app, sessions = make("write")
    cookie = cookie_of(await call_http(app, http_scope("/")))
    login, _ = make("login")
    login.sessions = sessions
    rotated = await call_http(login, http_scope("/", headers=[(b"cookie", cookie.encode())]))
    new_cookie = cookie_of(rotated)
    assert new_cookie != cookie
    old_id = sessions.signer.unsign(cookie.split("=", 1)[1])
    new_id = sessions.signer.unsign(new_cookie.split("=", 1)[1])
    assert old_id and new_id
    assert sessions.store.load(old_id) == {}
    assert sessions.store.load(new_id) == {"n": "1", "user": '"alice"'}
    logout, _ = make("logout")
    logout.sessions = sessions
    cleared = await call_http(logout, http_scope("/", headers=[(b"cookie", new_cookie.encode())]))
    assert "Max-Age=0" in cleared.headers[b"set-cookie"].decode()
    assert sessions.store.load(new_id) == {}


async def test_a_cookie_of_an_ended_session_starts_a_new_one() -> None:
    """After a logout elsewhere (another tab, the App), the old cookie gets a new session:
    not one whose writes would be dropped."""
    app, sessions = make("write")
    cookie = cookie_of(await call_http(app, http_scope("/")))
    old_id = sessions.signer.unsign(cookie.split("=", 1)[1])
    assert old_id is not None
    await sessions.end(old_id)
    again = await call_http(app, http_scope("/", headers=[(b"cookie", cookie.encode())]))
    assert again.body == b"{'n': 1}" and cookie_of(again) != cookie
    assert sessions.store.load(old_id) == {}
