"""POST of an interaction: one request, one reply (pushes go by Server-Sent Events, web/sse.py,
or not at all for ``http_only``). Every transport but "websocket" posts its interactions.

A page numbers its interactions (proc/pagewire.py) and posts the same one again when it got no
answer (a cut, a proxy that dropped the reply): the process answers it again, never runs it
twice, and the reply says which interaction it answers.

With ``parano`` the body and the reply are encrypted envelopes (application/octet-stream),
relayed unread; a body that is not shaped like one is refused (415) before the process sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import anyio
from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.parano import envelope
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.protocol.frames import Kind, load_json
from htagweb_asgi.web.channel import ChannelClosed
from htagweb_asgi.web.failures import NO_PROCESS_REASON, explain
from htagweb_asgi.web.http import (
    JSON,
    NO_STORE,
    BodyTooLarge,
    ClientGone,
    read_body,
    send_ended,
    send_response,
)
from htagweb_asgi.web.routing import MountedApp
from htagweb_asgi.web.security import CSRF_HEADER, cross_site_refusal
from htagweb_asgi.web.services import Services, page_instance
from htagweb_asgi.web.target import UserTarget, why_gone

logger = logging.getLogger(__name__)

SEALED_TYPE = "application/octet-stream"
ATTACH_TIMEOUT = 10.0


async def serve_post(
    services: Services,
    app: MountedApp,
    scope: Mapping[str, Any],
    receive: ASGIReceiveCallable,
    send: ASGISendCallable,
    prefix: str = "",
) -> None:
    """Check an interaction POST (size, session, page, same site), then relay it; when the
    App rotated the session, the reply carries the new cookie (under `prefix`) and the new
    session's CSRF token (``x-htagweb-csrf``: the page's next POSTs need it)."""
    if not app.options.posts:  # websocket-only Apps never POST: keep the surface small
        await send_response(send, 404, b"not found")
        return
    if scope.get("method") != "POST":
        await send_response(send, 405, b"method not allowed", headers=[(b"allow", b"POST")])
        return
    limit = services.limits.max_body_size
    stats = services.stats(app, scope)
    try:
        body = await read_body(receive, limit)
    except BodyTooLarge:
        logger.info("refused an interaction body over %d bytes", limit)
        stats.count("refusals", "size")
        await send_ended(send, 413, Close.MESSAGE_TOO_BIG, "interaction too big")
        return
    except ClientGone:
        return
    session_id = services.known_session(scope)
    instance = page_instance(scope)
    if session_id is None or instance is None:
        logger.info("interaction without a valid session or page instance")
        await send_ended(send, 410, Close.NO_PROCESS, NO_PROCESS_REASON)
        return
    refusal = cross_site_refusal(scope, services.sessions, session_id, services.allowed_origins)
    if refusal:
        logger.info("refused an interaction POST: %s", refusal)
        stats.count("refusals", "csrf" if "CSRF" in refusal else "origin")
        await send_ended(send, 403, Close.POLICY_VIOLATION, refusal)
        return
    try:
        target = services.target(app, scope, session_id)
        timeout = app.options.timeout_interaction

        async def send_with_cookie(message: Any) -> None:
            if message["type"] == "http.response.start" and target.session_id != session_id:
                public = services.public_prefix if services.public_prefix is not None else prefix
                cookie = services.session_cookie(scope, target.session_id, public)
                csrf = services.sessions.csrf_token(target.session_id).encode()
                headers = [*message["headers"], *cookie, (CSRF_HEADER, csrf)]
                message = {**message, "headers": headers}
            await send(message)

        parano = app.options.parano
        started = time.monotonic()
        await relay_post(send_with_cookie, target, instance, body, timeout, parano)
        stats.count("interactions", "http")
        stats.observe("interaction_seconds", time.monotonic() - started)
    except HtagwebError as exc:  # raised before any reply was sent
        failure = explain(exc, str(app.ref))
        if failure.refusal:
            stats.count("refusals", failure.refusal)
        await send_ended(send, failure.status, failure.code, failure.text(app.options.debug))


async def relay_post(
    send: ASGISendCallable,
    target: UserTarget,
    instance: str,
    body: bytes,
    time_limit: float,
    parano: bool = False,
) -> None:
    """Attach to `instance` and run one interaction; answer with its actions or why not."""
    if not body:  # the page has loaded: its process has a page attached (see client.js)
        await attach_only(send, target, instance)
        return
    if parano and not envelope.is_envelope(body):
        logger.info("refused a plaintext interaction for a parano App")
        await send_ended(send, 415, Close.UNSUPPORTED_DATA, envelope.PLAINTEXT_REFUSED)
        return
    channel = await target.connect()
    if channel is None:
        await send_ended(send, 410, Close.NO_PROCESS, NO_PROCESS_REASON)
        return
    sync = target.session_sync()
    async with channel:
        try:
            # SESSION, ATTACH and INTERACT are pipelined: the process answers GONE and drops
            # the interaction when the page belongs to another instance.
            await sync.send_if_changed(channel)
            attach = {"instance": instance, "subscribe": False, "parano": parano}
            await channel.send_json(Kind.ATTACH, attach)
            await channel.send(Kind.INTERACT, body)
            with anyio.fail_after(time_limit):
                kind, _ = await channel.receive()
                if kind is not Kind.OK:
                    await send_ended(send, 410, Close.NO_PROCESS, NO_PROCESS_REASON)
                    return
                kind, payload = await sync.receive(channel, channel.pid)
        except ChannelClosed:
            code, reason = await why_gone(target, channel.pid)
            status = {Close.CRASHED: 502, Close.LIMIT: 503}.get(code, 409)
            await send_ended(send, status, code, reason)
            return
        except TimeoutError:
            reason = await target.stop_overdue(channel.pid, time_limit, "an interaction")
            await send_ended(send, 504, Close.TIMED_OUT, reason)
            return
    await _answer(send, kind, payload, SEALED_TYPE if parano else JSON)


async def attach_only(send: ASGISendCallable, target: UserTarget, instance: str) -> None:
    """An empty POST: the page of `instance` says it has loaded (``{}``), so that its process
    is not reclaimed as a page load that never attached (a crawler's, a flood's)."""
    channel = await target.connect()
    if channel is None:
        await send_ended(send, 410, Close.NO_PROCESS, NO_PROCESS_REASON)
        return
    async with channel:
        try:
            with anyio.fail_after(ATTACH_TIMEOUT):
                await channel.send_json(Kind.ATTACH, {"instance": instance, "subscribe": False})
                kind, _ = await channel.receive()
        except (ChannelClosed, TimeoutError):
            kind = Kind.GONE
    if kind is not Kind.OK:
        await send_ended(send, 410, Close.NO_PROCESS, NO_PROCESS_REASON)
        return
    await send_response(send, 200, b"{}", content_type=JSON, headers=NO_STORE)


async def _answer(send: ASGISendCallable, kind: Kind, payload: bytes, content_type: str) -> None:
    if kind is Kind.REPLY:
        await send_response(send, 200, payload, content_type=content_type, headers=NO_STORE)
    elif kind is Kind.REJECT:
        reply = load_json(payload)
        logger.info("refused an interaction: %s", reply["reason"])
        status = 413 if reply["code"] == Close.MESSAGE_TOO_BIG else 400
        await send_ended(send, status, int(reply["code"]), str(reply["reason"]))
    else:
        await send_ended(send, 410, Close.NO_PROCESS, "the application ended")
