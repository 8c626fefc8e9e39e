"""The static client script (static/client.js), served with an ETag and a version in its URL."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from importlib import resources
from typing import Any

from asgiref.typing import ASGISendCallable

from htagweb_asgi.web.http import header, send_response

CLIENT_JS = "client.js"


@functools.cache
def client_script() -> tuple[bytes, str]:
    """Return the script and its version (a content hash), read once per process."""
    body = resources.files("htagweb_asgi").joinpath("static").joinpath(CLIENT_JS).read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:16]


async def serve_client_script(scope: Mapping[str, Any], send: ASGISendCallable) -> None:
    if scope.get("method") not in ("GET", "HEAD"):
        allow = [(b"allow", b"GET, HEAD")]
        await send_response(send, 405, b"method not allowed", headers=allow)
        return
    body, version = client_script()
    etag = f'"{version}"'.encode()
    headers = [
        (b"etag", etag),
        # the page links it with ?v=<version>, so a new release is a new URL
        (b"cache-control", b"public, max-age=86400"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if header(scope, b"if-none-match") == etag:
        await send(
            {"type": "http.response.start", "status": 304, "headers": headers, "trailers": False}
        )
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    await send_response(
        send,
        200,
        body,
        content_type="text/javascript; charset=utf-8",
        headers=headers,
        head=scope.get("method") == "HEAD",
    )
