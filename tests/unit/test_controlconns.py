"""A worker's kept connections to its template (web/controlconns.py), against a stand-in
template on socket pairs that answers each request with its connection's number and count."""

from __future__ import annotations

import socket
from typing import Any

import anyio
import pytest

from htagweb_asgi.protocol.frames import Kind
from htagweb_asgi.web.channel import Channel, ChannelClosed
from htagweb_asgi.web.controlconns import ControlConnections

pytestmark = pytest.mark.anyio


class Template:
    """Accepts connections (socket pairs) and answers every request on them, in order,
    `hang` makes it keep the next request unanswered until told; with `together` set, it
    answers nothing before that many requests arrived (so they are all in flight at once)."""

    def __init__(self, tg: anyio.abc.TaskGroup) -> None:
        self.tg = tg
        self.connections: list[Channel] = []
        self.hang = False
        self.release = anyio.Event()
        self.together = 0
        self.received = 0
        self.all_in = anyio.Event()
        self.ended: dict[int, anyio.Event] = {}

    async def connect(self) -> Channel:
        ours, theirs = socket.socketpair()
        server = Channel(theirs)
        self.connections.append(server)
        self.ended[len(self.connections)] = anyio.Event()
        self.tg.start_soon(self._serve, server, len(self.connections))
        return Channel(ours)

    async def _serve(self, server: Channel, number: int) -> None:
        count = 0
        try:
            while True:
                await server.receive()
                count += 1
                self.received += 1
                if self.received >= self.together:
                    self.all_in.set()
                await self.all_in.wait()
                if self.hang:
                    self.hang = False
                    await self.release.wait()
                await server.send_json(Kind.DONE, {"conn": number, "count": count})
        except ChannelClosed:
            await server.aclose()
            self.ended[number].set()


async def ask(controls: ControlConnections) -> Any:
    kind, reply = await controls.request(Kind.STATUS, {})
    assert kind is Kind.DONE
    return reply


async def test_one_connection_serves_request_after_request() -> None:
    async with anyio.create_task_group() as tg:
        template = Template(tg)
        controls = ControlConnections(template.connect)
        replies = [await ask(controls) for _ in range(3)]
        assert replies == [{"conn": 1, "count": n} for n in (1, 2, 3)]
        assert len(template.connections) == 1
        await controls.aclose()


async def test_a_connection_the_template_closed_is_replaced() -> None:
    async with anyio.create_task_group() as tg:
        template = Template(tg)
        controls = ControlConnections(template.connect)
        await ask(controls)
        await template.connections[0].aclose()  # a renewed or restarted template
        assert await ask(controls) == {"conn": 2, "count": 1}
        await controls.aclose()


async def test_a_request_cancelled_before_its_reply_does_not_keep_its_connection() -> None:
    async with anyio.create_task_group() as tg:
        template = Template(tg)
        controls = ControlConnections(template.connect)
        template.hang = True
        with anyio.move_on_after(0.05):
            await ask(controls)
        assert len(controls) == 0
        template.release.set()  # the late reply goes to a closed connection, not to...
        with anyio.fail_after(5):
            assert await ask(controls) == {"conn": 2, "count": 1}  # ...the next request
            await template.ended[1].wait()
        await controls.aclose()


async def test_requests_at_once_take_their_own_connections_and_a_few_are_kept() -> None:
    async with anyio.create_task_group() as tg:
        template = Template(tg)
        controls = ControlConnections(template.connect, max_idle=2)
        template.together = 5
        replies: list[Any] = []

        async def one() -> None:
            replies.append(await ask(controls))

        async with anyio.create_task_group() as crowd:
            for _ in range(5):
                crowd.start_soon(one)
        assert sorted(r["conn"] for r in replies) == [1, 2, 3, 4, 5]
        assert len(controls) == 2
        await controls.aclose()
        assert len(controls) == 0
