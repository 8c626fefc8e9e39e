"""Cookie parsing and Set-Cookie building."""

from __future__ import annotations

from htagweb_asgi.sessions.cookie import build_set_cookie, parse_cookies


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
