"""The htag 2 section of BENCHMARKS.md: medians side by side, and the ratio.

The section lives between two markers, so that this bench and the htag 1 one (bench/cli.py,
which rewrites the rest of the file) each keep the other's figures.
"""

from __future__ import annotations

import math
from typing import Any

from bench.stats import median

BEGIN = "<!-- htag2:begin (written by python -m bench.htag2) -->"
END = "<!-- htag2:end -->"

# (what, figure, path in a scenario's result, digits rule: "ms", "n" or "mib")
ROWS: list[tuple[str, str, tuple[str, ...]]] = [
    ("New user", "usable page p50 (ms)", ("new_users", "usable", "p50_ms")),
    ("New user", "usable page p90 (ms)", ("new_users", "usable", "p90_ms")),
    ("New user", "page HTML alone p50 (ms)", ("new_users", "page", "p50_ms")),
    ("New user", "server CPU per new user (ms)", ("new_users", "cpu_ms_per_user")),
    ("Click, 1 user", "p50 (ms)", ("clicks", "one_user", "p50_ms")),
    ("Click, 1 user", "p99 (ms)", ("clicks", "one_user", "p99_ms")),
    ("Clicks, 20 users at once", "clicks per second", ("clicks", "clicks_per_s")),
    ("Clicks, 20 users at once", "p99 (ms)", ("clicks", "concurrent", "p99_ms")),
    ("Clicks, 20 users at once", "server CPU per click (ms)", ("clicks", "cpu_ms_per_click")),
    ("Push", "update() to receipt p50 (ms)", ("pushes", "update_to_receipt", "p50_ms")),
    ("Push", "click to third push p50 (ms)", ("pushes", "click_to_last", "p50_ms")),
    ("Memory", "whole server, 21 users live: PSS (MiB)", ("clicks", "memory_live", "pss_mib")),
    ("Memory", "each more user: PSS (MiB)", ("clicks", "pss_mib_per_user")),
    ("Memory", "one user's own process: USS (MiB)", ("clicks", "own_process", "uss_mib")),
    ("Memory", "one user's own process: PSS (MiB)", ("clicks", "own_process", "pss_mib")),
    ("Anonymous flood", "page loads per second", ("flood", "per_s")),
    ("Anonymous flood", "whole server after: PSS (MiB)", ("flood", "memory_after", "pss_mib")),
    ("Anonymous flood", "PSS kept per page load (KiB)", ("flood", "pss_kib_per_request")),
    ("Anonymous flood", "then a user's click p50 (ms)", ("flood", "click_after", "p50_ms")),
]


def dig(data: Any, path: tuple[str, ...]) -> float:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return math.nan
        data = data[key]
    return float(data) if isinstance(data, (int, float)) else math.nan


def medians(runs: list[dict[str, Any]], targets: list[str]) -> dict[str, dict[str, float]]:
    """Per target, each row's median over the repetitions."""
    table: dict[str, dict[str, float]] = {}
    for target in targets:
        mine = [run for run in runs if run["target"] == target and "result" in run]
        table[target] = {
            " / ".join(row[:2]): median(
                [dig({run["scenario"]: run["result"]}, row[2]) for run in mine]
            )
            for row in ROWS
        }
    return table


def fmt(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def render(data: dict[str, Any]) -> str:
    """The section, markers included."""
    labels = data["labels"]
    ours, runner = data["targets"]
    table = data["medians"]
    lines = [
        BEGIN,
        "## htag 2: htagweb-asgi beside htag 2's own runner",
        "",
        f"Measured with `{data['command']}` on {data['started'][:10]}, commit "
        f"{data['commit']}: {data['reps']} repetition(s) interleaved between the two targets "
        "(their order rotating), each scenario on a freshly started server, each figure the "
        f"**median of the repetitions**. Whole run: {data['duration_s'] / 60:.0f} min; "
        f"errors: {data['errors']}. The machine is shared: load average "
        f"{data['load_before']} at the start, {data['load_after']} at the end. "
        "Raw figures: `BENCHMARKS-htag2.json`.",
        "",
        f"- {labels[ours]}: {data['versions'][ours]}",
        f"- {labels[runner]}: {data['versions'][runner]}",
        "- Both serve `bench/apps/counter2.py` under `uvicorn --loop uvloop --http httptools "
        "--ws websockets`, 1 worker; see `bench/htag2/scenarios.py` for what each row does.",
        "",
        f"| what | figure | {labels[ours]} | {labels[runner]} | ratio |",
        "|---|---|---|---|---|",
    ]
    for what, figure, _ in ROWS:
        key = f"{what} / {figure}"
        a, b = table[ours][key], table[runner][key]
        ratio = fmt(a / b) + "x" if math.isfinite(a) and math.isfinite(b) and b else "—"
        lines.append(f"| {what} | {figure} | {fmt(a)} | {fmt(b)} | {ratio} |")
    statuses = {t: data["flood_statuses"].get(t, {}) for t in (ours, runner)}
    lines += ["", *_flood_notes(data, statuses), "", END]
    return "\n".join(lines) + "\n"


def _flood_notes(data: dict[str, Any], statuses: dict[str, dict[str, int]]) -> list[str]:
    ours, runner = data["targets"]
    kept = "Anonymous flood / PSS kept per page load (KiB)"
    per_app, per_process = data["medians"][runner][kept], data["medians"][ours][kept]
    return [
        f"Anonymous flood: {data['flood_requests']} page loads without a cookie, "
        f"{data['flood_concurrency']} at a time (statuses of the last repetition: "
        f"{data['labels'][ours]} {statuses[ours]}, {data['labels'][runner]} "
        f"{statuses[runner]}). htag 2's runner creates an App for every page load without "
        f"its `htag_sid` cookie and keeps it for the life of the server (only `?n` removes "
        f"one): about {fmt(per_app)} KiB each here, without bound (a million strangers, "
        f"{fmt(per_app * 1e6 / 2**20)} GiB, kept until a restart). Our host starts a "
        f"user process for each, about {fmt(per_process / 1024)} MiB: a stranger costs far "
        "more here, but only up to the process cap (`max_processes`, 1000 in this bench, "
        "then the least used idle one is evicted or the page answers 503), and, at default "
        "settings, only for 30 s (a page that never attaches has its process ended) and "
        "20 of them, then 1 a second, per address (admission control, whose per-address "
        "limits this bench turns off: see the flood section above).",
    ]


def merge(existing: str, section: str) -> str:
    """`existing` (BENCHMARKS.md) with its htag 2 section replaced, or `section` appended."""
    if BEGIN in existing and END in existing:
        head, _, rest = existing.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + section.rstrip("\n") + tail
    return existing.rstrip("\n") + "\n\n" + section


def keep(previous: str, rewritten: str) -> str:
    """The htag 1 report rewrites BENCHMARKS.md: keep the htag 2 section it had."""
    if BEGIN in previous and END in previous:
        section = BEGIN + previous.partition(BEGIN)[2].partition(END)[0] + END + "\n"
        return merge(rewritten, section)
    return rewritten
