"""The host's HTTP and websocket endpoints for one App: page, websocket, POST."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
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
    Headers,
    error_page,
    header,
    read_body,
    send_response,
)
from .initargs import init_args
from .options import Limits
from .origin import cross_site_fetch, origin_allowed
from .pages import CreationTimeout, PageError, inject_client, render_page
from .pool import AppLoadError, PoolError, PoolFull
from .post import relay_post, send_ended
from .registry import MountedApp, PoolRegistry
from .session import Session
from .sessions import Sessions
from .target import UserTarget
from .websocket import NO_PROCESS, Relay, refuse

logger = logging.getLogger(__name__)

_INSTANCE_RE = re.compile(r"[0-9a-f]{32}")
CSRF_HEADER = b"x-htagweb-csrf"


@dataclass(frozen=True)
class Services:
    """What every endpoint needs from the host."""

    sessions: Sessions
    limits: Limits
    pools: PoolRegistry
    public_prefix: str | None
    allowed_origins: Collection[str] = ()
    frame_ancestors: str | None = "'self'"

    def page_headers(self) -> Headers:
        headers = list(PAGE_SECURITY_HEADERS)
        if self.frame_ancestors:
            csp = f"frame-ancestors {self.frame_ancestors}".encode("latin-1")
            headers.append((b"content-security-policy", csp))
        return headers


def _instance(scope: Mapping[str, Any]) -> str | None:
    """The renderer instance a page names in ``?i=`` (only ever compared, never used as a path)."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("i")
    return values[0] if values and _INSTANCE_RE.fullmatch(values[0]) else None


def _known_session(sessions: Sessions, scope: Mapping[str, Any]) -> str | None:
    """The session of the request: SessionMiddleware's, else our own cookie's."""
    session = scope.get("session")
    if isinstance(session, Session) and session.session_id is not None:
        return session.session_id
    return sessions.session_id(scope)


def _page_session(sessions: Sessions, scope: Mapping[str, Any]) -> tuple[str, bool]:
    """The session for a page load, created when missing; True when we must set the cookie
    (under SessionMiddleware the middleware sets it)."""
    session = scope.get("session")
    if isinstance(session, Session):
        if session.session_id is None:
            session.session_id, session.issue_cookie = sessions.new_id(), True
        return session.session_id, False
    known = sessions.session_id(scope)
    return (known, False) if known is not None else (sessions.new_id(), True)


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
    sessions = services.sessions
    session_id, new_cookie = _page_session(sessions, scope)
    pool = services.pools.pool(app, scope)
    target = UserTarget.of(pool, sessions, session_id, app.identity)
    debug = app.options.debug
    try:
        page = await render_page(target, init_args(query), app.options.timeout_interaction)
    except AppLoadError as exc:
        logger.error("cannot load %s: %s", app.ref, exc)
        detail = f"{exc}\n\n{exc.traceback}" if debug else ""
        await _page_error(services, send, 500, "The application cannot start", detail)
        return
    except PoolFull:
        logger.warning("refused a page of %s: too many user processes", app.ref)
        title = "The server is busy, please retry shortly"
        await _page_error(services, send, 503, title, retry_after=10)
        return
    except CreationTimeout:
        title = "The application took too long to start"
        await _page_error(services, send, 504, title, reload_hint=True)
        return
    except PageError as exc:
        detail = str(exc) if debug else ""
        await _page_error(services, send, 500, "The application failed to render", detail)
        return
    except PoolError as exc:
        logger.error("cannot reach the processes of %s: %s", app.ref, exc)
        title = "The application is unavailable"
        await _page_error(services, send, 503, title, reload_hint=True)
        return
    public_prefix = services.public_prefix if services.public_prefix is not None else prefix
    config: dict[str, Any] = {
        "transport": "http" if app.options.http_only else "ws",
        "parano": app.options.parano,
    }
    if app.options.http_only:
        config["csrf"] = sessions.csrf_token(session_id)
    html = inject_client(page, prefix=public_prefix, sub=sub, base=app.base, config=config)
    headers = services.page_headers()
    if new_cookie:
        headers.append((b"set-cookie", sessions.set_cookie(session_id, scope, public_prefix)))
    body = html.encode()
    await send_response(send, 200, body, content_type=HTML, headers=headers, head=method == "HEAD")


async def _page_error(
    services: Services,
    send: ASGISendCallable,
    status: int,
    title: str,
    detail: str = "",
    *,
    reload_hint: bool = False,
    retry_after: int | None = None,
) -> None:
    headers = services.page_headers()
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
    if not origin_allowed(scope, services.allowed_origins):
        await refuse(scope, send, 403, "cross-site websocket refused (Origin)")
        return
    await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
    session_id = _known_session(services.sessions, scope)
    instance = _instance(scope)
    limits = services.limits
    timeout = app.options.timeout_interaction
    parano = app.options.parano
    relay = Relay(receive, send, timeout=timeout, max_frame=limits.max_frame_size, parano=parano)
    if session_id is None or instance is None:
        logger.info("websocket without a valid session or page instance: asking the page to reload")
        await relay.run(None, "")
        return
    pool = services.pools.pool(app, scope)
    await relay.run(UserTarget.of(pool, services.sessions, session_id, app.identity), instance)


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
    session_id = _known_session(services.sessions, scope)
    instance = _instance(scope)
    if session_id is None or instance is None:
        logger.info("interaction without a valid session or page instance")
        await send_ended(send, 410, NO_PROCESS, "no process for this page")
        return
    refusal = _cross_site_refusal(services, scope, session_id)
    if refusal:
        logger.info("refused an interaction POST: %s", refusal)
        await send_ended(send, 403, interaction.POLICY_VIOLATION, refusal)
        return
    pool = services.pools.pool(app, scope)
    target = UserTarget.of(pool, services.sessions, session_id, app.identity)
    timeout = app.options.timeout_interaction
    await relay_post(send, target, instance, body, timeout, app.options.parano)


def _cross_site_refusal(services: Services, scope: Mapping[str, Any], session_id: str) -> str:
    """Why this POST may come from another site (empty: it does not).

    SameSite=Lax already keeps the cookie off cross-site POSTs; the token from the page's
    config and the Origin/Fetch Metadata checks hold even where it does not.
    """
    if header(scope, b"origin") is not None and not origin_allowed(scope, services.allowed_origins):
        return "cross-site request refused (Origin)"
    if cross_site_fetch(scope):
        return "cross-site request refused (Sec-Fetch-Site)"
    token = header(scope, CSRF_HEADER)
    if not services.sessions.check_csrf(session_id, token.decode("latin-1") if token else None):
        return "missing or wrong CSRF token"
    return ""
