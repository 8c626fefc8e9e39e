"""Cookie parsing and Set-Cookie building."""

from __future__ import annotations

import time

import pytest

from htagweb_asgi.sessions import core
from htagweb_asgi.sessions.cookie import build_set_cookie, parse_cookies
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.store import MemoryStore


def test_our_cookie_survives_odd_neighbours() -> None:
    """A host site's odd cookie must not hide ours (SimpleCookie would stop at it)."""
    headers = [(b"cookie", b'a=1; bad"cookie=x; ui=abc123; json={"k":1}'), (b"accept", b"*/*")]
    assert parse_cookies(headers) == {
        "a": "1",
        'bad"cookie': "x",
        "ui": "abc123",
        "json": '{"k":1}',
    }


def test_several_cookie_headers_are_joined_and_the_first_value_wins() -> None:
    """HTTP/2 may send several cookie headers; browsers send the most specific path first."""
    headers = [(b"cookie", b"s=first"), (b"cookie", b"s=second; t=2")]
    assert parse_cookies(headers) == {"s": "first", "t": "2"}


def test_pieces_without_a_name_or_equals_are_ignored() -> None:
    assert parse_cookies([(b"cookie", b"novalue; =x; ;; k=v; \xe9=\xe9")]) == {"k": "v", "é": "é"}


def test_set_cookie_is_http_only_lax_and_secure_on_https() -> None:
    plain = build_set_cookie("sid", "v", path="/ui", secure=False)
    assert plain == b"sid=v; Path=/ui; HttpOnly; SameSite=Lax"
    assert build_set_cookie("sid", "v", path="", secure=True).endswith(
        b"Path=/; HttpOnly; SameSite=Lax; Secure"
    )


def test_a_host_prefixed_cookie_is_secure_with_path_slash_always() -> None:
    sessions = Sessions(secret_key="k" * 32, cookie_name="__Host-htagweb_session")
    cookie = sessions.set_cookie(sessions.new_id(), {"scheme": "http"}, "/mounted/ui").decode()
    assert cookie.startswith("__Host-htagweb_session=")
    assert "; Path=/;" in cookie and cookie.endswith("; Secure") and "Domain" not in cookie
    for wrong in ({"secure": False}, {"path": "/ui"}):
        with pytest.raises(ValueError, match="__Host-"):
            Sessions(secret_key="k" * 32, cookie_name="__Host-x", **wrong)


@pytest.mark.anyio
async def test_a_rotation_token_needs_the_old_id_serves_once_and_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sessions = Sessions(secret_key="k" * 32, store=MemoryStore())
    old, new = sessions.new_id(), sessions.new_id()
    token = sessions.rotation_token(old, new)
    assert await sessions.redeem_rotation(sessions.new_id(), token) is None  # another browser
    forged = token.replace(new, sessions.new_id())
    assert await sessions.redeem_rotation(old, forged) is None
    assert await sessions.redeem_rotation(old, "garbage") is None
    assert await sessions.redeem_rotation(old, token) == new
    assert await sessions.redeem_rotation(old, token) is None  # used
    later = sessions.rotation_token(old, new)
    monkeypatch.setattr(core, "now", lambda: time.time() + core.ROTATION_TOKEN_LIFE + 1)
    assert await sessions.redeem_rotation(old, later) is None
