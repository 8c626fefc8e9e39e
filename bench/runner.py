"""Run every (repetition, scenario, target), each on a freshly started server, interleaved.

Order: for each repetition, for each scenario, every target in turn, the targets' order
rotating by one at each repetition. Machines here are shared and noisy: interleaving spreads
a noisy minute over all targets instead of one.
"""

from __future__ import annotations

import asyncio
import os
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import flood, scenarios, sweep
from bench.procs import CpuMeter
from bench.servers import Pythons, Server, Target
from bench.sizes import Sizes

Scenario = Callable[[scenarios.Context], Awaitable[dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {
    "new_users": scenarios.new_users,
    "click_during_arrivals": scenarios.click_during_arrivals,
    "clicks": scenarios.clicks_and_memory,
    "pushes": scenarios.pushes,
    "sweep": sweep.sweep,
    "flood": flood.flood,
    "flood_ws": flood.flood_ws,
}
# What our host measures with: every per-address limit off (the load comes from one
# address), except for the floods, which measure admission control as it ships.
# Run only when named (--scenarios flood,flood_ws): they write their own section of
# BENCHMARKS.md (bench/floodreport.py), and take ~1.5 min per run.
BY_NAME_ONLY = {"flood", "flood_ws"}
DEFAULT_SCENARIOS = [name for name in SCENARIOS if name not in BY_NAME_ONLY]
# The floods measure what a host does with a process per user: not the floor (one shared
# App), nor a second worker count of ours (the limits are the server's, whatever its workers).
ONLY_ON = {"flood": {"ours-1w", "htagweb"}, "flood_ws": {"ours-1w", "htagweb"}}
# The portable path (spawned interpreters, no copy-on-write) is measured for what it
# changes, a new user and a click: not in the 1,000-user sweep (~20 MiB more per process).
ONLY_ON["sweep"] = {"ours-1w", "ours-4w", "htagweb", "floor"}
SERVER_ENV = {
    "flood": {"HTAGWEB_BENCH_ADMISSION": "defaults"},
    "flood_ws": {"HTAGWEB_BENCH_ADMISSION": "defaults"},
}


@dataclass(frozen=True)
class Plan:
    targets: list[Target]
    scenarios: list[str]
    reps: int
    sizes: Sizes
    pythons: Pythons
    logs: Path


def rotated(targets: list[Target], rep: int) -> list[Target]:
    shift = rep % len(targets) if targets else 0
    return targets[shift:] + targets[:shift]


def run_plan(plan: Plan, on_result: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
    """Run everything; `on_result` sees each run as it ends (progress, partial saves)."""
    runs = []
    for rep in range(plan.reps):
        for name in plan.scenarios:
            for target in rotated(plan.targets, rep):
                if target.name not in ONLY_ON.get(name, {target.name}):
                    continue
                run = run_one(plan, rep, name, target)
                runs.append(run)
                on_result(run)
    return runs


def run_one(plan: Plan, rep: int, name: str, target: Target) -> dict[str, Any]:
    """Start `target`, run scenario `name` against it, stop it; never raises."""
    log = plan.logs / f"rep{rep}-{name}-{target.name}.log"
    record: dict[str, Any] = {"rep": rep, "scenario": name, "target": target.name}
    record["loadavg_before"] = os.getloadavg()
    started = time.perf_counter()
    server = Server(target, plan.pythons, log, env=SERVER_ENV.get(name, {}))
    try:
        server.start()
        context = scenarios.Context(target.kind, server, plan.sizes)
        with Noise(server.marker) as noise:
            record["result"] = _run_async(_scenario(SCENARIOS[name], context))
        record["others_busy_cores"] = noise.others_busy_cores
        record["errors"] = context.errors.count
        record["error_messages"] = context.errors.messages
        record["clicks_checked"] = context.clicks_checked
    except Exception as exc:
        record["errors"] = record.get("errors", 0) + 1
        record["error_messages"] = [f"{type(exc).__name__}: {exc}", traceback.format_exc()]
    finally:
        server.stop()
    record["leftover_processes"] = server.leftovers
    record["duration_s"] = time.perf_counter() - started
    record["log"] = str(log)
    return record


class Noise:
    """How many cores the rest of the machine (other people's work) kept busy while a
    scenario ran: all CPU time spent, less the server's and this load generator's."""

    def __init__(self, marker: str) -> None:
        self.meter = CpuMeter(marker)
        self.others_busy_cores: float | None = None

    def __enter__(self) -> Noise:
        self.meter.start()
        self._own = time.process_time()
        self._busy = _busy_seconds()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        busy = _busy_seconds() - self._busy
        ours = self.meter.stop() + time.process_time() - self._own
        wall = time.perf_counter() - self._wall
        self.others_busy_cores = max(busy - ours, 0.0) / wall


async def _scenario(scenario: Scenario, context: scenarios.Context) -> dict[str, Any]:
    try:
        return await scenario(context)
    finally:
        await context.close()


def _run_async(coro: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """The load generator runs on uvloop where installed (as do the servers under test)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the bench venv has it
        return asyncio.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[arg-type]


def _busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, every process): shows noise."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))
