"""The websocket relay's protocol steps, with a fake page (ASGI events) and a fake process
(frames): no server, no process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
import anyio.lowlevel
import pytest

from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.protocol.frames import PUSH_NUMBER, Kind
from htagweb_asgi.sessions.store import MemoryStore
from htagweb_asgi.web.drain import Drain
from htagweb_asgi.web.relay import Relay
from htagweb_asgi.web.services import PagePosition
from tests.support.fakeprocess import STEP, FakeProcess, FakeTarget

pytestmark = pytest.mark.anyio


class FakePage:
    """The browser side: ASGI websocket events in, messages out."""

    def __init__(self) -> None:
        self._in, self._out = anyio.create_memory_object_stream[dict[str, Any]](10)
        self.messages: list[dict[str, Any]] = []
        self.arrived = anyio.Event()

    def says(self, text: str | None = None, data: bytes | None = None) -> None:
        self._in.send_nowait({"type": "websocket.receive", "text": text, "bytes": data})

    def leaves(self) -> None:
        self._in.send_nowait({"type": "websocket.disconnect", "code": 1001})

    async def receive(self) -> dict[str, Any]:
        return await self._out.receive()

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.arrived.set()

    async def next_text(self) -> str:
        with anyio.fail_after(STEP):
            while not [m for m in self.messages if m.get("text")]:
                self.arrived = anyio.Event()
                await self.arrived.wait()
        message = next(m for m in self.messages if m.get("text"))
        self.messages.remove(message)
        return str(message["text"])

    async def asked_to_close(self) -> tuple[int, str]:
        control = json.loads(await self.next_text())["htagweb"]
        return control["close"], control["reason"]


@asynccontextmanager
async def relayed(
    limit: float = STEP, position: PagePosition | None = None, drain: Drain | None = None
) -> AsyncIterator[tuple[FakePage, FakeProcess, Any]]:
    page, process, store = FakePage(), FakeProcess(), MemoryStore()
    target = FakeTarget(process, store)
    relay = Relay(page.receive, page.send, timeout=limit, max_frame=1024, drain=drain)  # type: ignore[arg-type]
    process.answer(Kind.OK, {"pid": process.pid})
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(relay.run, cast(Any, target), "0" * 32, position or PagePosition())
        assert json.loads(await page.next_text()) == {"htagweb": {"ready": True}}
        yield page, process, target
        page.leaves()
    assert process.closed


async def test_an_interaction_goes_to_the_process_and_its_reply_to_the_page() -> None:
    async with relayed() as (page, process, _):
        page.says('{"id": 1}')
        process.answer(Kind.REPLY, b'{"update": {}}')
        assert await page.next_text() == '{"update": {}}'
        assert (Kind.INTERACT, b'{"id": 1}') in process.sent
        assert process.sent[0][0] is Kind.ATTACH


async def test_the_apps_session_changes_are_stored_before_the_page_sees_the_reply() -> None:
    async with relayed() as (page, process, target):
        page.says('{"id": 1}')
        process.answer(Kind.CHANGES, {"n": "1"})
        process.answer(Kind.REPLY, b"{}")
        await page.next_text()
        assert target.sessions.store.load("sid") == {"n": "1"}


async def test_a_push_reaches_the_page_without_an_interaction() -> None:
    async with relayed() as (page, process, _):
        process.answer(Kind.PUSH, b'{"pushed": 1}')
        assert await page.next_text() == '{"pushed": 1}'


async def test_a_process_that_dies_is_reported_as_a_crash() -> None:
    async with relayed() as (page, process, _):
        process.die()
        code, _ = await page.asked_to_close()
        assert code == Close.CRASHED


async def test_a_process_that_another_page_replaced_is_not_reported_as_a_crash() -> None:
    """A page of the same session with other arguments replaced the process (the template
    kills it): this page is told so, and not to reload (it would replace the other's)."""
    async with relayed() as (page, process, target):
        target.replacement = FakeProcess(pid=4343)
        process.die()
        code, reason = await page.asked_to_close()
        assert code == Close.REPLACED and "other arguments" in reason
        assert target.replacement.closed  # only asked which process it is


async def test_a_dying_process_still_taking_a_connection_is_a_crash() -> None:
    """Its listening socket outlives the connection by a moment: what answers there is the
    same process (or nothing), not another page's."""
    async with relayed() as (page, process, target):
        target.replacement = FakeProcess(pid=process.pid)
        process.die()
        code, _ = await page.asked_to_close()
        assert code == Close.CRASHED


async def test_a_process_ended_at_its_limit_tells_the_page_which() -> None:
    """Its template classified the death: the page gets LIMIT and the message, not CRASHED."""
    async with relayed() as (page, process, target):
        target.limit = "This session reached its memory limit."
        process.die()
        assert await page.asked_to_close() == (Close.LIMIT, target.limit)


async def test_a_draining_worker_asks_its_pages_to_reconnect_after_a_jitter() -> None:
    """Once the interaction in flight is answered, the page gets its share of the spread."""
    drain = Drain(spread=2.0, rng=lambda: 0.25)
    async with relayed(drain=drain) as (page, process, _):
        page.says('{"id": 1}')
        with anyio.fail_after(STEP):
            while (Kind.INTERACT, b'{"id": 1}') not in process.sent:  # in flight: drain now
                await anyio.lowlevel.checkpoint()
        drain.begin("test")
        process.answer(Kind.REPLY, b'{"update": {}}')
        assert await page.next_text() == '{"update": {}}'  # the reply first
        assert json.loads(await page.next_text()) == {"htagweb": {"reconnect": {"after_ms": 500}}}


async def test_a_slow_interaction_kills_the_process_and_says_why() -> None:
    async with relayed(limit=0.1) as (page, process, target):
        page.says('{"id": 1}')
        code, reason = await page.asked_to_close()
        assert code == Close.TIMED_OUT and "0.1 s" in reason
        assert target.killed == [process.pid]


async def test_a_click_while_the_host_asks_why_the_process_ended_waits_for_nothing() -> None:
    """The process ended; asking its template why takes a while (the template was killed
    too: a new one starts). A click sent meanwhile goes nowhere: it must not wait for a
    reply that cannot come, then report a timeout and kill a process (the page is told
    what ended and leaves at once)."""
    asked, answer = anyio.Event(), anyio.Event()

    async def slow_limit_message(pid: int | None) -> str | None:
        asked.set()
        await answer.wait()
        return None

    async with relayed(limit=1.0) as (page, process, target):
        target.limit_message = slow_limit_message
        process.die()
        with anyio.fail_after(STEP):
            await asked.wait()
        page.says('{"id": 1}')
        await anyio.wait_all_tasks_blocked()
        answer.set()
        code, _ = await page.asked_to_close()
        assert code == Close.CRASHED
        with anyio.fail_after(0.5):  # under the interaction's time limit
            page.leaves()
            while not process.closed:
                await anyio.sleep(0.01)
    assert target.killed == []


async def test_a_binary_message_to_a_plain_app_is_refused() -> None:
    async with relayed() as (page, process, _):
        page.says(data=b"\x00")
        code, _ = await page.asked_to_close()
        assert code == Close.UNSUPPORTED_DATA
        assert all(kind is not Kind.INTERACT for kind, _ in process.sent)


async def test_a_message_over_the_frame_limit_is_refused() -> None:
    async with relayed() as (page, _, _):
        page.says("x" * 1025)
        code, _ = await page.asked_to_close()
        assert code == Close.MESSAGE_TOO_BIG


async def test_a_process_refusal_ends_the_page_with_its_code() -> None:
    async with relayed() as (page, process, _):
        page.says("{nope")
        process.answer(Kind.REJECT, {"code": Close.INVALID_PAYLOAD, "reason": "not JSON"})
        assert await page.asked_to_close() == (Close.INVALID_PAYLOAD, "not JSON")


async def test_a_page_of_another_instance_is_asked_to_reload() -> None:
    page, process = FakePage(), FakeProcess()
    target = FakeTarget(process, MemoryStore())
    relay = Relay(page.receive, page.send, timeout=STEP, max_frame=1024)  # type: ignore[arg-type]
    process.answer(Kind.GONE, {"reason": "replaced"})
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(relay.run, cast(Any, target), "0" * 32)
        code, _ = await page.asked_to_close()
        page.leaves()
    assert code == Close.NO_PROCESS and process.closed


async def test_a_page_that_numbers_pushes_says_where_it_stands_and_gets_them_unwrapped() -> None:
    """ATTACH carries the page's token and last push; an EVENT's number stays in the worker
    (the page reads it in the message)."""
    position = PagePosition(page="a" * 16, resume=41)
    async with relayed(position=position) as (page, process, _):
        process.answer(Kind.EVENT, PUSH_NUMBER.pack(42) + b'{"push":42,"message":{}}')
        assert await page.next_text() == '{"push":42,"message":{}}'
        attach = process.sent[0]
        assert attach[0] is Kind.ATTACH
        assert attach[1]["resume"] == 41 and attach[1]["page"] == "a" * 16


async def test_a_bare_client_says_nothing_of_pushes() -> None:
    async with relayed() as (_, process, _):
        assert "resume" not in process.sent[0][1]


def scope(query: bytes, last_event_id: bytes | None = None) -> dict[str, Any]:
    headers = [(b"last-event-id", last_event_id)] if last_event_id is not None else []
    return {"query_string": query, "headers": headers}


@pytest.mark.parametrize(
    ("query", "last_event_id", "expected"),
    [
        (b"i=x&t=" + b"a" * 16 + b"&p=3", None, PagePosition("a" * 16, 3)),
        (b"t=" + b"a" * 16 + b"&p=3", b"9", PagePosition("a" * 16, 9)),  # EventSource's: fresher
        (b"t=" + b"a" * 16 + b"&p=-1", None, PagePosition("a" * 16, -1)),  # render it all
        (b"t=A&p=3", None, PagePosition(None, 3)),
        (b"p=x", b"nope", PagePosition()),
        (b"p=" + b"9" * 30, None, PagePosition()),
    ],
)
def test_where_a_page_stands_is_read_strictly(
    query: bytes, last_event_id: bytes | None, expected: PagePosition
) -> None:
    assert PagePosition.of(scope(query, last_event_id)) == expected
