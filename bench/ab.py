"""Two versions of our host side by side: ``python -m bench.ab --rounds 3 before=DIR after=DIR``.

Each DIR is a clone (or worktree) of this repository with its ``bench/.venv`` made
(``bash bench/run.sh --quick`` makes it). Their servers (``ours-1w``, as the bench starts
it) are started in turn, round after round, under the same load, so that a noisy shared
machine weighs on both alike; the report gives each figure's median and the median of the
per-round ratios (the second version over the first). A round measures:

- new users: 30 one after the other (usable page p50, server CPU per new user), then 50
  arriving 10 at a time (usable page p50);
- clicks of one user (1,000, one at a time): CPU per click of the worker and of the user
  process (nanosecond schedstat), latency p50, then the user process's USS/PSS;
- ``--clicks-only``: instead, 3,000 clicks of one user, then 20 users clicking 100 times each
  at once (their processes' CPU per click, clicks per second).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import procs, servers
from bench.scenarios import Context
from bench.servers import TARGETS, Pythons, Server
from bench.sizes import FULL
from bench.stats import median


async def _new_users(ctx: Context, out: dict[str, float]) -> None:
    await ctx.arrive_many(30, 1)  # warm: the template and its first spares
    meter = procs.CpuMeter(ctx.server.marker)
    meter.start()
    one_by_one = await ctx.arrive_many(30, 1)
    out["new_cpu_ms"] = meter.stop() * 1000 / max(len(one_by_one), 1)
    out["new_p50_ms"] = median([a.usable_ns / 1e6 for _, a in one_by_one])
    ten = await ctx.arrive_many(50, 10)
    out["new10_p50_ms"] = median([a.usable_ns / 1e6 for _, a in ten])


async def _clicks(ctx: Context, out: dict[str, float], count: int) -> int:
    arrival = await ctx.arrive()
    assert arrival is not None, ctx.errors.messages
    user = arrival[0]
    await ctx.clicks(user, 100)
    pid = procs.host_pid(ctx.server.marker, user.pid) if user.pid is not None else None
    assert pid is not None and ctx.server.process is not None
    worker = ctx.server.process.pid
    u0, w0 = procs.cpu_seconds(pid), procs.cpu_seconds(worker)
    latencies = await ctx.clicks(user, count)
    out["click_user_us"] = (procs.cpu_seconds(pid) - u0) / count * 1e6
    out["click_worker_us"] = (procs.cpu_seconds(worker) - w0) / count * 1e6
    out["click_p50_us"] = median([ns / 1e3 for ns in latencies])
    memory = procs.memory(pid).mib()
    out["uss_mib"], out["pss_mib"] = memory["uss_mib"], memory["pss_mib"]
    return pid


async def _crowd(ctx: Context, out: dict[str, float]) -> None:
    crowd = [user for user, _ in await ctx.arrive_many(20, 10)]
    pids = [procs.host_pid(ctx.server.marker, u.pid) for u in crowd if u.pid is not None]
    before = sum(procs.cpu_seconds(pid) for pid in pids if pid is not None)
    started = time.perf_counter()
    runs = await asyncio.gather(*(ctx.clicks(user, 100) for user in crowd))
    clicks = sum(len(run) for run in runs)
    out["crowd_per_s"] = clicks / (time.perf_counter() - started)
    spent = sum(procs.cpu_seconds(pid) for pid in pids if pid is not None) - before
    out["crowd_user_us"] = spent / max(clicks, 1) * 1e6


async def _round(ctx: Context, clicks_only: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        if clicks_only:
            await _clicks(ctx, out, 3000)
            await _crowd(ctx, out)
        else:
            await _new_users(ctx, out)
            await _clicks(ctx, out, 1000)
    finally:
        await ctx.close()
    return out


def measure(name: str, clone: Path, clicks_only: bool, logs: Path) -> dict[str, float]:
    servers.ROOT = clone  # the server runs that clone's code (PYTHONPATH, cwd)
    python = str(clone / "bench" / ".venv" / "bin" / "python")
    server = Server(TARGETS["ours-1w"], Pythons(ours=python, htagweb=None), logs / f"{name}.log")
    server.start()
    try:
        ctx = Context("ours", server, FULL)
        result = asyncio.run(_round(ctx, clicks_only))
    finally:
        server.stop()
    if ctx.errors.count:
        raise SystemExit(f"{name}: errors: {ctx.errors.messages}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clicks-only", action="store_true")
    parser.add_argument("--logs", type=Path, default=Path("/tmp/bench-ab-logs"))
    parser.add_argument("versions", nargs=2, help="NAME=DIR: two clones, first the reference")
    args = parser.parse_args(argv)
    args.logs.mkdir(parents=True, exist_ok=True)
    versions = [(v.split("=", 1)[0], Path(v.split("=", 1)[1]).resolve()) for v in args.versions]
    found: dict[str, list[dict[str, float]]] = {name: [] for name, _ in versions}
    for round_ in range(args.rounds):
        for name, clone in versions:
            result = measure(name, clone, args.clicks_only, args.logs)
            found[name].append(result)
            print(round_ + 1, name, {k: round(v, 2) for k, v in result.items()}, flush=True)
    (a, first), (b, second) = found.items()
    table: dict[str, Any] = {}
    for key in first[0]:
        ratios = [y[key] / x[key] for x, y in zip(first, second, strict=True) if x[key]]
        table[key] = (median([r[key] for r in first]), median([r[key] for r in second]))
        table[key] += (median(ratios),)
    print(f"{'figure':16} {a:>10} {b:>10} {b}/{a} (median of the rounds' ratios)")
    for key, (x, y, ratio) in table.items():
        print(f"{key:16} {x:10.2f} {y:10.2f} {ratio:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
