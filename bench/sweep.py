"""6. Scale sweep: grow the live users (10, 100, 1,000; mostly idle, their websockets open)
and, at each size, let some of them click: per-click CPU and p99 as users grow.

Two click phases at each size: `sweep_few` (10) users, the same number at every size, so
that only the idle users change (what "flat per-click CPU" compares), then `sweep_active`
(50, as the issue says; all of them when fewer live)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import procs
from bench.clients import Arrival, User
from bench.scenarios import Context, measured, warm_up
from bench.timeouts import deadline


async def _grow(ctx: Context, users: list[User], size: int) -> bool:
    """Add users until `size` are live; False if that took longer than the bound."""
    arrived: list[tuple[User, Arrival]] = []
    try:
        async with deadline(ctx.sizes.sweep_bound):
            await ctx.arrive_many(size - len(users), ctx.sizes.concurrency, arrived)
    except TimeoutError:
        return False
    finally:
        users += [user for user, _ in arrived]
    return len(users) >= size


async def _click_phase(ctx: Context, active: list[User]) -> dict[str, Any]:
    async def active_click() -> list[int]:
        runs = await asyncio.gather(*(ctx.clicks(u, ctx.sizes.sweep_clicks) for u in active))
        return [latency for run in runs for latency in run]

    return {**await measured(ctx, active_click), "active_users": len(active)}


def _spread(users: list[User], count: int) -> list[User]:
    """`count` users taken evenly from the oldest to the newest."""
    if count >= len(users):
        return list(users)
    step = len(users) / count
    return [users[int(i * step)] for i in range(count)]


async def sweep(ctx: Context) -> dict[str, Any]:
    first = await warm_up(ctx)
    users = [first] if first is not None else []
    steps: list[dict[str, Any]] = []
    for size in ctx.sizes.sweep_sizes:
        before = len(users)
        started = time.perf_counter()
        grown = await _grow(ctx, users, size)
        grow_s = time.perf_counter() - started
        step: dict[str, Any] = {
            "size": size,
            "reached": grown,
            "live_users": len(users),
            "grow_s": grow_s,
            "grow_ms_per_user": grow_s * 1000 / max(len(users) - before, 1),
            "counted_each_user": True,  # (before: in batches of 100, an undercount when stopped)
        }
        if not grown:
            step["note"] = f"stopped: {size} users not reached in {ctx.sizes.sweep_bound:g} s"
            steps.append(step)
            break
        for name, count in (("few", ctx.sizes.sweep_few), ("many", ctx.sizes.sweep_active)):
            step[name] = await _click_phase(ctx, _spread(users, count))
        step["server_memory"] = procs.tree_memory(ctx.server.marker)
        steps.append(step)
    ctx.verify_counter()
    return {"steps": steps}
