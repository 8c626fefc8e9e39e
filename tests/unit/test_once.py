"""Numbered interactions run once however often they are sent (proc/once.py; asyncio, as the
user process)."""

from __future__ import annotations

import asyncio

import pytest

from htagweb_asgi.proc.once import Once
from htagweb_asgi.proc.pagewire import InteractionId
from htagweb_asgi.proc.replies import Answer, ReplyCache

pytestmark = pytest.mark.anyio
IID = InteractionId("a" * 16, 1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Handler:
    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()

    async def run(self) -> Answer:
        self.runs += 1
        await self.release.wait()
        return Answer(b"reply %d" % self.runs, after=0)

    @staticmethod
    async def forgotten() -> Answer:
        return Answer(b"everything", after=0)


async def test_a_resend_gets_the_first_answer_without_a_second_run() -> None:
    once, handler = Once(), Handler()
    handler.release.set()
    assert await once.answer(IID, handler.run, handler.forgotten) == (Answer(b"reply 1", 0), False)
    assert await once.answer(IID, handler.run, handler.forgotten) == (Answer(b"reply 1", 0), True)
    assert handler.runs == 1


async def test_a_resend_during_the_first_run_waits_for_its_answer() -> None:
    once, handler = Once(), Handler()
    first = asyncio.ensure_future(once.answer(IID, handler.run, handler.forgotten))
    second = asyncio.ensure_future(once.answer(IID, handler.run, handler.forgotten))
    await asyncio.sleep(0)
    assert not first.done() and not second.done()
    handler.release.set()
    assert (await first, await second) == (
        (Answer(b"reply 1", 0), False),
        (Answer(b"reply 1", 0), True),
    )
    assert handler.runs == 1


async def test_a_resend_whose_answer_is_forgotten_is_not_run_again() -> None:
    once, handler = Once(ReplyCache(max_replies=0)), Handler()
    handler.release.set()
    await once.answer(IID, handler.run, handler.forgotten)
    assert await once.answer(IID, handler.run, handler.forgotten) == (
        Answer(b"everything", 0),
        True,
    )
    assert handler.runs == 1


async def test_a_run_cancelled_with_the_process_cancels_its_waiters() -> None:
    once, handler = Once(), Handler()
    first = asyncio.ensure_future(once.answer(IID, handler.run, handler.forgotten))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(once.answer(IID, handler.run, handler.forgotten))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
