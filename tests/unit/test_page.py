"""A page's render loop against processes that other requests replace under it: a fake
target and fake channels, no process."""

from __future__ import annotations

import json
from typing import Any

import pytest

from htagweb_asgi.protocol.frames import Kind
from htagweb_asgi.protocol.pagerequest import PageRequest
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.store import MemoryStore
from htagweb_asgi.web.channel import ChannelClosed
from htagweb_asgi.web.failures import PageError, ReplacementConflict, explain
from htagweb_asgi.web.page import render_page
from htagweb_asgi.web.sessionsync import SessionSync

pytestmark = pytest.mark.anyio
REQUEST = PageRequest(init=((), {"q": "1"}))


class FakeChannel:
    """A user process's channel that answers PAGE with `reply` (None: it dies)."""

    def __init__(self, pid: int, reply: tuple[Kind, Any] | None) -> None:
        self.pid = pid
        self.reply = reply
        self.closed = False

    async def __aenter__(self) -> FakeChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self.closed = True

    async def send_json(self, kind: Kind, obj: Any) -> None:
        pass

    async def receive(self) -> tuple[Kind, bytes]:
        if self.reply is None:
            raise ChannelClosed("the process closed the connection")
        kind, payload = self.reply
        return kind, payload if isinstance(payload, bytes) else json.dumps(payload).encode()


class FakeTarget:
    """The processes of one key: `first` is there when the page is asked for; every process
    we spawn answers `reply`; after our spawns, `other` holds the key (another request's
    process), or nothing does (None)."""

    def __init__(
        self, first: FakeChannel, reply: tuple[Kind, Any] | None, other: FakeChannel | None
    ) -> None:
        self.live: FakeChannel | None = first
        self.reply = reply
        self.other = other
        self.spawned: list[int | None] = []
        self.sessions = Sessions(secret_key="k" * 32, store=MemoryStore())

    def session_sync(self) -> SessionSync:
        return SessionSync(self.sessions, "sid")

    async def connect(self) -> FakeChannel | None:
        return self.live

    async def spawn(self, replace_pid: int | None = None) -> FakeChannel:
        self.spawned.append(replace_pid)
        self.live = self.other
        return FakeChannel(100 + len(self.spawned), self.reply)

    async def stop_overdue(self, pid: int | None, seconds: float, what: str) -> str:
        raise AssertionError("nothing here takes too long")


MISMATCH = (Kind.MISMATCH, {"pid": 1})


async def test_tabs_that_keep_replacing_the_process_get_a_conflict_not_a_500() -> None:
    """Other requests with other arguments replace the process each time: a 409 that says
    so, after a bounded number of replacements."""
    target = FakeTarget(FakeChannel(1, MISMATCH), MISMATCH, FakeChannel(9, MISMATCH))
    with pytest.raises(ReplacementConflict) as info:
        await render_page(target, REQUEST, 5.0)  # type: ignore[arg-type]
    assert target.spawned == [1, 101, 102]
    failure = explain(info.value, "App")
    assert failure.status == 409 and failure.reload_hint


async def test_a_process_replaced_twice_under_us_is_a_conflict() -> None:
    """Our process ends twice while starting, and another request's process holds the key:
    it was replaced under us, it did not crash."""
    other = FakeChannel(99, MISMATCH)
    target = FakeTarget(FakeChannel(1, None), None, other)
    with pytest.raises(ReplacementConflict):
        await render_page(target, REQUEST, 5.0)  # type: ignore[arg-type]
    assert other.closed  # only asked whether it was there


async def test_a_process_that_dies_twice_while_starting_alone_is_a_page_error() -> None:
    target = FakeTarget(FakeChannel(1, None), None, None)
    with pytest.raises(PageError):
        await render_page(target, REQUEST, 5.0)  # type: ignore[arg-type]
