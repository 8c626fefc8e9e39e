"""Request cookie parsing and Set-Cookie building (sans-IO)."""

from __future__ import annotations

from collections.abc import Iterable


def parse_cookies(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Return the request's cookies, tolerating whatever else the host site set.

    All `cookie` headers are joined (HTTP/2 may send several). We split on ``;`` and the first
    ``=`` ourselves instead of using ``http.cookies.SimpleCookie``, because SimpleCookie stops at
    the first cookie it dislikes and would hide ours behind a neighbour's odd value.
    The first occurrence of a name wins, as browsers send the most specific path first.
    """
    cookies: dict[str, str] = {}
    for name, value in headers:
        if name != b"cookie":
            continue
        for chunk in value.decode("latin-1").split(";"):
            key, sep, val = chunk.partition("=")
            key = key.strip()
            if sep and key and key not in cookies:
                cookies[key] = val.strip().strip('"')
    return cookies


def build_set_cookie(
    name: str,
    value: str,
    *,
    path: str,
    secure: bool,
    max_age: int | None = None,
    same_site: str = "Lax",
) -> bytes:
    """Return a Set-Cookie header value; `value` must be ASCII-safe (it is signed base64url)."""
    parts = [f"{name}={value}", f"Path={path or '/'}", "HttpOnly", f"SameSite={same_site}"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")
