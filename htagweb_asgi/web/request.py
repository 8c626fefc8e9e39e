"""The page request a worker sends with PAGE: what an htag 2 App reads as ``self.request``.

The URL is the public one (mount prefix included, as the browser asked for it), so an App
under ``/ui`` sees ``/ui/...``. The host's session cookie is taken out of the ``cookie``
headers: the App has the session itself (``self.request.session``), and a bearer credential
has no business in App code, its logs or its tracebacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from htagweb_asgi.protocol.pagerequest import PageRequest
from htagweb_asgi.web.http import header
from htagweb_asgi.web.query import InitArgs


def page_request(
    scope: Mapping[str, Any], init: InitArgs, *, prefix: str, sub: str, cookie_name: str
) -> PageRequest:
    """Describe the page load in `scope` (served at `prefix` + `sub`)."""
    query = scope.get("query_string", b"").decode("latin-1")
    scheme = str(scope.get("scheme", "http"))
    host = header(scope, b"host")
    if host is None:
        server = scope.get("server") or ("localhost", None)
        host = f"{server[0]}:{server[1]}".encode() if server[1] else str(server[0]).encode()
    path = prefix + sub
    url = f"{scheme}://{host.decode('latin-1')}{path}" + (f"?{query}" if query else "")
    client = scope.get("client")
    return PageRequest(
        init=init,
        url=url,
        path=path,
        root_path=prefix,
        query_string=query,
        headers=_headers_without_cookie(scope, cookie_name),
        client=(str(client[0]), int(client[1])) if client else None,
    )


def _headers_without_cookie(scope: Mapping[str, Any], cookie_name: str) -> list[tuple[str, str]]:
    kept: list[tuple[str, str]] = []
    for name, value in scope.get("headers") or ():
        text = value.decode("latin-1")
        if name == b"cookie":
            chunks = [c for c in text.split(";") if c.partition("=")[0].strip() != cookie_name]
            text = ";".join(chunks).strip()
            if not text:
                continue
        kept.append((name.decode("latin-1"), text))
    return kept
