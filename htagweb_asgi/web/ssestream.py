"""One page's Server-Sent Events stream: the response, and the relay from its user process
(see web/sse.py for the endpoint, web/ssewire.py for the framing)."""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

import anyio
from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.protocol.frames import PUSH_NUMBER, Kind, load_json
from htagweb_asgi.web import ssewire
from htagweb_asgi.web.channel import ChannelClosed
from htagweb_asgi.web.drain import Drain, drain_hint
from htagweb_asgi.web.failures import NO_PROCESS_REASON, explain
from htagweb_asgi.web.target import why_gone

if TYPE_CHECKING:  # annotations only: this module stays below the endpoints that use it
    from htagweb_asgi.web.routing import MountedApp
    from htagweb_asgi.web.services import PagePosition
    from htagweb_asgi.web.target import UserTarget

logger = logging.getLogger(__name__)

KEEPALIVE_EVERY = 15.0  # seconds: proxies end streams idle for longer (nginx: 60 s)
# Seconds a stream lasts at most; the page then opens the next one at once, missing nothing
# (its pushes are numbered). A server that stops waits for open responses to end (uvicorn
# does, without --timeout-graceful-shutdown): this bounds that wait, and what a proxy
# buffers or times out.
STREAM_LIFETIME = 25.0
ATTACH_TIMEOUT = 10.0
CRASHED_REASON = "The application stopped unexpectedly."


def explained(exc: HtagwebError, app: MountedApp) -> tuple[int, str]:
    """The close code and reason that tell the page what went wrong."""
    failure = explain(exc, str(app.ref))
    return failure.code, failure.text(app.options.debug)


class EventStream:
    """One page's event stream: the response, and the relay from the process to it."""

    def __init__(self, send: ASGISendCallable, *, sealed: bool) -> None:
        self._send = send
        self._sealed = sealed
        self._lock = anyio.Lock()
        self._gone = False

    async def start(self) -> None:
        headers = [
            (b"content-type", ssewire.CONTENT_TYPE),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
            (b"x-content-type-options", b"nosniff"),
        ]
        await self._send(
            {"type": "http.response.start", "status": 200, "headers": headers, "trailers": False}
        )

    async def serve(
        self,
        receive: ASGIReceiveCallable,
        target: UserTarget,
        instance: str,
        position: PagePosition,
        hello: bytes | None,
        app: MountedApp,
        drain: Drain | None = None,
    ) -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._until_disconnect, receive, tasks.cancel_scope)
            tasks.start_soon(self._keep_alive)
            if drain is not None:
                tasks.start_soon(self._leave_on_drain, drain, tasks.cancel_scope)
            try:
                with anyio.move_on_after(STREAM_LIFETIME):
                    await self._relay(target, instance, position, hello)
            except HtagwebError as exc:  # the pool could not reach the process
                await self.close(*explained(exc, app))
            tasks.cancel_scope.cancel()
        await self._write(b"", more=False)

    async def close(self, code: int, reason: str) -> None:
        """Tell the page why the stream ends (as a websocket's close would), and end it."""
        await self._write(ssewire.control({"close": code, "reason": reason}))
        await self._write(b"", more=False)

    async def _relay(
        self, target: UserTarget, instance: str, position: PagePosition, hello: bytes | None
    ) -> None:
        channel = await target.connect()
        if channel is None:
            await self._control({"close": Close.NO_PROCESS, "reason": NO_PROCESS_REASON})
            return
        async with channel:
            try:
                with anyio.fail_after(ATTACH_TIMEOUT):
                    attach = {"instance": instance, "subscribe": True, "parano": hello is not None}
                    await channel.send_json(Kind.ATTACH, {**attach, **position.attach_fields()})
                    kind, payload = await channel.receive()
                    if kind is Kind.REJECT:  # this page holds too many connections
                        await self._ended(kind, payload)
                        return
                    if kind is not Kind.OK:
                        raise ChannelClosed("not attached")
                    ready: dict[str, Any] = {"ready": True}
                    if hello is not None:
                        await channel.send(Kind.INTERACT, hello)
                        kind, welcome = await channel.receive()
                        if kind is not Kind.REPLY:
                            await self._ended(kind, welcome)
                            return
                        ready["welcome"] = base64.b64encode(welcome).decode()
            except (ChannelClosed, TimeoutError):
                await self._control({"close": Close.NO_PROCESS, "reason": NO_PROCESS_REASON})
                return
            await self._control(ready)
            try:
                while True:
                    kind, payload = await channel.receive()
                    if kind is Kind.EVENT:
                        seq = PUSH_NUMBER.unpack_from(payload)[0]
                        message = payload[PUSH_NUMBER.size :]
                        await self._write(ssewire.push(seq, message, sealed=self._sealed))
                    elif kind is Kind.PUSH:
                        await self._write(ssewire.push(None, payload, sealed=self._sealed))
                    elif kind is Kind.END or kind is Kind.REJECT:
                        await self._ended(kind, payload)
                        return
            except ChannelClosed:  # a crash, or a page with other arguments replaced it
                code, reason = await why_gone(target, channel.pid)
                await self._control({"close": code, "reason": reason})

    async def _ended(self, kind: Kind, payload: bytes) -> None:
        if kind is Kind.END or kind is Kind.REJECT:
            ending = load_json(payload)
            await self._control({"close": int(ending["code"]), "reason": str(ending["reason"])})
        else:
            await self._control({"close": Close.CRASHED, "reason": CRASHED_REASON})

    async def _control(self, message: dict[str, Any]) -> None:
        await self._write(ssewire.control(message))

    async def _leave_on_drain(self, drain: Drain, scope: anyio.CancelScope) -> None:
        """The worker drains: ask the page to come back after its share of the spread (on
        another worker or node), and end the stream; its pushes wait, numbered, meanwhile."""
        await drain.wait()
        await self._control(drain_hint(drain.reconnect_delay_ms())["htagweb"])
        scope.cancel()

    async def _keep_alive(self) -> None:
        while True:
            await anyio.sleep(KEEPALIVE_EVERY)
            await self._write(ssewire.KEEPALIVE)

    async def _until_disconnect(
        self, receive: ASGIReceiveCallable, scope: anyio.CancelScope
    ) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._gone = True
        scope.cancel()

    async def _write(self, data: bytes, *, more: bool = True) -> None:
        async with self._lock:
            if self._gone:
                return
            try:
                await self._send({"type": "http.response.body", "body": data, "more_body": more})
            except OSError:
                self._gone = True  # the client left; its disconnect follows
            if not more:
                self._gone = True
