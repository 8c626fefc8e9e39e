"""The static scripts of our pages, served with an ETag and a version in their URL.

``client.js`` connects every page to its user process (interactions, pushes, reconnection,
what the page shows); each transport has a script of its own, linked only from the pages
that may use it (``websocket.js``; ``http.js``: POST and Server-Sent Events), and so has
``parano.js`` (the page's side of the end-to-end encryption). ``htag2.js`` plugs client.js
into htag 2's own page script, and is only linked from pages an htag 2 App rendered.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Mapping
from importlib import resources
from typing import Any

from asgiref.typing import ASGISendCallable

from htagweb_asgi.options import AppOptions
from htagweb_asgi.web.http import header, send_response

CLIENT_JS = "client.js"
HTAG2_BRIDGE_JS = "htag2.js"
PARANO_JS = "parano.js"
WEBSOCKET_JS = "websocket.js"
HTTP_JS = "http.js"
SCRIPTS = frozenset({CLIENT_JS, HTAG2_BRIDGE_JS, PARANO_JS, WEBSOCKET_JS, HTTP_JS})
# The order a page runs them in (each builds on the ones before; client.js first)
ORDER = (CLIENT_JS, PARANO_JS, WEBSOCKET_JS, HTTP_JS, HTAG2_BRIDGE_JS)
# A page links its scripts as one bundle, "client-websocket-http.js": a new browser then makes
# one request for them instead of three (each costs the server ~1 ms of CPU and the browser a
# round trip when it cannot fetch them in parallel). Script names have no "-".
_BUNDLE_SEPARATOR = "-"


def page_scripts(options: AppOptions, htag: int = 1) -> list[str]:
    """The scripts a page of an App with `options` links, in order (client.js first, the
    htag 2 bridge last: it builds on client.js)."""
    scripts = [CLIENT_JS]
    if options.parano:
        scripts.append(PARANO_JS)
    if options.websocket:
        scripts.append(WEBSOCKET_JS)
    if options.posts or options.event_stream:
        scripts.append(HTTP_JS)
    if htag == 2:
        scripts.append(HTAG2_BRIDGE_JS)
    return scripts


def bundle_name(scripts: list[str]) -> str:
    """The one name under which `scripts` (page_scripts' list) are served together."""
    return _BUNDLE_SEPARATOR.join(name.removesuffix(".js") for name in scripts) + ".js"


def bundle_parts(name: str) -> list[str] | None:
    """The scripts that `name` serves (one script's name, or a bundle's), in order; None
    unless it names known scripts, each once, in page order: so the few bundles that exist
    are the only names answered, each built once."""
    if not name.endswith(".js"):
        return None
    parts = [f"{part}.js" for part in name.removesuffix(".js").split(_BUNDLE_SEPARATOR)]
    if not all(part in SCRIPTS for part in parts):
        return None
    ranks = [ORDER.index(part) for part in parts]
    return parts if all(a < b for a, b in itertools.pairwise(ranks)) else None


@functools.cache
def script(name: str) -> tuple[bytes, str]:
    """Return the script or bundle `name` (bundle_parts must accept it) and its version (a
    content hash), read once per process."""
    parts = bundle_parts(name)
    if parts is None:
        raise ValueError(f"no script {name!r}")
    static = resources.files("htagweb_asgi").joinpath("static")
    # Each script is a complete statement (a function called at once): ";" keeps them so
    body = b"\n;\n".join(static.joinpath(part).read_bytes() for part in parts)
    return body, hashlib.sha256(body).hexdigest()[:16]


def script_url(name: str, to_root: str) -> str:
    """The URL of script `name` from a page (`to_root`: its relative path to the mount
    point), versioned so that a new release is a new URL."""
    return f"{to_root}_/{name}?v={script(name)[1]}"


async def serve_script(name: str, scope: Mapping[str, Any], send: ASGISendCallable) -> None:
    if scope.get("method") not in ("GET", "HEAD"):
        allow = [(b"allow", b"GET, HEAD")]
        await send_response(send, 405, b"method not allowed", headers=allow)
        return
    body, version = script(name)
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
