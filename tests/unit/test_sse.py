"""The Server-Sent Events stream's relay (web/ssestream.py), with a fake client (ASGI http events)
and a fake process (frames): no server, no process."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
import pytest

from htagweb_asgi.appref import AppRef
from htagweb_asgi.options import AppOptions
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.protocol.frames import PUSH_NUMBER, Kind
from htagweb_asgi.sessions.store import MemoryStore
from htagweb_asgi.web import ssestream
from htagweb_asgi.web.routing import MountedApp
from htagweb_asgi.web.services import PagePosition
from tests.support.eventstream import Event, EventParser
from tests.support.fakeprocess import STEP, FakeProcess, FakeTarget

pytestmark = pytest.mark.anyio
APP = MountedApp("", AppRef("m", "App"), AppOptions())
POSITION = PagePosition("a" * 16, 3)


class FakeClient:
    """The browser's side of one streamed response."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: dict[bytes, bytes] = {}
        self.parser = EventParser()
        self.events: list[Event] = []
        self.ended = anyio.Event()
        self.arrived = anyio.Event()
        self._gone = anyio.Event()

    async def receive(self) -> dict[str, Any]:
        await self._gone.wait()
        return {"type": "http.disconnect"}

    def leaves(self) -> None:
        self._gone.set()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = dict(message["headers"])
            return
        self.events.extend(self.parser.feed(message["body"]))
        self.arrived.set()
        if not message["more_body"]:
            self.ended.set()

    async def next_event(self) -> Event:
        with anyio.fail_after(STEP):
            while not self.events:
                self.arrived = anyio.Event()
                await self.arrived.wait()
        return self.events.pop(0)


@asynccontextmanager
async def streamed(
    hello: bytes | None = None, replacement: FakeProcess | None = None
) -> AsyncIterator[tuple[FakeClient, FakeProcess]]:
    client, process = FakeClient(), FakeProcess()
    stream = ssestream.EventStream(client.send, sealed=hello is not None)  # type: ignore[arg-type]
    await stream.start()
    fake = FakeTarget(process, MemoryStore())
    fake.replacement = replacement  # what answers for the key after `process`
    target = cast(Any, fake)
    async with anyio.create_task_group() as tasks:
        receive = cast(Any, client.receive)
        tasks.start_soon(stream.serve, receive, target, "0" * 32, POSITION, hello, APP)
        yield client, process
        client.leaves()
    assert process.closed


def control(event: Event) -> dict[str, Any]:
    assert event.name == "htagweb", event
    message: dict[str, Any] = json.loads(event.data)
    return message


async def test_the_stream_is_ready_then_carries_numbered_pushes() -> None:
    async with streamed() as (client, process):
        process.answer(Kind.OK, {"pid": 1})
        assert control(await client.next_event()) == {"ready": True}
        process.answer(Kind.EVENT, PUSH_NUMBER.pack(4) + b'{"push":4,"message":{}}')
        assert await client.next_event() == Event("message", '{"push":4,"message":{}}', "4")
        assert client.status == 200
        assert client.headers[b"content-type"].startswith(b"text/event-stream")
        assert client.headers[b"x-accel-buffering"] == b"no"
        kind, attach = process.sent[0]
        assert kind is Kind.ATTACH and attach["resume"] == 3 and attach["subscribe"] is True


async def test_the_processs_end_closes_the_stream_with_its_code() -> None:
    async with streamed() as (client, process):
        process.answer(Kind.OK, {"pid": 1})
        await client.next_event()
        process.answer(Kind.END, {"code": Close.EXPIRED, "reason": "idle"})
        assert control(await client.next_event()) == {"close": Close.EXPIRED, "reason": "idle"}
        with anyio.fail_after(STEP):
            await client.ended.wait()


async def test_a_crash_and_an_unknown_instance_are_told() -> None:
    async with streamed() as (client, process):
        process.answer(Kind.OK, {"pid": 1})
        await client.next_event()
        process.die()
        assert control(await client.next_event())["close"] == Close.CRASHED
    async with streamed() as (client, process):
        process.answer(Kind.GONE, {"reason": "replaced"})
        assert control(await client.next_event())["close"] == Close.NO_PROCESS


async def test_a_parano_stream_agrees_on_keys_before_it_is_ready() -> None:
    hello = b"\x01" + b"k" * 32
    async with streamed(hello) as (client, process):
        process.answer(Kind.OK, {"pid": 1})
        process.answer(Kind.REPLY, b"\x02welcome")
        ready = control(await client.next_event())
        assert base64.b64decode(ready["welcome"]) == b"\x02welcome"
        assert (Kind.INTERACT, hello) in process.sent
        process.answer(Kind.EVENT, PUSH_NUMBER.pack(4) + b"\x03sealed")
        assert base64.b64decode((await client.next_event()).data) == b"\x03sealed"


async def test_a_refused_key_agreement_closes_the_stream() -> None:
    async with streamed(b"\x01" + b"k" * 32) as (client, process):
        process.answer(Kind.OK, {"pid": 1})
        process.answer(Kind.REJECT, {"code": Close.CHANNEL_BROKEN, "reason": "bad"})
        assert control(await client.next_event())["close"] == Close.CHANNEL_BROKEN


async def test_a_client_that_leaves_ends_the_relay(monkeypatch: pytest.MonkeyPatch) -> None:
    """...and an idle stream is kept alive with comments meanwhile."""
    monkeypatch.setattr(ssestream, "KEEPALIVE_EVERY", 0.01)
    async with streamed() as (client, process):
        process.answer(Kind.OK, {"pid": 1})
        await client.next_event()
        with anyio.fail_after(STEP):
            while client.parser.comments < 2:
                client.arrived = anyio.Event()
                await client.arrived.wait()


async def test_a_stream_ends_after_its_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    """...with no close event: the page opens the next one at once (a server that stops
    waits for open responses to end: uvicorn does)."""
    monkeypatch.setattr(ssestream, "STREAM_LIFETIME", 0.05)
    async with streamed() as (client, process):
        process.answer(Kind.OK, {"pid": 1})
        assert control(await client.next_event()) == {"ready": True}
        with anyio.fail_after(STEP):
            await client.ended.wait()
        assert client.events == [] and process.closed


async def test_a_process_that_another_page_replaced_is_told_replaced() -> None:
    """As on a websocket (web/target.why_gone): another process answers for the key, so a
    page of the session with other arguments replaced this one; reloading would replace it
    back."""
    replacement = FakeProcess(pid=4343)
    async with streamed(replacement=replacement) as (client, process):
        process.answer(Kind.OK, {"pid": 1})
        await client.next_event()
        process.die()
        assert control(await client.next_event())["close"] == Close.REPLACED
    assert replacement.closed  # only asked which process it is


async def test_a_page_over_its_connections_is_refused_with_too_many() -> None:
    """The process refuses to attach one more stream to the page (max_websockets_per_page)."""
    async with streamed() as (client, process):
        process.answer(Kind.REJECT, {"code": Close.TOO_MANY, "reason": "too many"})
        assert control(await client.next_event()) == {"close": Close.TOO_MANY, "reason": "too many"}
        with anyio.fail_after(STEP):
            await client.ended.wait()
