"""A TCP proxy on loopback that tests make misbehave, as networks and proxies do.

It runs an asyncio loop in a thread of its own (so sync Playwright tests and async tests can
both use it) and forwards bytes both ways, and on request:

- ``cut(seconds)``: ends every connection at once and answers none for that long (a network
  drop, a proxy restart);
- ``refuse_websockets``: answers every websocket upgrade with 403 (a proxy that blocks them);
- ``drop_response(marker)``: the response to the next HTTP request whose head has `marker`
  never comes: the connection is cut when it starts (the server did the work); with
  ``head=True``, it is cut after the response's head, in its body;
- ``drop_message(predicate)``: the next websocket message from the server that `predicate`
  accepts is not passed on: the connection is cut there instead.

Websocket upgrades lose their ``Sec-WebSocket-Extensions`` on the way, so that messages are
not compressed and ``drop_message`` can read them.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Callable

START_TIMEOUT = 5.0
_REFUSED = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_HEAD_END = b"\r\n\r\n"


class _Link:
    """One proxied connection."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.server: asyncio.StreamWriter | None = None
        self.websocket = False
        self.drop_next_response: bool | str = False  # True, or "body": pass the head on

    def cut(self) -> None:
        for writer in (self.client, self.server):
            if writer is not None:
                writer.transport.abort()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<upstream>."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = 0
        self.refuse_websockets = False
        self.refused = 0  # websocket upgrades refused so far
        self.dropped = 0  # responses and messages dropped so far
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="tcpproxy", daemon=True)
        self._links: set[_Link] = set()
        self._down_until = 0.0
        self._response_marker: bytes | None = None
        self._response_head = False
        self._message_predicate: Callable[[bytes], bool] | None = None
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control, from any thread ---------------------------------------------------------------
    def start(self) -> TcpProxy:
        ready = threading.Event()
        self._loop.call_soon(ready.set)
        self._thread.start()
        if not ready.wait(START_TIMEOUT):
            raise TimeoutError("the proxy's loop did not start")
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(START_TIMEOUT)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(START_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT)

    def cut(self, seconds: float) -> None:
        """End every connection now, and answer none for `seconds`."""
        self._call(self._cut, seconds)

    def drop_response(self, marker: bytes, head: bool = False) -> None:
        self._call(setattr, self, "_response_head", head)
        self._call(setattr, self, "_response_marker", marker)

    def drop_message(self, predicate: Callable[[bytes], bool]) -> None:
        self._call(setattr, self, "_message_predicate", predicate)

    def _call(self, function: Callable[..., object], *args: object) -> None:
        async def call() -> None:
            function(*args)

        asyncio.run_coroutine_threadsafe(call(), self._loop).result(START_TIMEOUT)

    # -- the loop's side ---------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        for link in list(self._links):
            link.cut()
        if self._server is not None:
            self._server.close()

    def _cut(self, seconds: float) -> None:
        self._down_until = self._loop.time() + seconds
        for link in list(self._links):
            link.cut()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._loop.time() < self._down_until:
            writer.transport.abort()
            return
        link = _Link(writer)
        self._links.add(link)
        try:
            head = await self._request_head(reader)
            if head is None:
                return
            if b"upgrade: websocket" in head.lower():
                if self.refuse_websockets:
                    self.refused += 1
                    writer.write(_REFUSED)
                    await writer.drain()
                    return
                link.websocket = True
                head = _without_extensions(head)
            self._arm_response_drop(link, head)
            upstream_reader, link.server = await asyncio.open_connection("127.0.0.1", self.upstream)
            link.server.write(head)
            await asyncio.gather(
                self._pump_up(reader, link), self._pump_down(upstream_reader, link)
            )
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._links.discard(link)
            link.cut()

    @staticmethod
    async def _request_head(reader: asyncio.StreamReader) -> bytes | None:
        try:
            return await reader.readuntil(_HEAD_END)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None

    def _arm_response_drop(self, link: _Link, data: bytes) -> None:
        if self._response_marker is not None and self._response_marker in data:
            self._response_marker = None
            link.drop_next_response = "body" if self._response_head else True

    async def _pump_up(self, reader: asyncio.StreamReader, link: _Link) -> None:
        assert link.server is not None
        while data := await reader.read(65536):
            if not link.websocket:
                self._arm_response_drop(link, data)  # the next request on a kept-alive link
            link.server.write(data)
            await link.server.drain()
        link.cut()

    async def _pump_down(self, reader: asyncio.StreamReader, link: _Link) -> None:
        frames = _ServerFrames() if link.websocket else None
        while data := await reader.read(65536):
            if link.drop_next_response:
                if link.drop_next_response == "body":
                    head = (
                        data + await reader.readuntil(_HEAD_END) if _HEAD_END not in data else data
                    )
                    link.client.write(head[: head.index(_HEAD_END) + 4])
                    await link.client.drain()
                self.dropped += 1
                link.cut()
                return
            if frames is not None:
                kept = frames.feed(data, self._drops)
                if kept is None:
                    self.dropped += 1
                    link.cut()
                    return
                data = kept
            link.client.write(data)
            await link.client.drain()
        link.cut()

    def _drops(self, payload: bytes) -> bool:
        if self._message_predicate is not None and self._message_predicate(payload):
            self._message_predicate = None
            return True
        return False


def _without_extensions(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    return b"\r\n".join(
        line for line in lines if not line.lower().startswith(b"sec-websocket-extensions:")
    )


class _ServerFrames:
    """The server's side of a websocket, after its 101 response: data frames, read whole."""

    def __init__(self) -> None:
        self._buffer = b""
        self._upgraded = False

    def feed(self, data: bytes, drops: Callable[[bytes], bool]) -> bytes | None:
        """The bytes to pass on now (complete frames), or None: cut here."""
        self._buffer += data
        out = b""
        if not self._upgraded:
            end = self._buffer.find(_HEAD_END)
            if end < 0:
                return out
            out, self._buffer = self._buffer[: end + 4], self._buffer[end + 4 :]
            self._upgraded = True
        while (size := _frame_size(self._buffer)) is not None and len(self._buffer) >= size[0]:
            total, start = size
            frame, self._buffer = self._buffer[:total], self._buffer[total:]
            opcode = frame[0] & 0x0F
            if opcode in (0, 1, 2) and drops(frame[start:]):
                return None
            out += frame
        return out


def _frame_size(buffer: bytes) -> tuple[int, int] | None:
    """(the frame's whole size, where its payload starts), once its header is in."""
    if len(buffer) < 2:
        return None
    length, start = buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length, start = struct.unpack_from(">H", buffer, 2)[0], 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        length, start = struct.unpack_from(">Q", buffer, 2)[0], 10
    if buffer[1] & 0x80:  # masked (never from a server, but the length must be right)
        start += 4
    return start + length, start
