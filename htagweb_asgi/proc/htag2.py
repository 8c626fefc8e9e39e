"""Every call into htag 2 (``Tag.App``) made by a user process, beside htag1.py.

htag 2 has no renderer class like htag 1's ``HRenderer``: its ``WebApp`` (Starlette) holds
every user's App in one server. We drive one App through the seam htag's own PyScript runner
uses: create it, render its body and statics, ``await app.handle_event(message, sink)`` per
page message, and give it one "websocket" (htag2_outbox.Outbox) that its broadcasts reach.
Names starting with ``_`` are not htag's public API: the tested range is pinned in
pyproject.toml, and tests/htag2/test_htag2_names.py calls every one of them.

Mapped from htag 2's runner: ``self.request`` is a Starlette Request made from the page
request, its ``session`` ours (shared with the framework's routes); ``?n`` asks for a fresh
App (a new process: see ``serves``); a reload runs the unmount and mount hooks; ``on_destroy``
runs whenever the process ends in a way that lets it. htag's XOR "parano" and CSRF token are
off: our parano and CSRF check replace them.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import json
import logging
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from htagweb_asgi.proc.engine import CreationFailed, Push
from htagweb_asgi.proc.htag2_messages import error_payload, parse_message
from htagweb_asgi.proc.htag2_outbox import Outbox
from htagweb_asgi.proc.htag2_request import starlette_request
from htagweb_asgi.protocol.pagerequest import PageRequest

logger = logging.getLogger(__name__)

DESTROY_TIMEOUT = 1.0  # seconds on_destroy may take (the template's stop_grace is 2 s)


class Htag2App:
    """One user's htag 2 App (an engine.AppEngine)."""

    htag = 2

    def __init__(
        self,
        app_class: type,
        request: PageRequest,
        *,
        debug: bool,
        session: Any,
        push: Push,
        on_exit: Callable[[], None],
    ) -> None:
        """Create the App and run its mount hooks; CreationFailed when its constructor raised."""
        from htag import current_request

        self._debug = debug
        self._session = session
        self._pages = 0  # pages rendered: the second and later ones are reloads
        starlette = starlette_request(request, session)
        token = current_request.set(starlette)  # what self.request is during init()
        try:
            app = app_class()
        except Exception:
            raise CreationFailed(traceback.format_exc()) from None
        finally:
            current_request.reset(token)
        self.outbox = Outbox(push, app._build_initial_payload)
        app.debug = debug  # htag's default is True: tracebacks to every browser
        app.parano_key = None  # htag's XOR "parano" off: ours encrypts the frames
        app.htag_csrf = None  # htag's CSRF token is for its own POST endpoint only
        app.htag_request = starlette
        if not hasattr(app, "exit"):  # as htag 1 Apps have it: end this user's process
            app.exit = on_exit
        self.app = app
        self._own_transport()
        app._trigger_mount()

    def _own_transport(self) -> None:
        """Make our outbox the App's only client; take what htag queued for none."""
        app = self.app
        if app.websockets != {self.outbox}:
            app.websockets.clear()
            app.websockets.add(self.outbox)
        app.sse_queues.clear()
        stray = getattr(app, "_fallback_queue", None)
        if stray:
            app._fallback_queue = []
            self.outbox.keep(list(stray))

    def serves(self, request: PageRequest) -> bool:
        """htag 2's ``?n``: a fresh App, i.e. a fresh process (the host replaces this one,
        which runs on_destroy as it ends)."""
        return "n" not in parse_qs(request.query_string, keep_blank_values=True)

    def render(self, request: PageRequest) -> str:
        """The page: htag's client script and the App's statics and body (a reload runs the
        unmount and mount hooks first, as htag's WebApp does)."""
        from htag import current_request
        from htag.client_js import CLIENT_JS

        app = self.app
        app.htag_request = starlette_request(request, self._session)
        token = current_request.set(app.htag_request)
        try:
            if self._pages:
                app._trigger_unmount()
                app._trigger_mount()
            body = app.render_initial()
            statics: list[str] = []
            title = app.collect_statics(app, statics) or type(app).__name__
        finally:
            current_request.reset(token)
        app.sent_statics.clear()
        app.sent_statics.update(statics)
        self.outbox.forget()
        self._pages += 1
        # Not htag's _render_page(): it links /logo.png at the site's root, prints the title
        # unescaped, and fakes WebSocket classes when an `htag_mode` cookie says so.
        # HTAG_EXT_INIT keeps htag's script from opening transports of its own (static/htag2.js
        # gives it ours).
        return (
            '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(str(title))}</title>\n"
            f"<script>window.HTAG_EXT_INIT=true;</script>\n<script>{CLIENT_JS}</script>\n"
            f"{''.join(statics)}\n</head>\n{body}\n</html>\n"
        )

    async def attached(self) -> bytes | None:
        """What was rendered while no page could take it; then start the ``on_mount``
        generators htag queued (their updates are pushes)."""
        self._own_transport()
        kept = await self.outbox.take()
        self.app._flush_pending_lifecycle_generators(self.outbox)
        return _array(kept) if kept else None

    async def interact(self, payload: bytes) -> bytes:
        """Run one page message; the reply is a JSON array of htag 2 payloads, oldest first."""
        from htag import current_request

        message = parse_message(payload)
        if message.get("action") == "log_error":
            logger.warning("the page reported a script error: %s", message["error"])
            return _array(await self.outbox.take())
        self._own_transport()
        callback_id = message["data"].get("callback_id")
        self.outbox.expect_reply(callback_id)
        token = current_request.set(self.app.htag_request)
        try:
            await self.app.handle_event(message, self.outbox)
        except Exception:  # htag catches a callback's errors; this is htag's own failure
            logger.exception("htag failed to handle an event")
            detail = traceback.format_exc() if self._debug else "Internal Server Error"
            await self.outbox.send_text(error_payload(detail, callback_id))
        finally:
            current_request.reset(token)
        return _array(await self.outbox.take())

    def report(self, reply: bytes, problem: str) -> bytes:
        """Add `problem` (a session value that could not be kept) to a reply."""
        payloads = json.loads(reply)
        payloads.append(json.loads(error_payload(problem)))
        return json.dumps(payloads).encode()

    def full_rendering(self) -> bytes:
        """htag 2's own payload that redraws the whole body (the one its outbox uses too)."""
        return str(self.app._build_initial_payload()).encode()

    @staticmethod
    def changed(reply: bytes) -> bool:
        """Whether a reply may change the page: it holds any payload."""
        return reply.strip() != b"[]"

    def effect(self, reply: bytes) -> bytes | None:
        """For the other pages, the whole body redrawn: htag 2's payloads resolve the clicking
        page's callbacks and may run its scripts, and do not say which tags changed."""
        return self.full_rendering()

    async def destroy(self) -> None:
        """Run the App's ``on_destroy`` (sync or async, within DESTROY_TIMEOUT); nothing is
        pushed after it."""
        self.outbox.closed = True
        try:
            result = self.app.on_destroy()
            if inspect.isawaitable(result):
                await asyncio.wait_for(result, DESTROY_TIMEOUT)
        except Exception:
            logger.exception("the App's on_destroy failed")


def _array(payloads: list[str]) -> bytes:
    return ("[" + ",".join(payloads) + "]").encode()


async def warm_up() -> None:
    """Run htag 2's page and event code once on a throwaway App (in a waiting spare)."""
    from htag import Tag

    class WarmUp(Tag.App):  # type: ignore[misc]
        def init(self) -> None:
            self.value = Tag.span("0")
            self.button = Tag.button("+", _onclick=lambda _event: self.value.clear("1"))

    async def nowhere(_payload: bytes) -> bool:
        return True

    app = Htag2App(
        WarmUp, PageRequest(((), {})), debug=False, session={}, push=nowhere, on_exit=_no_exit
    )
    app.render(PageRequest(((), {})))
    click = {"id": app.app.button.id, "event": "click", "data": {"callback_id": "w"}}
    await app.interact(json.dumps(click).encode())
    await app.destroy()


def _no_exit() -> None:
    pass


def preload() -> None:
    """Import what every user process needs, in the template (shared copy-on-write)."""
    import htag.client_js  # noqa: F401
    import starlette.requests  # noqa: F401
