"""``POST <app>/_/session``: the cookie of a session the App rotated behind a websocket.

An App that logs the user in itself calls ``self.session.rotate()``: the session gets a new
id and the App's process stays (web/target.py). A websocket cannot set a cookie, so the
relay hands the page a rotation token, and the page posts it here at once: the answer sets
the new cookie. The token is worth nothing without the old cookie (it is an HMAC of the old
id, the new one and a deadline: Sessions.rotation_token), which the browser sends with this
same-origin request, and it serves once. The answer names the new session's CSRF token too
(``x-htagweb-csrf``), for a page that falls back to POST afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.web.http import (
    JSON,
    NO_STORE,
    BodyTooLarge,
    ClientGone,
    read_body,
    send_ended,
    send_response,
)
from htagweb_asgi.web.security import CSRF_HEADER, cross_site_fetch, origin_allowed
from htagweb_asgi.web.services import Services

logger = logging.getLogger(__name__)

_MAX_TOKEN = 256


async def serve_new_cookie(
    services: Services,
    scope: Mapping[str, Any],
    receive: ASGIReceiveCallable,
    send: ASGISendCallable,
    prefix: str,
) -> None:
    """Answer a rotation token of this browser's session with the new session's cookie."""
    if scope.get("method") != "POST":
        await send_response(send, 405, b"method not allowed", headers=[(b"allow", b"POST")])
        return
    try:
        token = (await read_body(receive, _MAX_TOKEN)).decode("ascii", "replace")
    except BodyTooLarge:
        await send_ended(send, 413, Close.MESSAGE_TOO_BIG, "not a rotation token")
        return
    except ClientGone:
        return
    if not origin_allowed(scope, services.allowed_origins) or cross_site_fetch(scope):
        await send_ended(send, 403, Close.POLICY_VIOLATION, "cross-site request refused")
        return
    old_id = services.sessions.session_id(scope)  # the cookie itself: its id has ended
    new_id = await services.sessions.redeem_rotation(old_id, token) if old_id else None
    if new_id is None:
        logger.info("refused a rotation token (expired, or not this browser's)")
        await send_ended(send, 403, Close.POLICY_VIOLATION, "not a valid rotation token")
        return
    public = services.public_prefix if services.public_prefix is not None else prefix
    csrf = (CSRF_HEADER, services.sessions.csrf_token(new_id).encode())  # for the page's POSTs
    headers = [*NO_STORE, *services.session_cookie(scope, new_id, public), csrf]
    await send_response(send, 200, b"{}", content_type=JSON, headers=headers)
