"""Same-origin checks for the websocket handshake and the HTTP interaction endpoint, and the
CSRF token of the latter.

CORS does not protect websockets: without this, any page on any site could open a socket
to the user's App with the user's cookie and drive it. The ``Origin`` a browser sends must
name this host (the ``Host`` header) or be explicitly allowed. A page over https whose TLS
a proxy terminated reaches us as http/ws: an https origin with our host is accepted then
(a cross-site page cannot claim our host, whatever its scheme).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.web.http import header

CSRF_HEADER = b"x-htagweb-csrf"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalized(scheme: str, netloc: str) -> str | None:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port
    except ValueError:
        return None
    if parts.hostname is None:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"


def origin_allowed(scope: Mapping[str, Any], allowed: Collection[str]) -> bool:
    """Whether the request's Origin is this host (or in `allowed`, or `allowed` has "*").

    The Origin must be a serialized origin (scheme://host[:port], RFC 6454): anything else
    (userinfo, a path, a query, a malformed host) is refused, never parsed leniently.
    """
    raw = header(scope, b"origin")
    if raw is None:
        return False
    origin = raw.decode("latin-1").strip()
    if "*" in allowed or origin in allowed:
        return True
    host = header(scope, b"host")
    if host is None:
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:  # "http://[::1" and the like
        return False
    if parts.scheme not in _DEFAULT_PORTS or "@" in parts.netloc:
        return False
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return False
    request_scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    if parts.scheme != request_scheme and parts.scheme != "https":
        return False  # an http page may not drive an https App
    ours = _normalized(parts.scheme, host.decode("latin-1"))
    return ours is not None and ours == _normalized(parts.scheme, parts.netloc)


def cross_site_fetch(scope: Mapping[str, Any]) -> bool:
    """What Fetch Metadata says: True when the browser reports a cross-site request."""
    site = header(scope, b"sec-fetch-site")
    return site is not None and site not in (b"same-origin", b"none")


def cross_site_refusal(
    scope: Mapping[str, Any], sessions: Sessions, session_id: str, allowed: Collection[str]
) -> str:
    """Why this POST may come from another site (empty: it does not).

    SameSite=Lax already keeps the cookie off cross-site POSTs; the token from the page's
    config and the Origin/Fetch Metadata checks hold even where it does not.
    """
    if header(scope, b"origin") is not None and not origin_allowed(scope, allowed):
        return "cross-site request refused (Origin)"
    if cross_site_fetch(scope):
        return "cross-site request refused (Sec-Fetch-Site)"
    if not sessions.check_csrf(session_id, header(scope, CSRF_HEADER)):
        return "missing or wrong CSRF token"
    return ""
