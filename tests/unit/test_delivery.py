"""Pushes to a user process's pages: numbered, caught up on attach (proc/delivery.py), with
fake connections."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from htagweb_asgi.proc.delivery import Delivery, Peer
from htagweb_asgi.protocol.frames import PUSH_NUMBER, FrameDecoder, Kind

pytestmark = pytest.mark.anyio
A, B = "a" * 16, "b" * 16


class FakePeer:
    """A host connection: what is written to it, decoded."""

    def __init__(self, parano: Any = None, broken: bool = False) -> None:
        self.parano = parano
        self.broken = broken
        self.closed = False  # closed by the host: a write fails at once (user.Connection)
        self._decoder = FrameDecoder()
        self.frames: list[tuple[Kind, bytes]] = []

    def write(self, frame: bytes) -> None:
        if self.closed:
            raise ConnectionResetError()
        self.frames.extend(self._decoder.feed(frame))

    async def drain(self) -> None:
        if self.broken:
            raise ConnectionResetError()

    def pushes(self) -> list[tuple[int, Any]]:
        """(number, htag's actions) of the numbered pushes received."""
        out = []
        for kind, payload in self.frames:
            assert kind is Kind.EVENT
            seq = PUSH_NUMBER.unpack_from(payload)[0]
            message = json.loads(payload[PUSH_NUMBER.size :])
            assert message["push"] == seq
            out.append((seq, message["message"]))
        return out


class FakeSeal:
    def seal(self, plaintext: bytes) -> bytes:
        return b"sealed:" + plaintext


def delivery() -> Delivery:
    return Delivery(lambda: b'"everything"')


def peer(**kwargs: Any) -> Any:
    return cast(Peer, FakePeer(**kwargs))


async def test_a_page_gets_what_it_missed_then_the_new_pushes_in_order() -> None:
    pushes = delivery()
    for n in (1, 2, 3):
        await pushes.push(b"%d" % n)
    page = peer()
    pushes.start(pushes.subscribe(page, A, resume=1))
    await pushes.push(b"4")
    assert page.pushes() == [(2, 2), (3, 3), (4, 4)]


async def test_a_page_that_missed_too_much_gets_one_full_rendering() -> None:
    pushes = delivery()
    for n in range(300):  # more than the log keeps
        await pushes.push(b"%d" % n)
    page = peer()
    pushes.start(pushes.subscribe(page, A, resume=0))
    assert page.pushes() == [(300, "everything")]


async def test_a_bare_client_gets_htags_actions_and_no_effects_of_interactions() -> None:
    pushes = delivery()
    bare = peer()
    pushes.start(pushes.subscribe(bare, None, resume=None))
    await pushes.push(b"[1]")
    await pushes.push(b"[2]", origin=A, echo=True)
    assert bare.frames == [(Kind.PUSH, b"[1]")]


async def test_an_interactions_effect_goes_to_the_other_pages_only() -> None:
    pushes = delivery()
    mine, other = peer(), peer()
    pushes.start(pushes.subscribe(mine, A, resume=0))
    assert not pushes.others_watching(A)
    pushes.start(pushes.subscribe(other, B, resume=0))
    assert pushes.others_watching(A)
    await pushes.push(b'"effect"', origin=A, echo=True)
    assert mine.frames == [] and other.pushes() == [(1, "effect")]


async def test_nothing_goes_before_the_key_agreement_then_everything_sealed() -> None:
    pushes = delivery()
    page = peer(parano=FakeSeal())
    subscriber = pushes.subscribe(page, A, resume=0)
    await pushes.push(b"1")
    assert page.frames == []
    pushes.start(subscriber)
    await pushes.push(b"2")
    sealed = [payload[PUSH_NUMBER.size :] for _, payload in page.frames]
    assert sealed == [b'sealed:{"push":1,"message":1}', b'sealed:{"push":2,"message":2}']


async def test_a_connection_that_broke_is_dropped() -> None:
    pushes = delivery()
    broken = peer(broken=True)
    pushes.start(pushes.subscribe(broken, A, resume=0))
    await pushes.push(b"1")
    assert pushes.subscriber(broken) is None


async def test_a_connection_the_host_closed_is_dropped_and_the_others_get_the_push() -> None:
    pushes = delivery()
    closed, other = peer(), peer()
    pushes.start(pushes.subscribe(closed, A, resume=0))
    pushes.start(pushes.subscribe(other, B, resume=0))
    closed.closed = True
    assert await pushes.push(b"1") == 1  # the App's update() does not fail for it
    assert pushes.subscriber(closed) is None
    assert [seq for seq, _ in other.pushes()] == [1]
