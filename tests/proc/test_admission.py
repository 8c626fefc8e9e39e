"""Admission control with real template and user processes: page loads that never attach
are reclaimed, each address has a budget and a share, eviction spares engaged users, a page
holds a bounded number of websockets, a replaced page is told why, the cap fits the
machine."""

from __future__ import annotations

import json
import os
from typing import Any

import anyio
import pytest

from htagweb_asgi.options import Admission
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.protocol.frames import Kind
from htagweb_asgi.protocol.pagerequest import PageRequest
from htagweb_asgi.web.page import render_page
from htagweb_asgi.web.pool import PoolLimited, ProcessPool, UserChannel
from tests.support.pools import COUNTER, MakeRegistry
from tests.support.targets import target
from tests.support.waiting import eventually_async, pid_alive, pid_gone

pytestmark = pytest.mark.anyio

SCOPE = {"server": ("127.0.0.1", 4322)}


def key(n: int) -> str:
    return f"{n:032x}"


def pool_of(
    registries: MakeRegistry,
    max_processes: int | None = 50,
    evict_after: float = 3600.0,
    **admission: Any,
) -> ProcessPool:
    registry = registries(
        max_processes=max_processes,
        admission=Admission(**admission),
        spare_processes=0,
        evict_after=evict_after,
    )
    return registry.pool(COUNTER, SCOPE)


async def load(pool: ProcessPool, n: int, client: str = "", query: str = "") -> tuple[int, str]:
    """User n loads the page (from `client`); return the pid that rendered it and the
    page's instance."""
    init: tuple[tuple[Any, ...], dict[str, Any]] = ((query,), {}) if query else ((), {})
    page = await render_page(target(pool, key(n), client=client), PageRequest(init), 10.0)
    return int(page.html.split("pid=")[1].split("<")[0]), page.instance


async def attach(pool: ProcessPool, n: int, instance: str, subscribe: bool = True) -> UserChannel:
    """What the websocket of user n's page does: ATTACH (the caller closes the channel)."""
    channel = await pool.connect(key(n))
    assert channel is not None
    await channel.send_json(Kind.ATTACH, {"instance": instance, "subscribe": subscribe})
    return channel


async def test_a_page_that_never_attaches_is_reclaimed_an_attached_one_stays(
    registries: MakeRegistry,
) -> None:
    pool = pool_of(registries, unattached_timeout=1.0)
    crawler, _ = await load(pool, 1)
    user, instance = await load(pool, 2)
    async with await attach(pool, 2, instance, subscribe=False) as channel:
        assert (await channel.receive())[0] is Kind.OK
    await eventually_async(lambda: pid_gone(crawler), 10, message="never reclaimed")
    listing = (await pool.listing())["processes"]
    assert [(p["pid"], p["attached"]) for p in listing] == [(user, True)]


async def test_each_address_a_burst_then_429_another_address_is_not_affected(
    registries: MakeRegistry,
) -> None:
    pool = pool_of(registries, new_process_burst=2, new_process_rate=0.01)
    await load(pool, 1, "10.0.0.1")
    await load(pool, 2, "10.0.0.1")
    with pytest.raises(PoolLimited) as refused:
        await load(pool, 3, "10.0.0.1")
    assert 90 <= refused.value.retry_after <= 100
    with pytest.raises(PoolLimited):  # now known to this worker: refused without asking
        await load(pool, 4, "10.0.0.1")
    await load(pool, 5, "10.0.0.2")
    await load(pool, 1, "10.0.0.1")  # a reload of a live process costs nothing


async def test_an_address_at_its_share_makes_room_with_its_own_idle_process(
    registries: MakeRegistry,
) -> None:
    """10 processes, 20 % each: the third page load of an address ends its least used."""
    pool = pool_of(registries, max_processes=10, evict_after=0.0, client_share=0.2)
    first, _ = await load(pool, 1, "10.0.0.1")
    second, instance = await load(pool, 2, "10.0.0.1")
    other, _ = await load(pool, 3, "10.0.0.2")
    async with await attach(pool, 2, instance, subscribe=False) as channel:
        assert (await channel.receive())[0] is Kind.OK
    third, _ = await load(pool, 4, "10.0.0.1")
    await eventually_async(lambda: pid_gone(first), 10, message="the share was not kept")
    assert all(pid_alive(pid) for pid in (second, third, other))


async def test_at_its_share_with_everyone_engaged_an_address_gets_429(
    registries: MakeRegistry,
) -> None:
    pool = pool_of(registries, max_processes=10, client_share=0.2)
    await load(pool, 1, "10.0.0.1")
    await load(pool, 2, "10.0.0.1")
    with pytest.raises(PoolLimited, match="share"):
        await load(pool, 3, "10.0.0.1")


async def test_at_the_cap_never_attached_go_first_engaged_users_never(
    registries: MakeRegistry,
) -> None:
    pool = pool_of(registries, max_processes=3, evict_after=0.0)
    engaged, instance = await load(pool, 1)
    crawled, _ = await load(pool, 2)
    reader, reader_instance = await load(pool, 3)
    async with await attach(pool, 1, instance, subscribe=False) as channel:
        assert (await channel.receive())[0] is Kind.OK
    async with await attach(pool, 3, reader_instance, subscribe=False) as channel:
        assert (await channel.receive())[0] is Kind.OK
    await load(pool, 4)
    await eventually_async(lambda: pid_gone(crawled), 10, message="the crawler stayed")
    assert pid_alive(engaged) and pid_alive(reader)


async def test_a_page_holds_a_bounded_number_of_websockets(registries: MakeRegistry) -> None:
    pool = pool_of(registries, max_websockets_per_page=2)
    _, instance = await load(pool, 1)
    async with await attach(pool, 1, instance) as one, await attach(pool, 1, instance) as two:
        assert (await one.receive())[0] is Kind.OK and (await two.receive())[0] is Kind.OK
        async with await attach(pool, 1, instance) as three:
            kind, payload = await three.receive()
            assert kind is Kind.REJECT and json.loads(payload)["code"] == Close.TOO_MANY
        async with await attach(pool, 1, instance, subscribe=False) as http_page:
            assert (await http_page.receive())[0] is Kind.OK  # an HTTP exchange holds none


async def test_the_page_of_a_replaced_process_is_told_replaced_not_crashed(
    registries: MakeRegistry,
) -> None:
    pool = pool_of(registries)
    old, instance = await load(pool, 1, query="a")
    async with await attach(pool, 1, instance) as websocket:
        assert (await websocket.receive())[0] is Kind.OK
        new, _ = await load(pool, 1, query="b")
        with anyio.fail_after(10):
            kind, payload = await websocket.receive()
    assert kind is Kind.END and json.loads(payload)["code"] == Close.REPLACED
    assert new != old
    await eventually_async(lambda: pid_gone(old), 10)


async def test_a_rotated_session_keeps_its_process_under_the_new_key(
    registries: MakeRegistry,
) -> None:
    pool = pool_of(registries)
    pid, _ = await load(pool, 1)
    assert await pool.rename(key(1), pid, key(2), "new-session-tag")
    assert not os.path.exists(pool.socket_path(key(1)))
    assert await pool.connect(key(1)) is None
    assert (await load(pool, 2))[0] == pid  # the same process, reached by its new key
    assert not await pool.rename(key(1), pid, key(3), "x")  # nothing left under the old key


async def test_without_max_processes_the_cap_fits_the_machine(registries: MakeRegistry) -> None:
    pool = pool_of(registries, max_processes=None)
    await load(pool, 1)
    cap = (await pool.listing())["max_processes"]
    assert 8 <= cap <= 10_000
