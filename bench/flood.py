"""Scenario 7, ``flood`` and ``flood_ws``: legitimate users while one address floods.

An attacker at 127.0.0.2 (all of 127.0.0.0/8 is this machine) sends cookie-less page loads
at a fixed rate (``flood_rate`` per second, at most ``flood_concurrency`` at a time) for
``flood_seconds``. In ``flood`` they are plain GETs, as a crawler or a script sends them; in
``flood_ws`` each page that is served becomes a whole visitor (client script, websocket)
that keeps its websocket and clicks every ``flood_click_every`` seconds, so that its
processes look used.

Meanwhile, from 127.0.0.1, the warm-up user (who clicked before) clicks every half second,
and every ``flood_arrive_every`` seconds a new user arrives (a usable page, as in scenario
1) and clicks 3 times. Their failures are what is measured, not errors of the bench.

Processes are counted every ``flood_sample_every`` seconds, over the whole server (found by
its marker, so that both hosts are counted alike): the attacker's are all of them less those
before the flood (server, template, spares, the warm-up user) and one per newcomer served.
Then ``flood_after`` seconds after the flood stopped, once more (the engaged user still
clicking).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import Any

from bench import procs
from bench.clients import USERS, BadStatus, User
from bench.scenarios import Context, warm_up
from bench.stats import latency_summary

ATTACKER = "127.0.0.2"


class Flood:
    """The state of one flood run (see the module docstring)."""

    def __init__(self, ctx: Context, keep_websockets: bool) -> None:
        self.ctx = ctx
        self.sizes = ctx.sizes
        self.keep_websockets = keep_websockets
        self.statuses: Counter[str] = Counter()
        self.flooding = True
        self.samples: list[dict[str, float]] = []
        self.baseline = 0
        self.newcomers_ok = 0
        self.newcomers_failed: Counter[str] = Counter()
        self.usable_ns: list[int] = []
        self.page_ns: list[int] = []
        self.clicks_ns: list[int] = []
        self.clicks_failed = 0
        self.attackers: list[User] = []

    # -- the attacker -----------------------------------------------------------------------------
    async def attack(self) -> None:
        """Page loads at a fixed rate, at most flood_concurrency at a time (the ones that
        cannot start on time are counted as not sent)."""
        slots = asyncio.Semaphore(self.sizes.flood_concurrency)
        tasks: set[asyncio.Task[None]] = set()
        interval = 1.0 / self.sizes.flood_rate
        start = time.perf_counter()
        sent = 0
        while time.perf_counter() - start < self.sizes.flood_seconds:
            due = start + sent * interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent += 1
            if slots.locked():
                self.statuses["not sent (all busy)"] += 1
                continue
            await slots.acquire()
            task = asyncio.ensure_future(self._one_page(slots))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)

    async def _one_page(self, slots: asyncio.Semaphore) -> None:
        user = USERS[self.ctx.kind](self.ctx.server.url, self.ctx.counter, address=ATTACKER)
        kept = False
        try:
            if self.keep_websockets:
                await user.arrive()
                self.statuses["200"] += 1
                self.attackers.append(user)
                kept = True
            else:
                response = await user.http.get(user.page_path())
                self.statuses[str(response.status_code)] += 1
        except BadStatus as exc:
            self.statuses[str(exc.status)] += 1
        except Exception as exc:
            self.statuses[type(exc).__name__] += 1
        finally:
            slots.release()
            if not kept:
                await user.aclose()

    async def keep_clicking(self) -> None:
        """flood_ws: every attacker page clicks every flood_click_every seconds."""
        while self.flooding:
            await asyncio.sleep(self.sizes.flood_click_every)
            for user in list(self.attackers):
                try:
                    await user.click()
                except Exception:
                    self.attackers.remove(user)
                    await user.aclose()

    # -- the legitimate users -------------------------------------------------------------------
    async def engaged(self, user: User, until: asyncio.Event) -> None:
        while not until.is_set():
            await self._click(user)
            await asyncio.sleep(0.5)

    async def newcomers(self) -> None:
        start = time.perf_counter()
        arrivals = []
        while time.perf_counter() - start < self.sizes.flood_seconds:
            arrivals.append(asyncio.ensure_future(self._newcomer()))
            await asyncio.sleep(self.sizes.flood_arrive_every)
        await asyncio.gather(*arrivals)

    async def _newcomer(self) -> None:
        user = USERS[self.ctx.kind](self.ctx.server.url, self.ctx.counter)
        self.ctx.users.append(user)
        try:
            arrival = await user.arrive()
        except BadStatus as exc:
            self.newcomers_failed[str(exc.status)] += 1
            return
        except Exception as exc:
            self.newcomers_failed[type(exc).__name__] += 1
            return
        self.page_ns.append(arrival.page_ns)
        self.usable_ns.append(arrival.usable_ns)
        ok = True
        for _ in range(3):
            ok = await self._click(user) and ok
            await asyncio.sleep(0.2)
        if ok:
            self.newcomers_ok += 1
        else:
            self.newcomers_failed["a click failed"] += 1

    async def _click(self, user: User) -> bool:
        """One click, checked; its latency counts while the flood lasts."""
        try:
            latency = await user.click()
            self.ctx.clicks_checked += 1
            if self.flooding:
                self.clicks_ns.append(latency)
            return True
        except Exception:
            self.clicks_failed += 1
            return False

    # -- the server's processes -------------------------------------------------------------------
    async def sample(self, until: asyncio.Event) -> None:
        while not until.is_set():
            self.samples.append(await self.measure())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(until.wait(), self.sizes.flood_sample_every)

    async def measure(self) -> dict[str, float]:
        tree = await asyncio.to_thread(procs.tree_memory, self.ctx.server.marker)
        legit = len(self.page_ns)  # newcomers whose page was served (one process each)
        attacker = max(0.0, tree["processes"] - self.baseline - legit)
        return {"t": time.perf_counter(), "attacker": attacker, **tree}


async def flood(ctx: Context) -> dict[str, Any]:
    return await _run(ctx, keep_websockets=False)


async def flood_ws(ctx: Context) -> dict[str, Any]:
    return await _run(ctx, keep_websockets=True)


async def _run(ctx: Context, keep_websockets: bool) -> dict[str, Any]:
    engaged_user = await warm_up(ctx)
    if engaged_user is None:
        return {}
    run = Flood(ctx, keep_websockets)
    await asyncio.sleep(1.0)  # spares started: the baseline is the server at rest
    run.baseline = int((await run.measure())["processes"])
    done = asyncio.Event()
    background = [
        asyncio.ensure_future(run.engaged(engaged_user, done)),
        asyncio.ensure_future(run.sample(done)),
    ]
    clicking = asyncio.ensure_future(run.keep_clicking()) if keep_websockets else None
    started = time.perf_counter()
    await asyncio.gather(run.attack(), run.newcomers())
    flood_wall = time.perf_counter() - started
    run.flooding = False
    during = list(run.samples)
    await asyncio.sleep(ctx.sizes.flood_after)
    after = await run.measure()
    done.set()
    await asyncio.gather(*background)
    if clicking is not None:
        clicking.cancel()
    await asyncio.gather(*(user.aclose() for user in run.attackers), return_exceptions=True)
    arrived = run.newcomers_ok + sum(run.newcomers_failed.values())
    return {
        "newcomers": arrived,
        "newcomers_ok": run.newcomers_ok,
        "newcomers_ok_pct": 100 * run.newcomers_ok / arrived if arrived else float("nan"),
        "newcomers_failed": dict(run.newcomers_failed),
        "page": latency_summary(run.page_ns),
        "usable": latency_summary(run.usable_ns),
        "click": latency_summary(run.clicks_ns),
        "clicks_failed": run.clicks_failed,
        "attacker_statuses": dict(run.statuses),
        "attacker_rate_per_s": sum(run.statuses.values()) / flood_wall,
        "attacker_processes_peak": max((s["attacker"] for s in during), default=0.0),
        "attacker_processes_after": after["attacker"],
        "server_processes_peak": max((s["processes"] for s in during), default=0.0),
        "pss_peak_mib": max((s["pss_mib"] for s in [*during, after]), default=float("nan")),
        "baseline_processes": run.baseline,
        "after_s": ctx.sizes.flood_after,
    }
