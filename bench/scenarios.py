"""The six scenarios of issue 3. Each runs against a freshly started server.

Every scenario begins with one warm-up user (page, websocket, one click), untimed: the first
page of a server starts our host's template, and that is a server start, not a new user.
That user stays connected; it is the "already connected user" of scenario 2 and counts as
one of the live users of the sweep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench import procs
from bench.clients import PUSHES, USERS, Arrival, PushesMissing, User
from bench.counters import Counter, counter_for
from bench.servers import Server
from bench.sizes import Sizes
from bench.stats import latency_summary


class Errors:
    """Failures of a scenario: counted, and the first few kept to be read."""

    KEEP = 20

    def __init__(self) -> None:
        self.count = 0
        self.messages: list[str] = []

    def add(self, where: str, exc: BaseException) -> None:
        self.count += 1
        if len(self.messages) < self.KEEP:
            self.messages.append(f"{where}: {type(exc).__name__}: {exc}")


@dataclass
class Context:
    kind: str
    server: Server
    sizes: Sizes
    errors: Errors = field(default_factory=Errors)
    counter: Counter = field(init=False)
    users: list[User] = field(default_factory=list)
    clicks_checked: int = 0

    def __post_init__(self) -> None:
        self.counter = counter_for(self.kind)

    async def arrive(self) -> tuple[User, Arrival] | None:
        """A new user gets a usable page; None (and an error) if that fails."""
        user = USERS[self.kind](self.server.url, self.counter)
        self.users.append(user)
        try:
            return user, await user.arrive()
        except Exception as exc:
            self.errors.add("new user", exc)
            return None

    async def arrive_many(
        self, count: int, concurrency: int, done: list[tuple[User, Arrival]] | None = None
    ) -> list[tuple[User, Arrival]]:
        """`count` new users, at most `concurrency` arriving at a time; each one is added to
        `done` as soon as its page is usable (so a caller that cancels keeps them)."""
        done = [] if done is None else done
        remaining = iter(range(count))

        async def lane() -> None:
            for _ in remaining:
                arrival = await self.arrive()
                if arrival is not None:
                    done.append(arrival)

        await asyncio.gather(*(lane() for _ in range(min(concurrency, count))))
        return done

    async def clicks(self, user: User, count: int, pause: float = 0.0) -> list[int]:
        """`count` clicks of `user`, each checked; stops at the first failure."""
        latencies = []
        for _ in range(count):
            try:
                latencies.append(await user.click())
                self.clicks_checked += 1
            except Exception as exc:
                self.errors.add("click", exc)
                break
            if pause:
                await asyncio.sleep(pause)
        return latencies

    def verify_counter(self) -> None:
        for problem in self.counter.verify():
            self.errors.add("counter", AssertionError(problem))

    async def close(self) -> None:
        await asyncio.gather(*(user.aclose() for user in self.users), return_exceptions=True)


async def warm_up(ctx: Context) -> User | None:
    arrival = await ctx.arrive()
    if arrival is None:
        return None
    await ctx.clicks(arrival[0], 1)
    return arrival[0]


def arrivals_summary(arrivals: list[tuple[User, Arrival]]) -> dict[str, Any]:
    return {
        "page": latency_summary([a.page_ns for _, a in arrivals]),
        "usable": latency_summary([a.usable_ns for _, a in arrivals]),
    }


# -- 1. new users ----------------------------------------------------------------------------
async def new_users(ctx: Context) -> dict[str, Any]:
    await warm_up(ctx)
    meter = procs.CpuMeter(ctx.server.marker)
    meter.start()
    sequential = await ctx.arrive_many(ctx.sizes.seq_users, 1)
    cpu = meter.stop() * 1000 / max(len(sequential), 1)
    split = {k: v * 1000 / max(len(sequential), 1) for k, v in meter.split.items()}
    started = time.perf_counter()
    concurrent = await ctx.arrive_many(ctx.sizes.conc_users, ctx.sizes.concurrency)
    wall = time.perf_counter() - started
    more = {}  # the other arrival concurrencies (the report's picture of latency vs arrivals)
    for level in ctx.sizes.more_concurrency:
        arrivals = await ctx.arrive_many(ctx.sizes.conc_users, level)
        for user, _ in arrivals:  # keep the live users as few as before: close these
            await user.aclose()
        more[str(level)] = arrivals_summary(arrivals)
    return {
        "by_concurrency": more,
        "sequential": {
            **arrivals_summary(sequential),
            "server_cpu_per_user_ms": cpu,
            "server_cpu_split_per_user_ms": split,
        },
        "concurrent": {**arrivals_summary(concurrent), "wall_s": wall},
        "concurrency": ctx.sizes.concurrency,
    }


# -- 2. a connected user's clicks while new users arrive ---------------------------------------
async def click_during_arrivals(ctx: Context) -> dict[str, Any]:
    clicker = await warm_up(ctx)
    if clicker is None:
        return {}
    latencies: list[int] = []
    arrivals: list[tuple[User, Arrival]] = []
    for _ in range(ctx.sizes.waves):
        arriving = asyncio.Event()

        async def click_while_arriving(arriving: asyncio.Event = arriving) -> None:
            while not arriving.is_set():
                got = await ctx.clicks(clicker, 1)
                if not got:
                    return
                latencies.extend(got)
                await asyncio.sleep(ctx.sizes.click_interval)

        clicking = asyncio.ensure_future(click_while_arriving())
        arrivals += await ctx.arrive_many(ctx.sizes.arrivals, ctx.sizes.arrivals)
        arriving.set()
        await clicking
    return {
        "click": latency_summary(latencies),
        "arrivals": arrivals_summary(arrivals),
        "waves": ctx.sizes.waves,
        "arrivals_per_wave": ctx.sizes.arrivals,
    }


# -- 3 and 5. click round trip, CPU per click, memory per user process -------------------------
async def measured(ctx: Context, clicks: Callable[[], Awaitable[list[int]]]) -> dict[str, Any]:
    """Run `clicks`; its latencies, rate, server CPU and our own CPU per click."""
    meter = procs.CpuMeter(ctx.server.marker)
    meter.start()
    client_cpu = time.process_time()
    started = time.perf_counter()
    latencies = await clicks()
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu
    server_cpu = meter.stop()
    count = max(len(latencies), 1)
    return {
        "click": latency_summary(latencies),
        "interactions_per_s": len(latencies) / wall,
        "server_cpu_per_click_ms": server_cpu * 1000 / count,
        "server_cpu_split_per_click_ms": {k: v * 1000 / count for k, v in meter.split.items()},
        "client_cpu_per_click_ms": client_cpu * 1000 / count,
        "wall_s": wall,
    }


def user_memory(ctx: Context, user: User) -> dict[str, float] | None:
    """USS/PSS/RSS of the user's own process (None for the floor: users share the server)."""
    if ctx.kind == "floor" or user.pid is None:
        return None
    pid = procs.host_pid(ctx.server.marker, user.pid)
    if pid is None:
        ctx.errors.add("memory", LookupError(f"no process {user.pid} of this server"))
        return None
    return procs.memory(pid).mib()


async def clicks_and_memory(ctx: Context) -> dict[str, Any]:
    await warm_up(ctx)
    arrival = await ctx.arrive()
    if arrival is None:
        return {}
    user = arrival[0]
    after_page = user_memory(ctx, user)
    single = await measured(ctx, lambda: ctx.clicks(user, ctx.sizes.single_clicks))
    after_clicks = user_memory(ctx, user)
    crowd = [u for u, _ in await ctx.arrive_many(ctx.sizes.multi_users, ctx.sizes.concurrency)]

    async def everybody() -> list[int]:
        runs = await asyncio.gather(*(ctx.clicks(u, ctx.sizes.multi_clicks) for u in crowd))
        return [latency for run in runs for latency in run]

    multi = await measured(ctx, everybody)
    ctx.verify_counter()
    return {
        "single": {**single, "clicks": ctx.sizes.single_clicks},
        "multi": {**multi, "users": len(crowd), "clicks_per_user": ctx.sizes.multi_clicks},
        "user_memory": {"after_page": after_page, "after_clicks": after_clicks},
        "server_memory": procs.tree_memory(ctx.server.marker),
        "live_users": len(ctx.users),
    }


# -- 4. push latency ---------------------------------------------------------------------------
async def pushes(ctx: Context) -> dict[str, Any]:
    """update() → receipt. htagweb 1.0.0 never delivers update() (its updater is a
    placeholder): missing pushes are reported for it, and are an error for the others."""
    await warm_up(ctx)
    arrival = await ctx.arrive()
    if arrival is None:
        return {}
    user, expected = arrival[0], ctx.kind != "htagweb"
    rounds = ctx.sizes.push_rounds if expected else ctx.sizes.unsupported_push_rounds
    latencies: list[int] = []
    to_last: list[int] = []
    missing = 0
    for _ in range(rounds):
        try:
            pushed = await user.push_round(ctx.sizes.push_wait)
        except PushesMissing as exc:
            missing += 1
            if expected:
                ctx.errors.add("push", exc)
            continue
        except Exception as exc:
            ctx.errors.add("push", exc)
            break
        latencies += pushed.latencies_ns
        to_last.append(pushed.click_to_last_ns)
    return {
        "push": latency_summary(latencies),
        "click_to_third_push": latency_summary(to_last),
        "rounds": rounds,
        "rounds_missing_pushes": missing,
        "pushes_delivered": len(latencies),
        "pushes_expected": rounds * PUSHES,
        "supported": len(latencies) > 0,
    }
