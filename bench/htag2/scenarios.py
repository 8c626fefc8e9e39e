"""What the htag 2 bench measures on each target, each scenario on a fresh server.

- new_users: NEW_USERS visitors one after the other (page, then usable: scripts, websocket,
  its first message); server CPU per new user;
- clicks: one user clicks CLICKS times (round trip), then LIVE users click BURST times each,
  all at once (clicks/s, p99); the whole server's memory with 1 and with LIVE + 1 users
  live (per user: the difference over LIVE), and one user's own process (ours);
- pushes: PUSH_ROUNDS rounds of the push button: update() → receipt, click → third push;
- flood: FLOOD page loads without a cookie (as a crawler, a link preview or an attacker
  sends them), FLOOD_CONCURRENCY at a time: statuses, rate, the server's memory after, and
  a real user's clicks right after.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx

from bench import procs
from bench.htag2.client import User2
from bench.stats import latency_summary

NEW_USERS = 20
CLICKS = 200
LIVE = 20
BURST = 50
PUSH_ROUNDS = 10
FLOOD = 500
FLOOD_CONCURRENCY = 10
QUICK = {"NEW_USERS": 3, "CLICKS": 10, "LIVE": 3, "BURST": 5, "PUSH_ROUNDS": 2, "FLOOD": 20}


async def new_users(url: str, kind: str, marker: str) -> dict[str, Any]:
    meter = procs.CpuMeter(marker)
    meter.start()
    pages, usable = [], []
    for _ in range(NEW_USERS):
        user = User2(url, kind)
        try:
            arrival = await user.arrive()
        finally:
            await user.aclose()
        pages.append(arrival.page_ns)
        usable.append(arrival.usable_ns)
    cpu = meter.stop()
    return {
        "page": latency_summary(pages),
        "usable": latency_summary(usable),
        "cpu_ms_per_user": cpu * 1000 / NEW_USERS,
    }


async def clicks(url: str, kind: str, marker: str) -> dict[str, Any]:
    first = User2(url, kind)
    others = [User2(url, kind) for _ in range(LIVE)]
    try:
        await first.arrive()
        alone = procs.tree_memory(marker)
        own = _own_memory(marker, first.pid) if kind == "ours2" else {}
        single = [await first.click() for _ in range(CLICKS)]
        for user in others:
            await user.arrive()
        crowd = procs.tree_memory(marker)
        meter = procs.CpuMeter(marker)
        meter.start()
        started = time.perf_counter()
        bursts = await asyncio.gather(*(_burst(user) for user in others))
        wall = time.perf_counter() - started
        cpu = meter.stop()
    finally:
        for user in [first, *others]:
            await user.aclose()
    together = [sample for burst in bursts for sample in burst]
    return {
        "one_user": latency_summary(single),
        "concurrent": latency_summary(together),
        "clicks_per_s": len(together) / wall,
        "cpu_ms_per_click": cpu * 1000 / len(together),
        "memory_one_user": alone,
        "memory_live": crowd,
        "pss_mib_per_user": (crowd["pss_mib"] - alone["pss_mib"]) / LIVE,
        "own_process": own,
    }


async def _burst(user: User2) -> list[int]:
    return [await user.click() for _ in range(BURST)]


def _own_memory(marker: str, pid: int) -> dict[str, float]:
    host = procs.host_pid(marker, pid)
    return procs.memory(host).mib() if host is not None else {}


async def pushes(url: str, kind: str, marker: str) -> dict[str, Any]:
    user = User2(url, kind)
    latencies: list[int] = []
    last: list[int] = []
    try:
        await user.arrive()
        for _ in range(PUSH_ROUNDS):
            round_latencies, to_last = await user.push_round()
            latencies += round_latencies
            last.append(to_last)
    finally:
        await user.aclose()
    return {"update_to_receipt": latency_summary(latencies), "click_to_last": latency_summary(last)}


async def flood(url: str, kind: str, marker: str) -> dict[str, Any]:
    before = procs.tree_memory(marker)
    statuses: Counter[str] = Counter()
    queue = iter(range(FLOOD))

    async def crawler() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:
            for _ in queue:
                client.cookies.clear()  # every request a stranger
                try:
                    statuses[str((await client.get("/")).status_code)] += 1
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1

    started = time.perf_counter()
    await asyncio.gather(*(crawler() for _ in range(FLOOD_CONCURRENCY)))
    wall = time.perf_counter() - started
    after = procs.tree_memory(marker)
    user = User2(url, kind)
    try:
        await user.arrive()
        clicks_after = [await user.click() for _ in range(20)]
    finally:
        await user.aclose()
    return {
        "requests": FLOOD,
        "statuses": dict(statuses),
        "per_s": FLOOD / wall,
        "memory_before": before,
        "memory_after": after,
        "pss_kib_per_request": (after["pss_mib"] - before["pss_mib"]) * 1024 / FLOOD,
        "click_after": latency_summary(clicks_after),
    }


SCENARIOS = {"new_users": new_users, "clicks": clicks, "pushes": pushes, "flood": flood}


def quick() -> None:
    """Tiny sizes: a smoke run."""
    globals().update(QUICK)
