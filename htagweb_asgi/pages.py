"""GET of an App's page: find or create the user's process, render, add the client config."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio

from .channel import ChannelClosed
from .framing import Kind, load_json
from .initargs import InitArgs, to_json
from .mount import relative_to_root
from .pool import UserChannel
from .static import CLIENT_JS, client_script
from .target import UserTarget

logger = logging.getLogger(__name__)

_MAX_REPLACEMENTS = 2  # a query change replaces the process; more means tabs are fighting


class PageError(Exception):
    """The user process could not render the page; `message` is a traceback under debug."""


class CreationTimeout(Exception):
    """Creating or rendering the App took longer than timeout_interaction (process killed)."""


@dataclass(frozen=True)
class RenderedPage:
    html: str
    instance: str


async def render_page(target: UserTarget, init: InitArgs, time_limit: float) -> RenderedPage:
    """Return the page of the user's process, creating it, or replacing it when `init`
    differs from the arguments it was created with."""
    channel = await target.connect() or await target.spawn()
    crashed = False
    for _ in range(_MAX_REPLACEMENTS + 1):
        async with channel:
            try:
                kind, payload = await _request_page(target, channel, init, time_limit)
            except ChannelClosed:  # it died (crash, OOM, or it was ending): once more, afresh
                if crashed:
                    raise PageError("the application's process ended while starting") from None
                crashed = True
                channel = await target.spawn(replace_pid=channel.pid)
                continue
        if kind is Kind.HTML:
            head, _, html = payload.decode().partition("\n")
            return RenderedPage(html, json.loads(head)["instance"])
        if kind is Kind.FAIL:
            raise PageError(load_json(payload)["message"])
        if kind is not Kind.MISMATCH:
            raise PageError(f"unexpected reply {kind.name}")
        logger.debug("init arguments changed: replacing process %s", channel.pid)
        channel = await target.spawn(replace_pid=channel.pid)
    raise PageError("the process was replaced too many times (tabs with other query strings?)")


async def _request_page(
    target: UserTarget, channel: UserChannel, init: InitArgs, time_limit: float
) -> tuple[Kind, bytes]:
    """PAGE, with the session first; the App's session changes are stored as they come."""
    sync = target.session_sync()
    try:
        with anyio.fail_after(time_limit):
            await sync.send_if_changed(channel)
            await channel.send_json(Kind.PAGE, {"init": to_json(init)})
            while True:
                kind, payload = await channel.receive()
                if kind is not Kind.CHANGES:
                    return kind, payload
                await sync.save(payload)
    except TimeoutError:
        logger.warning("creating the page took more than %.0f s: killing its process", time_limit)
        await target.kill(channel.pid)
        raise CreationTimeout() from None


def inject_client(
    page: RenderedPage, *, prefix: str, sub: str, base: str, config: dict[str, Any]
) -> str:
    """Put the client's config and script at the top of ``<head>``."""
    settings: Mapping[str, Any] = {
        "sub": quote(sub, safe="/:@!$&'()*+,;=-._~"),
        "prefix": prefix,
        "base": base,
        "instance": page.instance,
        **config,
    }
    blob = json.dumps(settings, separators=(",", ":")).replace("<", "\\u003c")
    script = f"{relative_to_root(sub)}_/{CLIENT_JS}?v={client_script()[1]}"
    tags = (
        f'<script id="htagweb-config" type="application/json">{blob}</script>'
        f'<script src="{script}"></script>'
    )
    return page.html.replace("<head>", "<head>" + tags, 1)
