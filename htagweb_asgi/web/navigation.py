"""What a page load may do before it reaches a process: HEAD never starts one, and a link
from another site never replaces the user's live App without asking them.

A different query string recreates the App with new arguments (htag's ``url2ak``), which
ends the live one and its state. Any site could link to the App with some query string,
and the browser would send the user's cookie with that top-level navigation (SameSite=Lax
allows it): so only a navigation from this site, or one the user typed, may replace; for a
cross-site one the user is asked first, with a link that is then a same-origin navigation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asgiref.typing import ASGISendCallable

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.web.http import HTML, Headers, header, send_response


async def send_head(page_headers: Headers, send: ASGISendCallable) -> None:
    """HEAD of a page: its headers, without starting (or even reaching) a process, so that a
    monitor or a crawler costs nothing. No Content-Length: only a GET knows it."""
    headers = [(b"content-type", HTML.encode()), *page_headers]
    start = {"type": "http.response.start", "status": 200, "headers": headers, "trailers": False}
    await send(start)  # type: ignore[arg-type]
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def may_replace(scope: Mapping[str, Any]) -> bool:
    """Whether this page load may replace the live App built with other arguments: a
    navigation from this site or typed by the user (Fetch Metadata's Sec-Fetch-Site), not a
    link or a form from another site, which would destroy the user's state at will. Clients
    that send no Fetch Metadata (not a browser, or a very old one) may."""
    site = header(scope, b"sec-fetch-site")
    return site is None or site in (b"same-origin", b"none")


class ReplacementRefused(HtagwebError):
    """A cross-site navigation asked for other arguments than the live App's."""


CONFIRMATION = (
    b"<!DOCTYPE html><html><head><meta charset='utf-8'>"
    b"<meta name='viewport' content='width=device-width'>"
    b"<title>Open this page here?</title></head><body>"
    b"<h1>Open this page here?</h1>"
    b"<p>A link from another site asks to open this application with other arguments. "
    b"This browser already has it open: opening the link replaces that page, and what was "
    b"done in it is lost.</p>"
    b"<p><a href=''>Open the link</a></p>"  # '' is this very URL, now from our own page
    b"</body></html>"
)


async def send_confirmation(page_headers: Headers, send: ASGISendCallable) -> None:
    """Ask the user before a cross-site link replaces their App (a click here is a
    same-origin navigation, which may)."""
    await send_response(send, 200, CONFIRMATION, content_type=HTML, headers=page_headers)
