"""Small ASGI helpers: responses, bounded bodies, headers, error pages, refused websockets."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

from htagweb_asgi.errors import HtagwebError

logger = logging.getLogger(__name__)

Headers = list[tuple[bytes, bytes]]

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
# Sent with every page we render: no MIME sniffing, no full URL leaked to other sites.
PAGE_SECURITY_HEADERS: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


NO_STORE: Headers = [(b"cache-control", b"no-store")]


class BodyTooLarge(HtagwebError):
    """Raised by read_body when the request body exceeds its limit."""


class ClientGone(HtagwebError):
    """Raised by read_body when the client disconnects before the body is complete."""


def header(scope: Mapping[str, Any], name: bytes) -> bytes | None:
    """Return the first value of request header `name` (lower-case), or None."""
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or ()
    for key, value in headers:
        if key == name:
            return value
    return None


async def read_body(receive: ASGIReceiveCallable, limit: int) -> bytes:
    """Return the whole request body, refusing more than `limit` bytes without buffering them."""
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            raise ClientGone()
        if event["type"] != "http.request":
            continue
        chunk = event.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not event.get("more_body", False):
            return b"".join(chunks)


async def send_response(
    send: ASGISendCallable,
    status: int,
    body: bytes,
    *,
    content_type: str = TEXT,
    headers: Sequence[tuple[bytes, bytes]] = (),
    head: bool = False,
) -> None:
    """Send a complete response (headers only, with the body's length, when `head`)."""
    start_headers: Headers = [
        (b"content-type", content_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode("latin-1")),
        *headers,
    ]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": start_headers,
            "trailers": False,
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body, "more_body": False})


def error_page(title: str, detail: str = "", *, reload_hint: bool = False) -> bytes:
    """Return a minimal, self-contained HTML error page; `detail` is shown escaped, as is."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if detail:
        parts.append(f"<pre>{html.escape(detail)}</pre>")
    if reload_hint:
        parts.append("<p><a href=''>Reload the page</a></p>")  # '' is this very URL
    parts.append("</body></html>")
    return "".join(parts).encode()


async def refuse(
    scope: Mapping[str, Any], send: ASGISendCallable, status: int, reason: str
) -> None:
    """Refuse a websocket handshake: an HTTP denial response where the server supports it,
    else a close before accept (which the server turns into a 403)."""
    logger.info("refused websocket %r: %s", scope.get("path"), reason)
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = reason.encode()
        headers = [
            (b"content-type", TEXT.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": reason})


async def send_ended(send: ASGISendCallable, status: int, code: int, reason: str) -> None:
    """An error reply the page understands: the same codes as the websocket's closes."""
    body = json.dumps({"code": code, "reason": reason}).encode()
    await send_response(send, status, body, content_type=JSON, headers=NO_STORE)
