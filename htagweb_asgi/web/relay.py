"""The websocket of a page: relays interactions to the user's process and pushes back.

One websocket is one duplex channel to the process: the browser's messages become INTERACT
frames (one at a time, each under ``timeout_interaction``), the process's replies and pushes
are sent to the browser in the order the process wrote them. A page that numbers what it gets
says where it stands in the URL (``t=``, ``p=``: web/services.PagePosition); the process then
first sends the pushes it missed. For a ``parano`` App both are
binary envelopes only the page and the process can open: the relay checks their shape (see
parano/envelope.py), never their content, and refuses anything else.

To end a connection we ask the page to close it (a control message) and close it ourselves
only if the page does not within CLOSE_WAIT: a client-initiated close is clean on every server
(hypercorn -k trio can lose a worker when the app closes right after sending).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import anyio
from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.parano import envelope
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.protocol.frames import PUSH_NUMBER_BYTES, Kind, load_json
from htagweb_asgi.web.channel import ChannelClosed
from htagweb_asgi.web.connections import TOO_MANY_REASON
from htagweb_asgi.web.drain import Drain, drain_hint
from htagweb_asgi.web.failures import NO_PROCESS_REASON, explain
from htagweb_asgi.web.http import refuse
from htagweb_asgi.web.pool import UserChannel
from htagweb_asgi.web.routing import MountedApp
from htagweb_asgi.web.security import origin_allowed
from htagweb_asgi.web.services import PagePosition, Services, page_instance
from htagweb_asgi.web.sessionsync import SessionSync
from htagweb_asgi.web.target import UserTarget, why_gone
from htagweb_asgi.web.workerstats import WorkerStats

logger = logging.getLogger(__name__)

CLOSE_WAIT = 2.0
SERVICE_RESTART = 1012  # RFC 6455's registry: the page reconnects
ATTACH_TIMEOUT = 10.0
_READY = json.dumps({"htagweb": {"ready": True}})
BARE = PagePosition()  # a client that does not number what it gets


async def serve_websocket(
    services: Services,
    app: MountedApp,
    scope: Mapping[str, Any],
    receive: ASGIReceiveCallable,
    send: ASGISendCallable,
) -> None:
    """The websocket of a page: checked, accepted, then relayed until the page leaves."""
    if (await receive())["type"] != "websocket.connect":
        return
    if not app.options.websocket:
        uses = "HTTP interactions" if app.options.page_transport == "http" else "SSE and POST"
        await refuse(scope, send, 404, f"this application uses {uses}")
        return
    stats = services.stats(app, scope)
    if not origin_allowed(scope, services.allowed_origins):
        stats.count("refusals", "origin")
        await refuse(scope, send, 403, "cross-site websocket refused (Origin)")
        return
    if b"r=1" in scope.get("query_string", b"").split(b"&"):
        stats.count("reconnects")  # client.js marks the connections after its first
    await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
    session_id = services.known_session(scope)
    instance = page_instance(scope)
    timeout = app.options.timeout_interaction
    max_frame = services.limits.max_frame_size
    relay = Relay(
        receive,
        send,
        timeout=timeout,
        max_frame=max_frame,
        parano=app.options.parano,
        app=app,
        drain=services.drain,
        stats=stats,
    )
    if session_id is None or instance is None:
        logger.info("websocket without a valid session or page instance: asking the page to reload")
        await relay.refuse(Close.NO_PROCESS, NO_PROCESS_REASON)
        return
    with services.websockets.hold(session_id) as admitted:
        if not admitted:
            logger.info("refused a websocket: its session holds too many in this worker")
            await relay.refuse(Close.TOO_MANY, TOO_MANY_REASON)
            return
        try:
            target = services.target(app, scope, session_id)
        except HtagwebError as exc:
            await relay.refuse(*relay.explain(exc))
            return
        await relay.run(target, instance, PagePosition.of(scope))


class AttachRefused(HtagwebError):
    """The user process refused to bind the websocket (its page holds too many)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Relay:
    """One accepted websocket bound to one user process."""

    def __init__(
        self,
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
        *,
        timeout: float,
        max_frame: int,
        parano: bool = False,
        app: MountedApp | None = None,
        drain: Drain | None = None,
        stats: WorkerStats | None = None,
    ) -> None:
        self._stats = stats or WorkerStats()
        self._app = app  # for what the page is told when something fails
        self._drain = drain  # when it begins, the page is asked to reconnect (once)
        self._in_flight = False
        self._receive = receive
        self._send = send
        self._timeout = timeout
        self._max_frame = max_frame
        self._parano = parano  # relay only encrypted envelopes, both ways (never parse them)
        self._send_lock = anyio.Lock()
        self._reply = anyio.Event()
        self._process_gone = False  # its channel ended: no reply will come
        self._closing = False
        self._browser_gone = anyio.Event()
        self._sync: SessionSync

    async def run(self, target: UserTarget, instance: str, position: PagePosition = BARE) -> None:
        """Serve the accepted websocket until the browser leaves."""
        channel = None
        ending: tuple[int, str] = (Close.NO_PROCESS, NO_PROCESS_REASON)
        async with anyio.create_task_group() as tasks:
            self._sync = target.session_sync()
            try:
                channel = await self._attach(target, instance, position)
            except AttachRefused as exc:
                ending = (exc.code, exc.reason)
            except HtagwebError as exc:
                ending = self.explain(exc)
            if channel is None:
                tasks.start_soon(self._finish, *ending)
            else:
                tasks.start_soon(self._from_process, target, channel)
                if self._drain is not None:
                    tasks.start_soon(self._reconnect_on_drain, self._drain)
            await self._from_browser(target, channel, tasks)
            tasks.cancel_scope.cancel()
        if channel is not None:
            await channel.aclose()

    async def refuse(self, code: int, reason: str) -> None:
        """Ask the page to close with `code` (it cannot be served), and wait for it to."""
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._finish, code, reason)
            await self._from_browser(None, None, tasks)
            tasks.cancel_scope.cancel()

    def explain(self, exc: HtagwebError) -> tuple[int, str]:
        """The close code and reason that tell the page what went wrong."""
        app = str(self._app.ref) if self._app is not None else "an App"
        failure = explain(exc, app)
        return failure.code, failure.text(self._app is not None and self._app.options.debug)

    async def _attach(
        self, target: UserTarget, instance: str, position: PagePosition
    ) -> UserChannel | None:
        channel = await target.connect()
        if channel is not None:
            try:
                with anyio.fail_after(ATTACH_TIMEOUT):
                    attach = {"instance": instance, "subscribe": True, "parano": self._parano}
                    attach.update(position.attach_fields())
                    await channel.send_json(Kind.ATTACH, attach)
                    kind, payload = await channel.receive()
                if kind is Kind.OK:
                    await self._send_text(_READY)
                    return channel
                if kind is Kind.REJECT:
                    refusal = load_json(payload)
                    await channel.aclose()
                    raise AttachRefused(int(refusal["code"]), str(refusal["reason"]))
            except (ChannelClosed, TimeoutError):
                pass
            await channel.aclose()
        return None

    async def _from_browser(
        self,
        target: UserTarget | None,
        channel: UserChannel | None,
        tasks: anyio.abc.TaskGroup,
    ) -> None:
        while True:
            event = await self._receive()
            if event["type"] == "websocket.disconnect":
                self._browser_gone.set()
                return
            if event["type"] != "websocket.receive" or self._closing:
                continue
            if target is None or channel is None:
                continue
            payload, refusal = self._payload(event)
            if payload is None:
                logger.info("refused a message from a page: %s", refusal)
                tasks.start_soon(self._finish, Close.UNSUPPORTED_DATA, refusal)
                continue
            if len(payload) > self._max_frame:
                self._stats.count("refusals", "size")
                tasks.start_soon(self._finish, Close.MESSAGE_TOO_BIG, "message too big")
                continue
            await self._interact(target, channel, payload, tasks)

    def _payload(self, event: Mapping[str, Any]) -> tuple[bytes | None, str]:
        """The message to relay, or None and why it is refused: a parano App takes binary
        envelopes only (plaintext never reaches its process), the others JSON text only."""
        if self._parano:
            data = event.get("bytes")
            accepted = data if data is not None and envelope.is_envelope(data) else None
            return accepted, envelope.PLAINTEXT_REFUSED
        text = event.get("text")
        return (text.encode() if text is not None else None), "binary frames are not supported"

    async def _interact(
        self,
        target: UserTarget,
        channel: UserChannel,
        payload: bytes,
        tasks: anyio.abc.TaskGroup,
    ) -> None:
        self._reply = anyio.Event()
        if self._process_gone:
            # It ended while the page sent this (the host is asking why, to tell the page):
            # nothing will answer, and waiting would report a timeout and kill a process.
            return
        self._in_flight = True
        started = time.monotonic()
        try:
            await self._sync.send_if_changed(channel)
            await channel.send(Kind.INTERACT, payload)
            with anyio.fail_after(self._timeout):
                await self._reply.wait()
            self._stats.count("interactions", "websocket")
            self._stats.observe("interaction_seconds", time.monotonic() - started)
        except ChannelClosed:
            return  # _from_process sees it too and ends the page
        except HtagwebError as exc:  # the session store failed: nothing was sent
            tasks.start_soon(self._finish, *self.explain(exc))
        except TimeoutError:
            claimed = self._claim_end()  # before the kill, so its EOF is not seen as a crash
            reason = await target.stop_overdue(channel.pid, self._timeout, "an interaction")
            if claimed:
                tasks.start_soon(self._close_page, Close.TIMED_OUT, reason)
        finally:
            self._in_flight = False

    async def _reconnect_on_drain(self, drain: Drain) -> None:
        """The worker drains: once the interaction in flight (if any) is answered, ask the
        page to reconnect after its share of the spread; close it if it does not."""
        await drain.wait()
        if self._in_flight:
            with anyio.move_on_after(self._timeout):
                await self._reply.wait()
        if not self._claim_end():
            return
        await self._send_text(json.dumps(drain_hint(drain.reconnect_delay_ms())))
        with anyio.move_on_after(CLOSE_WAIT):
            await self._browser_gone.wait()
        if not self._browser_gone.is_set():
            async with self._send_lock:
                try:
                    await self._send(
                        {"type": "websocket.close", "code": SERVICE_RESTART, "reason": "draining"}
                    )
                except OSError:
                    self._browser_gone.set()

    async def _from_process(self, target: UserTarget, channel: UserChannel) -> None:
        try:
            while True:
                kind, payload = await channel.receive()
                if kind is Kind.CHANGES:  # before the reply: the store has them first
                    try:
                        await self._sync.save(payload)
                    except HtagwebError as exc:  # not stored: the page must not go on as if
                        self._reply.set()
                        await self._finish(*self.explain(exc))
                        return
                elif kind is Kind.ROTATE:  # before the reply, like CHANGES
                    if not await self._rotate(channel):
                        return
                elif kind is Kind.REPLY or kind is Kind.PUSH or kind is Kind.EVENT:
                    if kind is Kind.EVENT:
                        payload = payload[PUSH_NUMBER_BYTES:]  # the page reads it in the message
                    if self._parano:
                        await self._send_message(None, payload)
                    else:
                        await self._send_text(payload.decode())
                    if kind is Kind.REPLY:
                        self._reply.set()
                    else:
                        self._stats.count("pushes")
                elif kind is Kind.REJECT or kind is Kind.END:
                    self._process_gone = True
                    self._reply.set()
                    ending = load_json(payload)
                    if kind is Kind.REJECT:
                        logger.info("refused a message from a page: %s", ending["reason"])
                    await self._finish(int(ending["code"]), str(ending["reason"]))
                    return
        except ChannelClosed:
            self._process_gone = True  # before the reply: a click from now on waits for none
            self._reply.set()
            await self._finish(*await why_gone(target, channel.pid))

    async def _rotate(self, channel: UserChannel) -> bool:
        """The App rotated the session: give it a new id (the process stays), and the page
        a token to fetch its new cookie with (web/rotation.py). False when that failed."""
        old_id = self._sync.session_id
        try:
            new_id = await self._sync.rotate(channel.pid)
        except HtagwebError as exc:
            self._reply.set()
            await self._finish(*self.explain(exc))
            return False
        token = self._sync.sessions.rotation_token(old_id, new_id)
        await self._send_text(json.dumps({"htagweb": {"session": token}}))
        return True

    def _claim_end(self) -> bool:
        """The first reason to end the connection wins; return whether it is this one."""
        if self._closing:
            return False
        self._closing = True
        return True

    async def _finish(self, code: int, reason: str) -> None:
        if self._claim_end():
            await self._close_page(code, reason)

    async def _close_page(self, code: int, reason: str) -> None:
        """Ask the page to close with `code`; close it ourselves if it does not in time."""
        await self._send_text(json.dumps({"htagweb": {"close": code, "reason": reason}}))
        with anyio.move_on_after(CLOSE_WAIT):
            await self._browser_gone.wait()
        if not self._browser_gone.is_set():
            async with self._send_lock:
                try:
                    await self._send({"type": "websocket.close", "code": code, "reason": reason})
                except OSError:
                    self._browser_gone.set()

    async def _send_text(self, text: str) -> None:
        await self._send_message(text, None)

    async def _send_message(self, text: str | None, data: bytes | None) -> None:
        async with self._send_lock:
            if self._browser_gone.is_set():
                return
            try:
                await self._send({"type": "websocket.send", "text": text, "bytes": data})
            except OSError:
                self._browser_gone.set()  # the server lost the client; its disconnect follows
