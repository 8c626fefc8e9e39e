"""``self.request`` of an htag 2 App: a Starlette Request made from the page request.

Under htag's own runner ``self.request`` is the Starlette Request (or WebSocket) of the
current call. Here it is the Request of the App's last page load, for its whole life: URL,
``query_params``, ``headers``, ``cookies`` (the host's session cookie left out), ``client``,
and ``session``, which is our session (persisted per key, shared with framework routes, and
synced with the store around every page load and interaction).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from htagweb_asgi.protocol.pagerequest import PageRequest


def asgi_scope(request: PageRequest, session: Any) -> dict[str, Any]:
    """The ASGI http scope of the page load (what Starlette's Request reads)."""
    parts = urlsplit(request.url)
    scheme = parts.scheme or "http"
    port = parts.port or (443 if scheme == "https" else 80)
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": scheme,
        "server": (parts.hostname or "localhost", port),
        "client": request.client,
        "path": request.path,
        "raw_path": request.path.encode("utf-8"),
        "root_path": request.root_path,
        "query_string": request.query_string.encode("latin-1"),
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers],
        "session": session,
    }


def starlette_request(request: PageRequest, session: Any) -> Any:
    """A ``starlette.requests.Request`` of the page load, with our `session`."""
    from starlette.requests import Request

    return Request(asgi_scope(request, session))
