"""GET of an App's page: find or create the user's process, render, add the client config."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
from asgiref.typing import ASGISendCallable

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol.codes import page_table
from htagweb_asgi.protocol.frames import Kind, load_json
from htagweb_asgi.protocol.pagerequest import PageRequest
from htagweb_asgi.web.channel import ChannelClosed
from htagweb_asgi.web.failures import (
    CreationTimeout,
    Failure,
    PageError,
    ReplacementConflict,
    explain,
)
from htagweb_asgi.web.http import HTML, error_page, send_response
from htagweb_asgi.web.navigation import (
    ReplacementRefused,
    may_replace,
    send_confirmation,
    send_head,
)
from htagweb_asgi.web.pool import UserChannel
from htagweb_asgi.web.query import init_args
from htagweb_asgi.web.request import page_request
from htagweb_asgi.web.routing import MountedApp, relative_to_root
from htagweb_asgi.web.services import Services
from htagweb_asgi.web.static import bundle_name, page_scripts, script_url
from htagweb_asgi.web.target import UserTarget

logger = logging.getLogger(__name__)

_MAX_REPLACEMENTS = 2  # a query change replaces the process; more means tabs are fighting


@dataclass(frozen=True)
class RenderedPage:
    html: str
    instance: str
    htag: int = 1  # the htag major that rendered it: htag 2 pages need the bridge script
    new_process: bool = False  # a process was started for this page (a new user)
    push: int = 0  # the number of the App's last push when it was rendered


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
    if method == "HEAD":  # a monitor or a crawler, never a page a person sees: no process
        await send_head(services.page_headers(), send)
        return
    query = scope.get("query_string", b"")
    stats = services.stats(app, scope)
    if len(query) > services.limits.max_query_size:
        logger.info("refused a page request with a %d-byte query string", len(query))
        stats.count("refusals", "size")
        await send_response(send, 414, b"query string too long")
        return
    public_prefix = services.public_prefix if services.public_prefix is not None else prefix
    request = page_request(
        scope,
        init_args(query),
        prefix=public_prefix,
        sub=sub,
        cookie_name=services.sessions.cookie_name,
    )
    started = time.monotonic()
    try:
        session_id, new_cookie = await services.page_session(scope)
        target = services.target(app, scope, session_id)
        time_limit = app.options.timeout_interaction
        page = await render_page(target, request, time_limit, may_replace(scope))
    except ReplacementRefused:
        await send_confirmation(services.page_headers(), send)
        return
    except HtagwebError as exc:
        failure = explain(exc, str(app.ref))
        stats.count("page_errors")
        if failure.refusal:
            stats.count("refusals", failure.refusal)
        await send_failure(services, send, failure, app.options.debug)
        return
    stats.count("pages", "new" if page.new_process else "existing")
    if page.new_process:
        stats.observe("new_user_page_seconds", time.monotonic() - started)
    config: dict[str, Any] = {
        "transport": app.options.page_transport,
        "parano": app.options.parano,
        "codes": page_table(),
        "push": page.push,
    }
    if app.options.posts:
        config["csrf"] = services.sessions.csrf_token(target.session_id)  # rotated or not
    scripts = page_scripts(app.options, page.htag)
    html = inject_client(
        page, prefix=public_prefix, sub=sub, base=app.base, config=config, scripts=scripts
    )
    headers = services.page_headers()
    if new_cookie and target.session_id == session_id:
        cookie = services.sessions.set_cookie(session_id, scope, public_prefix)
        headers.append((b"set-cookie", cookie))
    elif target.session_id != session_id:  # the App rotated the session as it was created
        headers += services.session_cookie(scope, target.session_id, public_prefix)
    node_cookie = services.node_cookie(scope, target.owner_node)
    if node_cookie is not None:
        headers.append((b"set-cookie", node_cookie))
    body = html.encode()
    await send_response(send, 200, body, content_type=HTML, headers=headers)


async def send_failure(
    services: Services, send: ASGISendCallable, failure: Failure, debug: bool
) -> None:
    """An error page for `failure` (the detail only with debug)."""
    headers = services.page_headers()
    if failure.retry_after is not None:
        headers.append((b"retry-after", str(failure.retry_after).encode()))
    detail = failure.detail if debug else ""
    body = error_page(failure.message, detail, reload_hint=failure.reload_hint)
    await send_response(send, failure.status, body, content_type=HTML, headers=headers)


async def render_page(
    target: UserTarget, request: PageRequest, time_limit: float, replace: bool = True
) -> RenderedPage:
    """Return the page of the user's process, creating it, or replacing it when its App
    cannot serve `request` (htag 1: other init arguments; htag 2: ``?n``).

    Raises ReplacementRefused instead of replacing unless `replace`, ReplacementConflict
    when other requests of the session keep replacing the process meanwhile, PageError when
    it cannot render (its process ends by itself twice while starting, say).
    """
    channel = await target.connect()
    new_process = channel is None
    if channel is None:
        channel = await target.spawn()
    deaths = 0
    for _ in range(_MAX_REPLACEMENTS + 1):
        async with channel:
            try:
                kind, payload = await _request_page(target, channel, request, time_limit)
            except ChannelClosed:
                kind, payload = Kind.END, b""
        if kind is Kind.END:  # it died or is ending: a crash, a limit, or another request
            await target.raise_if_limited(channel.pid)  # replaced it (it says so: END 4008)
            new_process = True
            channel = await target.spawn(replace_pid=channel.pid)
            deaths += not channel.existed  # nobody had replaced it: it ended by itself
            if deaths > 1:  # the App cannot start: no process of it is left running
                await channel.aclose()
                await target.kill(None)
                raise PageError("the application's process ended while starting")
            continue
        if kind is Kind.HTML:
            head, _, html = payload.decode().partition("\n")
            header = json.loads(head)
            return RenderedPage(
                html,
                header["instance"],
                int(header.get("htag", 1)),
                new_process,
                int(header.get("push", 0)),
            )
        if kind is Kind.FAIL:
            raise PageError(load_json(payload)["message"])
        if kind is not Kind.MISMATCH:
            raise PageError(f"unexpected reply {kind.name}")
        if not replace:
            logger.info("a cross-site link asked for other arguments: asking the user first")
            raise ReplacementRefused()
        logger.debug("the App cannot serve this page: replacing process %s", channel.pid)
        channel = await target.spawn(replace_pid=channel.pid, mismatch=True)
        new_process = True
    await channel.aclose()  # the last replacement's: other requests will take it over
    logger.info("a page's process was replaced by other requests %d times", _MAX_REPLACEMENTS)
    raise ReplacementConflict()


async def _request_page(
    target: UserTarget, channel: UserChannel, request: PageRequest, time_limit: float
) -> tuple[Kind, bytes]:
    """PAGE, with the session first; the App's session changes are stored as they come."""
    sync = target.session_sync()
    try:
        with anyio.fail_after(time_limit):
            await sync.send_if_changed(channel)
            await channel.send_json(Kind.PAGE, request.to_json())
            return await sync.receive(channel, channel.pid)
    except TimeoutError:
        await target.stop_overdue(channel.pid, time_limit, "creating the page")
        raise CreationTimeout() from None


def inject_client(
    page: RenderedPage,
    *,
    prefix: str,
    sub: str,
    base: str,
    config: dict[str, Any],
    scripts: list[str],
) -> str:
    """Put the client's config and scripts at the top of ``<head>``."""
    settings: Mapping[str, Any] = {
        "sub": quote(sub, safe="/:@!$&'()*+,;=-._~"),
        "prefix": prefix,
        "base": base,
        "instance": page.instance,
        **config,
    }
    blob = json.dumps(settings, separators=(",", ":")).replace("<", "\\u003c")
    to_root = relative_to_root(sub)
    tags = (
        f'<script id="htagweb-config" type="application/json">{blob}</script>'
        f'<script src="{script_url(bundle_name(scripts), to_root)}"></script>'
    )
    return page.html.replace("<head>", "<head>" + tags, 1)
