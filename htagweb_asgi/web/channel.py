"""A framed connection from a worker to a user process or a template.

A plain non-blocking unix socket, driven with anyio's ``wait_readable``/``wait_writable``:
a frame is one ``send`` and usually one ``recv``, with no stream layers in between. The
relay does this for every click, and anyio's socket streams cost more than the click's
own work (a checkpoint per send, buffers per receive): measured in bench/.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections import deque
from types import TracebackType
from typing import Any

import anyio

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol.frames import (
    DEFAULT_MAX_FRAME,
    HEADER_SIZE,
    FrameDecoder,
    FrameError,
    Kind,
    encode,
    encode_json,
    load_json,
    parse_header,
)
from htagweb_asgi.protocol.handshake import HANDSHAKE_FRAME, ClientHandshake, ServerHandshake

_CHUNK = 256 * 1024


class ChannelClosed(HtagwebError):
    """Raised by Channel.receive/send when the peer is gone (it ended or crashed)."""


class Channel:
    """Send and receive typed frames over one local socket."""

    def __init__(self, sock: socket.socket, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._decoder = FrameDecoder(max_frame)
        self._frames: deque[tuple[Kind, bytes]] = deque()
        self._closed = False
        self.detached = False  # handed over (detach): its socket belongs to someone else

    @classmethod
    async def connect(cls, path: str) -> Channel:
        """Connect to the socket at `path`; OSError (absent, refused) when nobody listens."""
        if sys.platform == "win32":
            raise OSError("unix sockets need the POSIX path (see protocol/portable.py)")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            try:
                sock.connect(path)
            except BlockingIOError:  # the listener's backlog is full: wait for room
                await anyio.wait_writable(sock)
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise OSError(error, "connect failed") from None
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    @classmethod
    async def connect_tcp(cls, host: str, port: int) -> Channel:
        """Connect to another node's link at `host`:`port`; OSError when refused."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # frames, not a stream
        try:
            error = sock.connect_ex((host, port))
            if error in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
                await anyio.wait_writable(sock)
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, os.strerror(error))
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def detach(self) -> socket.socket:
        """Hand the socket over (to be spliced to another): nothing may be buffered."""
        if self._frames or self._decoder.buffered:
            raise ChannelClosed("frames arrived before the channel was handed over")
        self._closed = self.detached = True
        return self._sock

    async def send(self, kind: Kind, payload: bytes = b"") -> None:
        await self._send_bytes(encode(kind, payload))

    async def send_json(self, kind: Kind, obj: Any) -> None:
        await self._send_bytes(encode_json(kind, obj))

    async def _send_bytes(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self._sock.send(view)
            except BlockingIOError:
                await self._wait(anyio.wait_writable)
                continue
            except OSError as exc:
                raise ChannelClosed(str(exc)) from exc
            view = view[sent:]

    async def receive(self) -> tuple[Kind, bytes]:
        """Return the next frame; ChannelClosed at end of stream or on a broken frame."""
        while not self._frames:
            data = await self._recv(_CHUNK)
            try:
                self._frames.extend(self._decoder.feed(data))
            except FrameError as exc:
                raise ChannelClosed(f"the connection broke the protocol: {exc}") from exc
        return self._frames.popleft()

    async def _wait(self, wait: Any) -> None:
        if self._closed:
            raise ChannelClosed("the channel is closed")
        try:
            await wait(self._sock)
        except anyio.ClosedResourceError as exc:  # aclose() from another task
            raise ChannelClosed("the channel is closed") from exc

    async def request(self, kind: Kind, obj: Any) -> tuple[Kind, Any]:
        """Send a JSON frame and return the reply's kind and decoded JSON payload."""
        await self.send_json(kind, obj)
        reply, payload = await self.receive()
        return reply, load_json(payload) if payload else None

    async def authenticate(self, key: bytes, me: str, expect: str | None = None) -> None:
        """Prove we hold `key` to the server that just accepted us, and check that it does
        (under the name `expect`, when given: protocol/handshake.py); ValueError when it does
        not, ChannelClosed when it left."""
        handshake = ClientHandshake(key, me, expect)
        await self._send_bytes(handshake.respond(*await self._receive_one()))
        handshake.verify(*await self._receive_one())

    async def _receive_one(self) -> tuple[Kind, bytes]:
        """One frame, reading no byte past it: what the peer sends next (a process's HELLO)
        stays in the socket for whoever the channel is handed over to (detach)."""
        try:
            kind, size = parse_header(await self._receive_exactly(HEADER_SIZE), HANDSHAKE_FRAME)
        except FrameError as exc:
            raise ChannelClosed(f"the connection broke the protocol: {exc}") from exc
        return kind, await self._receive_exactly(size)

    async def _receive_exactly(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            data += await self._recv(size - len(data))
        return bytes(data)

    async def _recv(self, most: int) -> bytes:
        """At least one byte and at most `most`, waiting for them; ChannelClosed at the end
        of stream."""
        while True:
            try:
                data = self._sock.recv(most)
            except BlockingIOError:
                await self._wait(anyio.wait_readable)
                continue
            except OSError as exc:
                raise ChannelClosed(f"the connection ended: {exc!r}") from exc
            if not data:
                raise ChannelClosed("the process closed the connection")
            return data

    async def prove(self, handshake: ServerHandshake) -> bool:
        """The accepting side: challenge the client; False when it did not prove it holds
        the key (then close the channel)."""
        await self._send_bytes(handshake.challenge())
        answer = handshake.answer(*await Channel.receive(self))
        if answer is None:
            return False
        await self._send_bytes(answer)
        return True

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            anyio.notify_closing(self._sock)  # wake a task waiting on it, then close
            self._sock.close()

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
