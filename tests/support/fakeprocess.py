"""A user process and its target, faked for the relays' unit tests: frames in, frames out."""

from __future__ import annotations

import json
from typing import Any

import anyio

from htagweb_asgi.protocol.frames import Kind
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.store import MemoryStore
from htagweb_asgi.web.channel import ChannelClosed
from htagweb_asgi.web.failures import LimitReached
from htagweb_asgi.web.sessionsync import SessionSync

STEP = 5.0  # bound on every wait (nothing here waits for long unless broken)


class FakeProcess:
    """A channel to a user process: records what it is sent, answers what the test says."""

    def __init__(self, pid: int = 4242) -> None:
        self.pid = pid
        self.sent: list[tuple[Kind, Any]] = []
        self._in, self._out = anyio.create_memory_object_stream[tuple[Kind, bytes] | None](10)
        self.closed = False

    def answer(self, kind: Kind, payload: Any = b"") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self._in.send_nowait((kind, data))

    def die(self) -> None:
        self._in.send_nowait(None)

    async def send_json(self, kind: Kind, obj: Any) -> None:
        self.sent.append((kind, obj))

    async def hello(self) -> int:
        return self.pid

    async def send(self, kind: Kind, payload: bytes = b"") -> None:
        self.sent.append((kind, payload))

    async def receive(self) -> tuple[Kind, bytes]:
        frame = await self._out.receive()
        if frame is None:
            raise ChannelClosed("the process closed the connection")
        return frame

    async def aclose(self) -> None:
        self.closed = True

    async def __aenter__(self) -> FakeProcess:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class FakeTarget:
    def __init__(self, process: FakeProcess, store: MemoryStore) -> None:
        self.process = process
        self.sessions = Sessions(secret_key="k" * 32, store=store)
        self.killed: list[int | None] = []
        self.connected = 0
        self.replacement: FakeProcess | None = None  # the key's process after `process`
        self.limit: str | None = None  # set: the process was ended at a limit

    async def limit_message(self, pid: int | None) -> str | None:
        return self.limit

    async def raise_if_limited(self, pid: int | None) -> None:
        if self.limit is not None:
            raise LimitReached(self.limit)

    def session_sync(self) -> SessionSync:
        return SessionSync(self.sessions, "sid")

    async def connect(self) -> FakeProcess | None:
        self.connected += 1
        return self.process if self.connected == 1 else self.replacement

    async def stop_overdue(self, pid: int | None, seconds: float, what: str) -> str:
        self.killed.append(pid)
        return f"stopped after {seconds:g} s"
