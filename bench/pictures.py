"""The report's pictures (matplotlib PNGs), drawn from a run's JSON only.

- clicks-cdf.png: click latency distribution (CDF) of each target, 1 user and 50 at once;
- new-users.png: new user's usable page p50/p99 against how many arrive at once;
- memory.png: whole-server PSS, and PSS per live user, against the live users (sweep);
- cpu-per-click.png: server CPU per click against the live users (sweep).

Each curve is the median over the repetitions, point by point. Headless (the Agg backend);
matplotlib is imported only when drawing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.metrics import dig
from bench.servers import TARGETS
from bench.stats import CDF_PERCENTILES, median

Runs = list[dict[str, Any]]
STYLE = {"ours-1w": "C0", "htagweb": "C3", "floor": "C2", "ours-4w": "C1", "ours-portable": "C4"}


def _results(runs: Runs, scenario: str, target: str) -> list[dict[str, Any]]:
    return [
        run["result"]
        for run in runs
        if run["scenario"] == scenario and run["target"] == target and run.get("result")
    ]


def _targets(runs: Runs) -> list[str]:
    present = {run["target"] for run in runs}
    return [name for name in TARGETS if name in present]


def median_cdf(results: Iterable[dict[str, Any]], *path: str) -> list[float]:
    """The distribution (values at CDF_PERCENTILES) at `path`, median point by point."""
    curves = []
    for result in results:
        node: Any = result
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and len(node.get("cdf_ms") or []) == len(CDF_PERCENTILES):
            curves.append(node["cdf_ms"])
    return [median([c[i] for c in curves]) for i in range(len(CDF_PERCENTILES))] if curves else []


def sweep_series(
    runs: Runs, target: str, get: Callable[[dict[str, Any]], float]
) -> list[tuple[int, float]]:
    """(live users, median over repetitions of get(step)) for each sweep size reached."""
    by_size: dict[int, list[float]] = {}
    for result in _results(runs, "sweep", target):
        for step in result.get("steps", []):
            if step.get("reached"):
                by_size.setdefault(int(step["size"]), []).append(get(step))
    points = [(size, median(values)) for size, values in sorted(by_size.items())]
    return [(size, value) for size, value in points if math.isfinite(value)]


def draw(data: dict[str, Any], out: Path) -> list[Path]:
    """Draw every picture of a run (its JSON, `data`) into `out`; return the files written
    (a picture with no data is not drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    runs: Runs = data["runs"]
    sizes: dict[str, Any] = data["sizes"]
    python = data.get("machine", {}).get("software", {}).get("ours", {}).get("python", "?")
    title = f"{data.get('started', '')[:10]}, commit {data.get('machine', {}).get('commit')}"
    title += f", Python {python}, median of {data.get('reps')} repetition(s)"
    written = []
    for name, painter in (
        ("clicks-cdf.png", _clicks_cdf),
        ("new-users.png", _new_users),
        ("memory.png", _memory),
        ("cpu-per-click.png", _cpu),
    ):
        path = out / name
        if painter(runs, path, title, sizes):
            written.append(path)
        else:  # nothing to show (a run without that scenario)
            path.unlink(missing_ok=True)
    return written


def _legend(ax: Any, size: int) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=size)


def _save(fig: Any, path: Path, title: str) -> None:
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _clicks_cdf(runs: Runs, path: Path, title: str, sizes: dict[str, Any]) -> bool:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    panels = (
        ("1 user, one click at a time", ("single", "click")),
        (f"{sizes['multi_users']} users clicking at once", ("multi", "click")),
    )
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    drawn = False
    for ax, (label, where) in zip(axes, panels, strict=True):
        for target in _targets(runs):
            cdf = median_cdf(_results(runs, "clicks", target), *where)
            if cdf:
                ax.plot(
                    cdf,
                    [q / 100 for q in CDF_PERCENTILES],
                    label=TARGETS[target].label,
                    color=STYLE.get(target),
                )
                drawn = True
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel("click latency (ms, log scale)")
        ax.set_ylabel("share of clicks at or below")
        ax.set_title(label, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax, 8)
    _save(fig, path, title)
    return drawn


def _new_users(runs: Runs, path: Path, title: str, sizes: dict[str, Any]) -> bool:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = False
    for target in _targets(runs):
        results = _results(runs, "new_users", target)
        for pct, dash in (("p50_ms", "-"), ("p99_ms", ":")):
            points = []
            paths: list[tuple[int, tuple[str, ...]]] = [(1, ("sequential",))]
            paths.append((int(sizes["concurrency"]), ("concurrent",)))
            paths += [
                (int(n), ("by_concurrency", str(n))) for n in sizes.get("more_concurrency", [])
            ]
            for level, where in sorted(paths):
                value = median([dig(r, *where, "usable", pct) for r in results])
                if math.isfinite(value):
                    points.append((level, value))
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(
                    xs,
                    ys,
                    dash,
                    marker="o",
                    color=STYLE.get(target),
                    label=f"{TARGETS[target].label} {pct[:3]}",
                )
                drawn = True
    ax.set_yscale("log")
    ax.set_xlabel("new users arriving at once")
    ax.set_ylabel("usable page (ms, log scale)")
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, 7)
    _save(fig, path, title)
    return drawn


def _memory(runs: Runs, path: Path, title: str, sizes: dict[str, Any]) -> bool:
    import matplotlib.pyplot as plt

    fig, (whole, each) = plt.subplots(1, 2, figsize=(10, 4))
    drawn = False
    for target in _targets(runs):
        pss = sweep_series(runs, target, lambda s: dig(s, "server_memory", "pss_mib"))
        per = sweep_series(
            runs, target, lambda s: dig(s, "server_memory", "pss_mib") / max(s["live_users"], 1)
        )
        if pss:
            label, color = TARGETS[target].label, STYLE.get(target)
            whole.plot(*zip(*pss, strict=True), marker="o", label=label, color=color)
            each.plot(*zip(*per, strict=True), marker="o", label=label, color=color)
            drawn = True
    for ax, what in ((whole, "whole server PSS (MiB)"), (each, "PSS per live user (MiB)")):
        ax.set_xscale("log")
        ax.set_xlabel("live users (each with its websocket open)")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax, 8)
    whole.set_yscale("log")
    _save(fig, path, title)
    return drawn


def _step_cpu(phase: str, step: dict[str, Any]) -> float:
    return dig(step, phase, "server_cpu_per_click_ms")


def _cpu(runs: Runs, path: Path, title: str, sizes: dict[str, Any]) -> bool:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = False
    for target in _targets(runs):
        for phase, dash in (("few", "-"), ("many", ":")):
            series = sweep_series(runs, target, functools.partial(_step_cpu, phase))
            if series:
                clicking = sizes["sweep_few"] if phase == "few" else sizes["sweep_active"]
                ax.plot(
                    *zip(*series, strict=True),
                    dash,
                    marker="o",
                    color=STYLE.get(target),
                    label=f"{TARGETS[target].label}, {clicking} clicking",
                )
                drawn = True
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("live users")
    ax.set_ylabel("server CPU per click (ms)")
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, 7)
    _save(fig, path, title)
    return drawn
