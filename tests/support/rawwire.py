"""HTTP/1.1 and websocket clients that send exactly the bytes they are given.

httpx and websockets refuse to send what a browser never would (a newline in a header, a
text frame that is not UTF-8, a body shorter than its length): a hostile client has no
such scruples, so the fuzz speaks the wire itself. Every read is bounded in time and size.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import dataclass, field

import anyio

TIMEOUT = 15.0
MAX_RESPONSE = 4 << 20

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


@dataclass
class Response:
    """What came back: a status (None when the server closed without one), headers, body."""

    status: int | None
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""


def parse_head(head: bytes) -> Response:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return Response(status, headers)


async def read_head(reader: asyncio.StreamReader) -> Response:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return Response(None)
    return parse_head(head[:-4])


async def exchange(port: int, request: bytes, *, then_close: bool = False) -> Response:
    """Send `request` on a new connection and read one response (or see the server close).

    `then_close`: close our side right after sending, reading nothing (a client that left).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        if then_close:
            return Response(None)
        with anyio.fail_after(TIMEOUT):
            response = await read_head(reader)
            if response.status is not None:
                response.body = await _read_body(reader, response)
        return response
    except ConnectionError:
        return Response(None)
    finally:
        writer.close()


async def _read_body(reader: asyncio.StreamReader, response: Response) -> bytes:
    length = response.headers.get(b"content-length")
    if length is not None and length.isdigit():
        size = min(int(length), MAX_RESPONSE)
        try:
            return await reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            return b""
    if response.headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        return await _read_chunked(reader)
    return b""  # 1xx, 204, 304, or a close-delimited body we do not need


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    try:
        while len(body) < MAX_RESPONSE:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return body
            body += (await reader.readexactly(size + 2))[:-2]
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    return body


def request(
    method: str | bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> bytes:
    """The bytes of a request, exactly as given (no header added, none checked)."""
    verb = method.encode() if isinstance(method, str) else method
    lines = [verb + b" " + target + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A client frame (masked, as RFC 6455 requires of clients)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    size = len(payload)
    if size < 126:
        header = struct.pack(">BB", first, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack(">BBH", first, 0x80 | 126, size)
    else:
        header = struct.pack(">BBQ", first, 0x80 | 127, size)
    mask = os.urandom(4)
    return header + mask + _masked(payload, mask)


def _masked(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return b""
    key = int.from_bytes((mask * (len(payload) // 4 + 1))[: len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(len(payload), "big")


class RawWebSocket:
    """A websocket client that sends any frame and reads the server's (unmasked) frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(
        cls, port: int, target: bytes, headers: list[tuple[bytes, bytes]]
    ) -> tuple[Response, RawWebSocket | None]:
        """The handshake with `headers` besides the upgrade's own; the socket when 101."""
        key = base64.b64encode(os.urandom(16))
        upgrade = [
            (b"host", b"127.0.0.1:%d" % port),
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-key", key),
            (b"sec-websocket-version", b"13"),
        ]
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        try:
            writer.write(request("GET", target, [*upgrade, *headers]))
            await writer.drain()
            with anyio.fail_after(TIMEOUT):
                response = await read_head(reader)
                if response.status != 101:
                    response.body = await _read_body(reader, response)
        except ConnectionError:
            response = Response(None)
        except BaseException:
            writer.close()
            raise
        if response.status != 101:
            writer.close()
            return response, None
        return response, cls(reader, writer)

    async def send(self, data: bytes) -> None:
        """Send `data`; a server that closed already is seen by the next receive."""
        try:
            self.writer.write(data)
            await self.writer.drain()
        except ConnectionError:
            pass

    async def receive(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload; (CLOSE, b"") when the connection ends."""
        try:
            with anyio.fail_after(TIMEOUT):
                first, second = await self.reader.readexactly(2)
                size = second & 0x7F
                if size == 126:
                    (size,) = struct.unpack(">H", await self.reader.readexactly(2))
                elif size == 127:
                    (size,) = struct.unpack(">Q", await self.reader.readexactly(8))
                return first & 0x0F, await self.reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            return CLOSE, b""

    def close(self) -> None:
        self.writer.close()
