"""The Server-Sent Events stream of a page: pushes where no websocket can go.

``GET <app>/_/sse?i=<instance>&t=<page>&p=<last push>`` answers ``text/event-stream`` (see
ssewire.py): the pushes the page missed, then every new one, each with its number as the
event's id, so a reconnecting EventSource (``Last-Event-ID``) or page (``p=``) loses none.
Interactions go by POST (web/post.py). A ``parano`` page puts the HELLO of a key agreement
for this stream in ``h=`` (base64url): the stream's ``ready`` carries the WELCOME, and its
pushes are sealed under that agreement, strictly in order, as on a websocket.

The stream itself, and its relay from the process, is web/ssestream.py; a stream ends after
STREAM_LIFETIME there, and the page opens the next one at once.

Errors of the request itself (method, transport, another site, a parano stream without a
key agreement) get an HTTP status; everything after the stream started (no process for
this page, too many connections, the process ending, crashing or replaced) is a ``close``
control event with the code of the websocket's close, and the end of the response.

Admission is the websocket's: a stream counts among its session's open connections in this
worker (web/connections.py) and its page's in the process (the process answers REJECT
TOO_MANY); its process is reached through target.processes(), over the cluster's link when
another node owns it.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.parano import envelope
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.web.connections import TOO_MANY_REASON
from htagweb_asgi.web.failures import NO_PROCESS_REASON
from htagweb_asgi.web.http import header, send_response
from htagweb_asgi.web.routing import MountedApp
from htagweb_asgi.web.security import cross_site_fetch, origin_allowed
from htagweb_asgi.web.services import PagePosition, Services, page_instance, query_value
from htagweb_asgi.web.ssestream import EventStream, explained

logger = logging.getLogger(__name__)


async def serve_events(
    services: Services,
    app: MountedApp,
    scope: Mapping[str, Any],
    receive: ASGIReceiveCallable,
    send: ASGISendCallable,
) -> None:
    """Check a stream request, then relay the process's pushes until either side ends."""
    if scope.get("method") != "GET":
        await send_response(send, 405, b"method not allowed", headers=[(b"allow", b"GET")])
        return
    if not app.options.event_stream:
        await send_response(send, 404, b"this application does not use Server-Sent Events")
        return
    if cross_origin(scope, services):
        logger.info("refused a cross-site event stream")
        await send_response(send, 403, b"cross-site request refused")
        return
    hello = _hello(scope) if app.options.parano else None
    if app.options.parano and hello is None:
        await send_response(send, 400, b"a parano stream starts with a key agreement (h=)")
        return
    stream = EventStream(send, sealed=app.options.parano)
    await stream.start()
    session_id, instance = services.known_session(scope), page_instance(scope)
    if session_id is None or instance is None:
        await stream.close(Close.NO_PROCESS, NO_PROCESS_REASON)
        return
    with services.websockets.hold(session_id) as admitted:  # a stream costs as much
        if not admitted:
            logger.info("refused an event stream: its session holds too many in this worker")
            await stream.close(Close.TOO_MANY, TOO_MANY_REASON)
            return
        try:
            target = services.target(app, scope, session_id)
        except HtagwebError as exc:
            await stream.close(*explained(exc, app))
            return
        position = PagePosition.of(scope)
        await stream.serve(receive, target, instance, position, hello, app, services.drain)


def cross_origin(scope: Mapping[str, Any], services: Services) -> bool:
    """A browser names the Origin of a cross-origin EventSource, and says cross-site in its
    Fetch Metadata: either refuses it (a same-origin one sends neither)."""
    if header(scope, b"origin") is not None and not origin_allowed(scope, services.allowed_origins):
        return True
    return cross_site_fetch(scope)


def _hello(scope: Mapping[str, Any]) -> bytes | None:
    text = query_value(scope, "h")
    if text is None:
        return None
    try:
        hello = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return hello if hello[:1] == bytes((envelope.HELLO,)) and envelope.is_envelope(hello) else None
