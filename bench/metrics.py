"""The figures the report shows, where each comes from in a run's result, and the medians."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.sizes import Sizes
from bench.stats import median

Getter = Callable[[dict[str, Any]], float]


def dig(data: Any, *path: str) -> float:
    """data[path[0]][path[1]]... as a float; NaN when absent."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return math.nan
        data = data[key]
    return float(data) if isinstance(data, (int, float)) and data is not None else math.nan


def at(*path: str) -> Getter:
    return lambda result: dig(result, *path)


def step(size: int, *path: str) -> Getter:
    """A figure of the sweep step with `size` live users (NaN if that size was not reached)."""

    def get(result: dict[str, Any]) -> float:
        for one in result.get("steps", []):
            if one.get("size") == size and one.get("reached"):
                return dig(one, *path)
        return math.nan

    return get


def rate(count_path: tuple[str, ...], wall_path: tuple[str, ...]) -> Getter:
    def get(result: dict[str, Any]) -> float:
        return dig(result, *count_path) / dig(result, *wall_path)

    return get


@dataclass(frozen=True)
class Metric:
    key: str
    group: str
    label: str
    unit: str
    scenario: str
    get: Getter
    higher_is_better: bool = False


def metrics(sizes: Sizes) -> list[Metric]:
    """Every figure of the report, labelled with the sizes of this run."""
    return [
        *_new_user(sizes),
        *_clicks(sizes),
        *_pushes(),
        *_memory(sizes),
        *(
            metric
            for size in sizes.sweep_sizes
            for metric in _sweep_step(size, sizes.sweep_few, sizes.sweep_active)
        ),
        *_flood(sizes, "flood", "plain GETs"),
        *_flood(sizes, "flood_ws", "pages that keep their websocket and click"),
    ]


def _new_user(sizes: Sizes) -> list[Metric]:
    new, group, batch = "new_users", "New user", f"{sizes.concurrency} at a time"
    return [
        Metric("new_seq_usable_p50", group, "usable page p50, one at a time", "ms", new,
               at("sequential", "usable", "p50_ms")),
        Metric("new_seq_usable_p99", group, "usable page p99, one at a time", "ms", new,
               at("sequential", "usable", "p99_ms")),
        Metric("new_seq_page_p50", group, "page HTML alone p50, one at a time", "ms", new,
               at("sequential", "page", "p50_ms")),
        Metric("new_seq_cpu", group, "server CPU per new user, one at a time", "ms", new,
               at("sequential", "server_cpu_per_user_ms")),
        Metric("new_seq_cpu_users", group, "... of which in user processes", "ms", new,
               at("sequential", "server_cpu_split_per_user_ms", "users")),
        Metric("new_conc_usable_p50", group, f"usable page p50, {batch}", "ms", new,
               at("concurrent", "usable", "p50_ms")),
        Metric("new_conc_usable_p99", group, f"usable page p99, {batch}", "ms", new,
               at("concurrent", "usable", "p99_ms")),
        Metric("new_conc_rate", group, f"new users per second, {batch}", "/s", new,
               rate(("concurrent", "usable", "count"), ("concurrent", "wall_s")), True),
    ]  # fmt: skip


def _clicks(sizes: Sizes) -> list[Metric]:
    during, clicks = "click_during_arrivals", "clicks"
    arriving = f"Click of a connected user while {sizes.arrivals} users arrive"
    one = f"Click, 1 user x {sizes.single_clicks}"
    crowd = f"Click, {sizes.multi_users} users x {sizes.multi_clicks}, all at once"
    found = [
        Metric(f"arrival_click_{p}", arriving, p, "ms", during, at("click", f"{p}_ms"))
        for p in ("p50", "p99", "max")
    ]
    figures = [  # key suffix, label, unit, path below the part, higher is better
        ("p50", "p50", "ms", ("click", "p50_ms"), False),
        ("p90", "p90", "ms", ("click", "p90_ms"), False),
        ("p99", "p99", "ms", ("click", "p99_ms"), False),
        ("rate", "interactions/s", "/s", ("interactions_per_s",), True),
        ("cpu", "server CPU per click", "ms", ("server_cpu_per_click_ms",), False),
        (
            "cpu_users",
            "... of which in user processes",
            "ms",
            ("server_cpu_split_per_click_ms", "users"),
            False,
        ),
        ("client_cpu", "load generator CPU per click", "ms", ("client_cpu_per_click_ms",), False),
    ]
    for prefix, group, part in (("click1", one, "single"), ("click50", crowd, "multi")):
        found += [
            Metric(f"{prefix}_{key}", group, label, unit, clicks, at(part, *path), higher)
            for key, label, unit, path, higher in figures
        ]
    return found  # fmt: skip


def _pushes() -> list[Metric]:
    push, group = "pushes", "Push"
    return [
        Metric("push_p50", group, "update() -> client p50", "ms", push, at("push", "p50_ms")),
        Metric("push_p99", group, "update() -> client p99", "ms", push, at("push", "p99_ms")),
        Metric("push_third_p50", group, "click -> third push p50", "ms", push,
               at("click_to_third_push", "p50_ms")),
        Metric("push_delivered", group, "pushes delivered", "%", push,
               lambda r: 100 * dig(r, "pushes_delivered") / dig(r, "pushes_expected"), True),
    ]  # fmt: skip


def _memory(sizes: Sizes) -> list[Metric]:
    live = sizes.multi_users + 2  # scenario 3: the warm-up user, the clicking user, the crowd
    group, tree = "Memory per user process", "Memory, whole server"
    found = [
        Metric(
            f"{kind}_{moment}",
            group,
            f"{kind.upper()} {label}",
            "MiB",
            "clicks",
            at("user_memory", moment, f"{kind}_mib"),
        )
        for moment, label in (
            ("after_page", "after the page"),
            ("after_clicks", f"after {sizes.single_clicks} clicks"),
        )
        for kind in ("uss", "pss", "rss")
    ]
    return [
        *found,
        Metric("tree_pss", tree, f"PSS, {live} users live", "MiB", "clicks",
               at("server_memory", "pss_mib")),
        Metric("tree_uss", tree, f"USS, {live} users live", "MiB", "clicks",
               at("server_memory", "uss_mib")),
        Metric("tree_processes", tree, f"processes, {live} users live", "", "clicks",
               at("server_memory", "processes")),
    ]  # fmt: skip


def _sweep_step(size: int, few: int, many: int) -> list[Metric]:
    group = f"Sweep: {size:,} live users"
    clicking = {"few": f"{few} clicking", "many": f"{many} clicking"}
    found = []
    for phase in ("few", "many"):
        found += [
            Metric(
                f"sweep{size}_{phase}_cpu",
                group,
                f"server CPU per click, {clicking[phase]}",
                "ms",
                "sweep",
                step(size, phase, "server_cpu_per_click_ms"),
            ),
            Metric(
                f"sweep{size}_{phase}_cpu_users",
                group,
                "... of which in user processes",
                "ms",
                "sweep",
                step(size, phase, "server_cpu_split_per_click_ms", "users"),
            ),
            Metric(
                f"sweep{size}_{phase}_p99",
                group,
                f"click p99, {clicking[phase]}",
                "ms",
                "sweep",
                step(size, phase, "click", "p99_ms"),
            ),
        ]
    return [
        *found,
        Metric(f"sweep{size}_grow", group, "growing to it, per new user", "ms", "sweep",
               step(size, "grow_ms_per_user")),
        Metric(f"sweep{size}_pss", group, "whole server PSS", "MiB", "sweep",
               step(size, "server_memory", "pss_mib")),
    ]  # fmt: skip


def _flood(sizes: Sizes, scenario: str, what: str) -> list[Metric]:
    group = (
        f"Flood: {sizes.flood_rate:g} page loads/s from one address for "
        f"{sizes.flood_seconds:g} s, {what}"
    )
    after = f"{sizes.flood_after:g} s after"
    return [
        Metric(f"{scenario}_ok", group, "legitimate newcomers served (page and 3 clicks)", "%",
               scenario, at("newcomers_ok_pct"), True),
        Metric(f"{scenario}_usable_p50", group, "their usable page p50", "ms", scenario,
               at("usable", "p50_ms")),
        Metric(f"{scenario}_usable_p99", group, "their usable page p99", "ms", scenario,
               at("usable", "p99_ms")),
        Metric(f"{scenario}_click_p99", group, "legitimate clicks p99 during the flood", "ms",
               scenario, at("click", "p99_ms")),
        Metric(f"{scenario}_attacker_peak", group, "the attacker's processes at peak", "",
               scenario, at("attacker_processes_peak")),
        Metric(f"{scenario}_attacker_after", group, f"the attacker's processes {after}", "",
               scenario, at("attacker_processes_after")),
        Metric(f"{scenario}_pss_peak", group, "whole server PSS at peak", "MiB", scenario,
               at("pss_peak_mib")),
        Metric(f"{scenario}_rate", group, "page loads the attacker sent per second", "/s",
               scenario, at("attacker_rate_per_s"), True),
    ]  # fmt: skip


def medians(runs: list[dict[str, Any]], all_metrics: list[Metric]) -> dict[str, dict[str, Any]]:
    """{target: {metric: {"median": m, "values": [per repetition]}}} over runs without errors."""
    table: dict[str, dict[str, Any]] = {}
    for metric in all_metrics:
        for run in runs:
            if run["scenario"] != metric.scenario or "result" not in run:
                continue
            entry = table.setdefault(run["target"], {}).setdefault(metric.key, {"values": []})
            entry["values"].append(metric.get(run["result"]))
    for per_target in table.values():
        for entry in per_target.values():
            entry["median"] = median(entry["values"])
    return table
