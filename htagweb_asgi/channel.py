"""A framed connection from a worker to a user process or a template (anyio)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import anyio
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from .framing import (
    DEFAULT_MAX_FRAME,
    HEADER_SIZE,
    FrameError,
    Kind,
    encode,
    encode_json,
    load_json,
    parse_header,
)


class ChannelClosed(Exception):
    """Raised by Channel.receive/send when the peer is gone (it ended or crashed)."""


class Channel:
    """Send and receive typed frames over one local socket."""

    def __init__(self, stream: SocketStream, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._stream = stream
        self._reader = BufferedByteReceiveStream(stream)
        self._max_frame = max_frame

    @classmethod
    async def connect(cls, path: str) -> Channel:
        """Connect to the socket at `path`; OSError (absent, refused) when nobody listens."""
        return cls(await anyio.connect_unix(path))

    async def send(self, kind: Kind, payload: bytes = b"") -> None:
        await self._send_bytes(encode(kind, payload))

    async def send_json(self, kind: Kind, obj: Any) -> None:
        await self._send_bytes(encode_json(kind, obj))

    async def _send_bytes(self, frame: bytes) -> None:
        try:
            await self._stream.send(frame)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise ChannelClosed(str(exc)) from exc

    async def receive(self) -> tuple[Kind, bytes]:
        """Return the next frame; ChannelClosed at end of stream."""
        try:
            kind, size = parse_header(
                await self._reader.receive_exactly(HEADER_SIZE), self._max_frame
            )
            payload = await self._reader.receive_exactly(size) if size else b""
        except (
            anyio.IncompleteRead,
            anyio.EndOfStream,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
            OSError,
            FrameError,
        ) as exc:
            raise ChannelClosed(f"the connection ended: {exc!r}") from exc
        return kind, payload

    async def request(self, kind: Kind, obj: Any) -> tuple[Kind, Any]:
        """Send a JSON frame and return the reply's kind and decoded JSON payload."""
        await self.send_json(kind, obj)
        reply, payload = await self.receive()
        return reply, load_json(payload) if payload else None

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
