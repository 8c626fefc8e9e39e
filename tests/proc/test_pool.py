"""The process layer with real processes: template, fork, kill, replace, caps, clean stop."""

from __future__ import annotations

import os
import signal

import anyio
import pytest

from htagweb_asgi.protocol import control
from htagweb_asgi.protocol.frames import Kind
from htagweb_asgi.web.channel import Channel, ChannelClosed
from htagweb_asgi.web.pool import PoolFull, ProcessPool
from htagweb_asgi.web.registry import PoolRegistry
from tests.support.lease_holder import lease_holder
from tests.support.pools import COUNTER, MakeRegistry
from tests.support.waiting import eventually_async, pid_alive, pid_gone

pytestmark = pytest.mark.anyio

SCOPE: dict[str, tuple[str, int]] = {"server": ("127.0.0.1", 1234)}
KEY = "0123456789abcdef" * 2


async def pid_of(pool: ProcessPool, key: str) -> int:
    channel = await pool.connect(key)
    assert channel is not None
    async with channel:
        await channel.send_json(Kind.PAGE, {"init": [[], {}]})
        kind, _ = await channel.receive()
    assert kind is Kind.HTML and channel.pid is not None
    return channel.pid


async def test_concurrent_spawns_of_one_key_start_one_process(registry: PoolRegistry) -> None:
    """20 requests at once for one (session, App): exactly one process answers them all."""
    pool = registry.pool(COUNTER, SCOPE)
    pids = []

    async def spawn_and_ask() -> None:
        channel = await pool.spawn(KEY)
        await channel.aclose()
        pids.append(await pid_of(pool, KEY))

    async with anyio.create_task_group() as tasks:
        for _ in range(20):
            tasks.start_soon(spawn_and_ask)
    assert len(set(pids)) == 1 and pid_alive(pids[0])
    assert [entry["pid"] for entry in (await pool.listing())["processes"]] == [pids[0]]


async def test_kill_and_replace_only_touch_the_named_process(registry: PoolRegistry) -> None:
    pool = registry.pool(COUNTER, SCOPE)
    assert await pool.connect(KEY) is None
    await (await pool.spawn(KEY)).aclose()
    first = await pid_of(pool, KEY)
    await (await pool.spawn(KEY, replace_pid=first)).aclose()
    second = await pid_of(pool, KEY)
    assert second != first
    await eventually_async(lambda: pid_gone(first))
    await pool.kill(KEY, first)  # a stale pid: the current process must survive
    assert pid_alive(second)
    await pool.kill(KEY, second)
    await eventually_async(lambda: pid_gone(second))
    assert await pool.connect(KEY) is None


async def test_the_cap_refuses_new_processes(registries: MakeRegistry) -> None:
    pool = registries(max_processes=3).pool(COUNTER, SCOPE)
    for n in range(3):
        await (await pool.spawn(f"{n:032x}")).aclose()
    with pytest.raises(PoolFull):
        await pool.spawn(f"{9:032x}")


async def test_the_template_stops_and_cleans_up_when_no_worker_holds_a_lease(
    registry: PoolRegistry, runtime_dir: str
) -> None:
    """Lifespan shutdown of the last worker: user processes end, the App directory goes."""
    pool = registry.pool(COUNTER, SCOPE)
    await (await pool.spawn(KEY)).aclose()
    pid = await pid_of(pool, KEY)
    assert os.path.isdir(pool.directory)
    await registry.close()
    await eventually_async(lambda: pid_gone(pid))
    await eventually_async(lambda: not os.path.exists(pool.directory))


async def test_a_lost_lease_stops_the_template_after_the_grace(
    registry: PoolRegistry, runtime_dir: str
) -> None:
    """A worker killed without a goodbye (SIGKILL) is noticed through its lease socket,
    which the kernel closes: once no lease is left, the template ends after the grace."""
    pool = registry.pool(COUNTER, SCOPE)
    await (await pool.spawn(KEY)).aclose()
    pid = await pid_of(pool, KEY)
    template = (await pool.listing())["pid"]
    async with lease_holder(runtime_dir, SCOPE["server"][1]) as other_worker:
        assert other_worker.listing["pid"] == template and other_worker.listing["workers"] == 2
        await registry.close()  # this worker says goodbye; the other one holds on
        await eventually_async(lambda: workers(runtime_dir) == [1])
        assert pid_alive(template) and pid_alive(pid)
        other_worker.process.send_signal(signal.SIGKILL)
        await eventually_async(lambda: pid_gone(pid) and pid_gone(template))
        assert await other_worker.process.wait() == -signal.SIGKILL


def workers(runtime_dir: str) -> list[int]:
    """How many workers hold a lease, per live template (as `ps` shows them)."""
    return [template["workers"] for template in control.listings(runtime_dir)]


async def test_the_template_refuses_a_malformed_key(registry: PoolRegistry) -> None:
    pool = registry.pool(COUNTER, SCOPE)
    await pool.connect(KEY)  # nothing: but make sure the template runs
    await (await pool.spawn(KEY)).aclose()
    async with await Channel.connect(os.path.join(pool.directory, "template.sock")) as channel:
        await channel.send_json(Kind.SPAWN, {"key": "../../etc/x"})
        with pytest.raises(ChannelClosed):
            await channel.receive()  # the template drops the connection, and lives on
    assert (await pid_of(pool, KEY)) > 0
