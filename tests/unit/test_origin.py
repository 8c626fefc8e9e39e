"""Same-origin rules for the websocket handshake and the POST endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.store import MemoryStore
from htagweb_asgi.web.security import (
    CSRF_HEADER,
    cross_site_fetch,
    cross_site_refusal,
    origin_allowed,
)


def scope(origin: str | None, host: str = "example.com:8000", scheme: str = "ws") -> dict[str, Any]:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"headers": headers, "scheme": scheme}


@pytest.mark.parametrize(
    ("given", "allowed"),
    [
        (scope("http://example.com:8000"), True),
        (scope("HTTP://EXAMPLE.COM:8000"), True),
        (scope("https://example.com", host="example.com"), True),  # TLS ended at a proxy
        (scope("https://example.com:443", host="example.com", scheme="wss"), True),
        (scope("http://example.com", host="example.com", scheme="wss"), False),  # downgrade
        (scope("http://evil.example:8000"), False),
        (scope("http://example.com.evil.example:8000"), False),
        (scope("http://example.com:8001"), False),
        (scope("null"), False),
        (scope(None), False),
        (scope("http://example.com:8000/path"), False),
        (scope("http://[::1]:8000", host="[::1]:8000"), True),
        (scope("http://evil@example.com:8000"), False),  # userinfo is no part of an origin
        (scope("http://example.com:8000?x"), False),
        (scope("http://example.com:8000#x"), False),
        (scope("http://[::1", host="[::1]:8000"), False),  # malformed: refused, no error
        (scope("http://example.com:8000", host="[::1"), False),
        (scope("http://example.com:99999"), False),
    ],
)
def test_origin_must_name_this_host(given: dict[str, Any], allowed: bool) -> None:
    assert origin_allowed(given, ()) is allowed


def test_an_allow_list_admits_other_origins() -> None:
    assert origin_allowed(scope("https://app.example"), ("https://app.example",))
    assert not origin_allowed(scope("https://other.example"), ("https://app.example",))
    assert origin_allowed(scope("https://anything.example"), ("*",))


@pytest.mark.parametrize(
    ("site", "cross"),
    [(b"same-origin", False), (b"none", False), (b"cross-site", True), (b"same-site", True)],
)
def test_fetch_metadata(site: bytes, cross: bool) -> None:
    assert cross_site_fetch({"headers": [(b"sec-fetch-site", site)]}) is cross
    assert not cross_site_fetch({"headers": []})


@pytest.mark.parametrize("token", [b"\xff\xfe", "é".encode(), b"", b"x" * 10_000])
def test_any_csrf_header_is_only_refused(token: bytes) -> None:
    """Whatever bytes the header holds: a refusal, never an error."""
    sessions = Sessions(secret_key="k" * 32, store=MemoryStore())
    request = {"headers": [(CSRF_HEADER, token)], "scheme": "http"}
    assert cross_site_refusal(request, sessions, "sid", ()) == "missing or wrong CSRF token"
    good = sessions.csrf_token("sid").encode()
    assert cross_site_refusal({"headers": [(CSRF_HEADER, good)]}, sessions, "sid", ()) == ""
