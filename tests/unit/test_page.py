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
        self.existed = True

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
    """The processes of one key: `first` is there when the page is asked for; each spawn
    returns the next of `spawned` (a process another request left there has ``existed``)."""

    def __init__(self, first: FakeChannel | None, spawned: list[FakeChannel]) -> None:
        self.first = first
        self.to_spawn = spawned
        self.replaced: list[int | None] = []
        self.killed: list[int | None] = []
        self.sessions = Sessions(secret_key="k" * 32, store=MemoryStore())

    def session_sync(self) -> SessionSync:
        return SessionSync(self.sessions, "sid")

    async def connect(self) -> FakeChannel | None:
        return self.first

    async def spawn(self, replace_pid: int | None = None, mismatch: bool = False) -> FakeChannel:
        self.replaced.append(replace_pid)
        return self.to_spawn.pop(0)

    async def kill(self, pid: int | None) -> None:
        self.killed.append(pid)

    async def raise_if_limited(self, pid: int | None) -> None:
        pass  # these processes end by themselves or are replaced, never at a limit

    async def stop_overdue(self, pid: int | None, seconds: float, what: str) -> str:
        raise AssertionError("nothing here takes too long")


MISMATCH = (Kind.MISMATCH, {"pid": 1})


def fresh(pid: int, reply: tuple[Kind, Any] | None) -> FakeChannel:
    channel = FakeChannel(pid, reply)
    channel.existed = False
    return channel


async def test_tabs_that_keep_replacing_the_process_get_a_conflict_not_a_500() -> None:
    """Another request replaces each process we make before we ask it for the page (it has
    their arguments: a mismatch): a 409 that says so, after a bounded number of tries."""
    spawned = [fresh(2, MISMATCH), fresh(3, MISMATCH), fresh(4, MISMATCH)]
    target = FakeTarget(FakeChannel(1, MISMATCH), spawned)
    with pytest.raises(ReplacementConflict) as info:
        await render_page(target, REQUEST, 5.0)  # type: ignore[arg-type]
    assert target.replaced == [1, 2, 3]
    assert all(channel.closed for channel in spawned)  # the last one too
    failure = explain(info.value, "App")
    assert failure.status == 409 and failure.reload_hint


async def test_processes_killed_under_us_by_replacements_are_a_conflict() -> None:
    """Ours ends while starting, each time because another request replaced it: the next
    spawn finds that request's process there, though a connect at that moment may find no
    process at all (the template is still starting it). Not a crash."""
    others = [FakeChannel(2, None), FakeChannel(3, None), FakeChannel(4, None)]
    target = FakeTarget(None, [fresh(1, None), *others])
    with pytest.raises(ReplacementConflict):
        await render_page(target, REQUEST, 5.0)  # type: ignore[arg-type]


async def test_a_process_that_ends_by_itself_twice_is_a_page_error() -> None:
    """Nobody replaced it (each spawn starts a fresh one): the App cannot start."""
    spawned = [fresh(2, None), fresh(3, None)]
    target = FakeTarget(None, [fresh(1, None), *spawned])
    with pytest.raises(PageError):
        await render_page(target, REQUEST, 5.0)  # type: ignore[arg-type]
    assert spawned[-1].closed and target.killed == [None]  # the one started last is ended


async def test_a_changed_query_replaces_the_process_once() -> None:
    target = FakeTarget(
        FakeChannel(1, MISMATCH), [fresh(2, (Kind.HTML, b'{"instance": "i"}\n<p>'))]
    )
    page = await render_page(target, REQUEST, 5.0)  # type: ignore[arg-type]
    assert (page.instance, page.html, target.replaced) == ("i", "<p>", [1])
