"""Exactly-once interactions and numbered pushes, against a real user process, speaking frames
as a worker does: a worker that dies between the App's apply and its reply, tabs that see each
other's effects, pushes made while no page is attached."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from htagweb_asgi.appref import AppRef
from htagweb_asgi.options import AppOptions, Limits, TemplateSettings
from htagweb_asgi.protocol.frames import PUSH_NUMBER, Kind
from htagweb_asgi.web.channel import Channel
from htagweb_asgi.web.pool import ProcessPool
from htagweb_asgi.web.registry import PoolRegistry
from htagweb_asgi.web.routing import MountedApp
from tests.support.client import updated_text
from tests.support.pageparse import ParsedPage

pytestmark = pytest.mark.anyio

APP = MountedApp("", AppRef("tests.support.apps.streaming", "App"), AppOptions())
SCOPE = {"server": ("127.0.0.1", 1234)}
KEY = "fedcba9876543210" * 2
A, B = "a" * 16, "b" * 16
STEP = 10.0


@pytest.fixture
async def pool(runtime_dir: str) -> AsyncIterator[ProcessPool]:
    registry = PoolRegistry(runtime_dir, Limits(), TemplateSettings(lease_grace=0.5))
    yield registry.pool(APP, SCOPE)
    await registry.close()


async def channel_to(pool: ProcessPool) -> Channel:
    return await pool.connect(KEY) or await pool.spawn(KEY)  # HELLO read by the pool


async def page_of(pool: ProcessPool) -> ParsedPage:
    """The App's page as the process renders it (its header line stands for the config)."""
    async with await channel_to(pool) as channel:
        await channel.send_json(Kind.PAGE, {"init": [[], {}]})
        _, payload = await receive(channel, Kind.HTML)
    header, _, html = payload.decode().partition("\n")
    config = f'<script id="htagweb-config" type="application/json">{header}</script>'
    return ParsedPage.parse(config + html)


async def receive(channel: Channel, wanted: Kind) -> tuple[Kind, bytes]:
    """The next frame of kind `wanted` (CHANGES skipped)."""
    with anyio.fail_after(STEP):
        while True:
            kind, payload = await channel.receive()
            if kind is not Kind.CHANGES:
                assert kind is wanted, (kind, payload[:200])
                return kind, payload


async def attach(pool: ProcessPool, rendered: ParsedPage, **fields: Any) -> Channel:
    channel = await channel_to(pool)
    await channel.send_json(Kind.ATTACH, {"instance": rendered.config["instance"], **fields})
    await receive(channel, Kind.OK)
    return channel


def interaction(page: ParsedPage, css: str, iid: str) -> bytes:
    return json.dumps({"iid": iid, "message": json.loads(page.click(css))}).encode()


async def interact(channel: Channel, body: bytes) -> dict[str, Any]:
    await channel.send(Kind.INTERACT, body)
    _, reply = await receive(channel, Kind.REPLY)
    message: dict[str, Any] = json.loads(reply)
    return message


async def test_a_resend_after_the_worker_died_gets_the_first_reply_and_runs_nothing(
    pool: ProcessPool,
) -> None:
    """The worker relaying a click dies while the App applies it (the channel closes before
    the reply); the page's resend through another worker gets that reply, and the App counted
    once. The session change comes with the replayed reply too (the store may have missed it)."""
    page = await page_of(pool)
    click = interaction(page, "slowinc", f"{A}:1")
    dying = await attach(pool, page, subscribe=False)
    await dying.send(Kind.INTERACT, click)
    await dying.aclose()  # the worker is gone; the process has the click in its buffer
    assert (await page_of(pool)).texts["value"] == "1"  # a page waits for the click: applied
    async with await attach(pool, page, subscribe=False) as again:
        await again.send_json(Kind.SESSION, {})  # the store never got the change
        await again.send(Kind.INTERACT, click)
        frames: list[tuple[Kind, bytes]] = []
        with anyio.fail_after(STEP):
            while not frames or frames[-1][0] is not Kind.REPLY:
                frames.append(await again.receive())
        assert [kind for kind, _ in frames] == [Kind.CHANGES, Kind.REPLY]
        assert json.loads(frames[0][1]) == {"count": "1"}
        reply = json.loads(frames[1][1])
        assert reply["reply"] == f"{A}:1" and updated_text(reply["message"]) == ["1"]
        assert await interact(again, click) == reply  # and again: the same, from memory
        shown = await interact(again, interaction(page, "show", f"{A}:2"))
        assert updated_text(shown["message"]) == ["1"]  # the App's session holds it again
    assert (await page_of(pool)).texts["value"] == "1"


async def test_a_resend_whose_reply_is_forgotten_gets_the_app_as_it_is(pool: ProcessPool) -> None:
    """After more interactions than the process remembers, a resend of the first is answered
    with a full rendering of the App, never run a second time."""
    page = await page_of(pool)
    async with await attach(pool, page, subscribe=False) as channel:
        for n in range(1, 71):
            await interact(channel, interaction(page, "inc", f"{A}:{n}"))
        reply = await interact(channel, interaction(page, "inc", f"{A}:1"))
        body = ParsedPage.texts_of(next(iter(reply["message"]["update"].values())))
        assert "70" in body
    assert (await page_of(pool)).texts["value"] == "70"


async def test_each_tab_gets_the_effects_of_the_others_clicks(pool: ProcessPool) -> None:
    """Two pages of one session (one App): a click in A updates B by a numbered push; A gets
    only its reply, a bare client nothing."""
    page = await page_of(pool)
    first = await attach(pool, page, subscribe=True, page=A, resume=page.config["push"])
    second = await attach(pool, page, subscribe=True, page=B, resume=page.config["push"])
    bare = await attach(pool, page, subscribe=True)
    reply = await interact(first, interaction(page, "inc", f"{A}:1"))
    assert updated_text(reply["message"]) == ["1"]
    _, event = await receive(second, Kind.EVENT)
    seq = PUSH_NUMBER.unpack_from(event)[0]
    pushed = json.loads(event[PUSH_NUMBER.size :])
    assert pushed["push"] == seq and updated_text(pushed["message"]) == ["1"]
    reply = await interact(second, interaction(page, "inc", f"{B}:1"))
    assert reply["after"] == seq  # B has every push for it up to that one
    _, event = await receive(first, Kind.EVENT)
    assert updated_text(json.loads(event[PUSH_NUMBER.size :])["message"]) == ["2"]
    for channel in (first, second, bare):
        await channel.aclose()


async def test_pushes_while_no_page_is_there_end_in_one_full_rendering(pool: ProcessPool) -> None:
    """An App pushing every 5 ms with no page attached: the page that comes back gets one
    full rendering (the process kept a bounded number of pushes), then the live ones."""
    page = await page_of(pool)
    async with await attach(pool, page, subscribe=False) as channel:
        await interact(channel, interaction(page, "tick", f"{A}:1"))
    with anyio.fail_after(STEP):  # the log keeps 200: wait for twice as many pushes
        while int((await page_of(pool)).texts["ticks"]) < 400:
            await anyio.sleep(0.05)  # the App's own progress: no event to wait on
    async with await attach(pool, page, subscribe=True, page=A, resume=0) as channel:
        _, first = await receive(channel, Kind.EVENT)
        rendering = json.loads(first[PUSH_NUMBER.size :])
        assert PUSH_NUMBER.unpack_from(first)[0] == rendering["push"] >= 400
        body = ParsedPage.texts_of(next(iter(rendering["message"]["update"].values())))
        assert "stream" in body  # the whole App: its buttons too
        _, second = await receive(channel, Kind.EVENT)
        assert json.loads(second[PUSH_NUMBER.size :])["push"] == rendering["push"] + 1
