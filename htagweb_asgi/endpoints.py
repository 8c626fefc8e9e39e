"""The host's HTTP and websocket endpoints for one App: page, websocket, POST."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

from . import interaction
from .httpio import (
    HTML,
    PAGE_SECURITY_HEADERS,
    BodyTooLarge,
    ClientGone,
    error_page,
    read_body,
    send_response,
)
from .initargs import init_args
from .options import Limits
from .pages import CreationTimeout, PageError, inject_client, render_page
from .pool import AppLoadError, PoolError, PoolFull
from .post import relay_post, send_ended
from .registry import MountedApp, PoolRegistry
from .visitor import Identity
from .websocket import NO_PROCESS, Relay, refuse

logger = logging.getLogger(__name__)

_INSTANCE_RE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Services:
    """What every endpoint needs from the host."""

    identity: Identity
    limits: Limits
    pools: PoolRegistry
    public_prefix: str | None


def _instance(scope: Mapping[str, Any]) -> str | None:
    """The renderer instance a page names in ``?i=`` (only ever compared, never used as a path)."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("i")
    return values[0] if values and _INSTANCE_RE.fullmatch(values[0]) else None


async def serve_page(
    services: Services,
    app: MountedApp,
    scope: Mapping[str, Any],
    send: ASGISendCallable,
    prefix: str,
    sub: str,
) -> None:
    method = scope.get("method")
    if method not in ("GET", "HEAD"):
        await send_response(send, 405, b"method not allowed", headers=[(b"allow", b"GET, HEAD")])
        return
    query = scope.get("query_string", b"")
    if len(query) > services.limits.max_query_size:
        logger.info("refused a page request with a %d-byte query string", len(query))
        await send_response(send, 414, b"query string too long")
        return
    visitor = services.identity.known_or_new(scope)
    key = services.identity.signer.process_key(visitor.session_id, app.identity)
    pool = services.pools.pool(app, scope)
    debug = app.options.debug
    try:
        page = await render_page(pool, key, init_args(query), app.options.timeout_interaction)
    except AppLoadError as exc:
        logger.error("cannot load %s: %s", app.ref, exc)
        detail = f"{exc}\n\n{exc.traceback}" if debug else ""
        await _page_error(send, 500, "The application cannot start", detail)
        return
    except PoolFull:
        logger.warning("refused a page of %s: too many user processes", app.ref)
        await _page_error(send, 503, "The server is busy, please retry shortly", retry_after=10)
        return
    except CreationTimeout:
        await _page_error(send, 504, "The application took too long to start", reload_hint=True)
        return
    except PageError as exc:
        await _page_error(send, 500, "The application failed to render", str(exc) if debug else "")
        return
    except PoolError as exc:
        logger.error("cannot reach the processes of %s: %s", app.ref, exc)
        await _page_error(send, 503, "The application is unavailable", reload_hint=True)
        return
    public_prefix = services.public_prefix if services.public_prefix is not None else prefix
    config = {"transport": "http" if app.options.http_only else "ws", "debug": debug}
    html = inject_client(page, prefix=public_prefix, sub=sub, base=app.base, config=config)
    headers = list(PAGE_SECURITY_HEADERS)
    if visitor.is_new:
        headers.append((b"set-cookie", services.identity.set_cookie(visitor, scope, public_prefix)))
    await send_response(
        send, 200, html.encode(), content_type=HTML, headers=headers, head=method == "HEAD"
    )


async def _page_error(
    send: ASGISendCallable,
    status: int,
    title: str,
    detail: str = "",
    *,
    reload_hint: bool = False,
    retry_after: int | None = None,
) -> None:
    headers = list(PAGE_SECURITY_HEADERS)
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    body = error_page(title, detail, reload_hint=reload_hint)
    await send_response(send, status, body, content_type=HTML, headers=headers)


async def serve_websocket(
    services: Services,
    app: MountedApp,
    scope: Mapping[str, Any],
    receive: ASGIReceiveCallable,
    send: ASGISendCallable,
) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    if app.options.http_only:
        await refuse(scope, send, 404, "this application uses HTTP interactions")
        return
    await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
    visitor = services.identity.known(scope)
    instance = _instance(scope)
    relay = Relay(
        receive,
        send,
        timeout=app.options.timeout_interaction,
        max_frame=services.limits.max_frame_size,
    )
    if visitor is None or instance is None:
        logger.info("websocket without a valid session or page instance: asking the page to reload")
        await relay.run(None, "", "")
        return
    key = services.identity.signer.process_key(visitor.session_id, app.identity)
    await relay.run(services.pools.pool(app, scope), key, instance)


async def serve_post(
    services: Services,
    app: MountedApp,
    scope: Mapping[str, Any],
    receive: ASGIReceiveCallable,
    send: ASGISendCallable,
) -> None:
    if not app.options.http_only:  # websocket Apps never POST: keep the surface small
        await send_response(send, 404, b"not found")
        return
    if scope.get("method") != "POST":
        await send_response(send, 405, b"method not allowed", headers=[(b"allow", b"POST")])
        return
    try:
        body = await read_body(receive, services.limits.max_body_size)
    except BodyTooLarge:
        logger.info("refused an interaction body over %d bytes", services.limits.max_body_size)
        await send_ended(send, 413, interaction.MESSAGE_TOO_BIG, "interaction too big")
        return
    except ClientGone:
        return
    visitor = services.identity.known(scope)
    instance = _instance(scope)
    if visitor is None or instance is None:
        logger.info("interaction without a valid session or page instance")
        await send_ended(send, 410, NO_PROCESS, "no process for this page")
        return
    key = services.identity.signer.process_key(visitor.session_id, app.identity)
    pool = services.pools.pool(app, scope)
    timeout = app.options.timeout_interaction
    await relay_post(send, pool, key, instance, body, timeout)
