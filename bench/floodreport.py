"""The flood's section of BENCHMARKS.md: written by a run of the flood scenarios alone
(``--scenarios flood,flood_ws``), kept by the other runs, as the htag 2 section is.

The rest of BENCHMARKS.md holds figures measured on a quiet machine; a flood run on another
day (or a busy machine) must not replace them, and theirs must not replace it.
"""

from __future__ import annotations

import math
from typing import Any

from bench.metrics import Metric
from bench.report import fmt, load_line
from bench.servers import TARGETS

BEGIN = "<!-- flood:begin (written by python -m bench --scenarios flood,flood_ws) -->"
END = "<!-- flood:end -->"
SCENARIOS = {"flood", "flood_ws"}
OURS, THEIRS = "ours-1w", "htagweb"

WHAT = """\
One address (127.0.0.2) sends cookie-less page loads at a fixed rate, at most
{flood_concurrency} at a time (a load that cannot start on time is counted as not sent); in
`flood_ws` each page served becomes a visitor that keeps its websocket and clicks every
{flood_click_every:g} s (as in the measurement that opened issue 11), so that its processes
look used. Meanwhile, from 127.0.0.1, a user who clicked before clicks every 0.5 s, and a
new user arrives every {flood_arrive_every:g} s: a usable page (page, client script,
websocket ready), then 3 clicks. "Served" is the share of those newcomers whose page and 3
clicks all worked; their latencies count while the flood lasts. The attacker's processes
are every process of the server less those before the flood (server, template, spares, the
warm-up user) and one per newcomer served, counted every {flood_sample_every:g} s, and once
more {flood_after:g} s after the flood stopped; the whole server's PSS is summed at each
count. Our host runs at its default settings (`HtagASGI(App)`: admission control as it
ships, the process cap sized to the machine); htagweb 1.0.0 as `Runner(App)`, in its
sandbox (see bench/README.md)."""


def is_flood_run(scenarios: list[str]) -> bool:
    return bool(scenarios) and set(scenarios) <= SCENARIOS


def section(data: dict[str, Any], all_metrics: list[Metric]) -> str:
    """The section, between its markers."""
    targets = [name for name in (OURS, THEIRS) if name in data["medians"]]
    head = ["what", "figure", *(TARGETS[name].label for name in targets)]
    if len(targets) == 2:
        head.append(f"{TARGETS[OURS].label.split(',')[0]} / {TARGETS[THEIRS].label}")
    lines = [
        BEGIN,
        "## Anonymous traffic: a flood from one address (issue 11)",
        "",
        f"Measured with `{data['command']}` on {data['started'][:10]}, commit "
        f"{data['machine'].get('commit')}: {data['reps']} repetition(s) interleaved between "
        f"the targets, each on a freshly started server; each figure is the median of the "
        f"repetitions. Errors of the bench: {data['errors']} "
        f"({data['clicks_checked']:,} click replies checked). Raw figures: `{data['json']}`.",
        "",
        load_line(data["runs"], data["machine"]["logical_cores"]),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for metric in (m for m in all_metrics if m.scenario in SCENARIOS):
        values = [data["medians"][t].get(metric.key, {}).get("median") for t in targets]
        cells = [metric.group, f"{metric.label} ({metric.unit})" if metric.unit else metric.label]
        cells += [fmt(value, metric.unit) for value in values]
        if len(targets) == 2:
            ours, theirs = values
            ratio = ours / theirs if _finite(ours) and _finite(theirs) and theirs else math.nan
            cells.append(f"{fmt(ratio)}x" if math.isfinite(ratio) else "—")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", WHAT.format(**data["sizes"]), "", *_statuses(data), "", END]
    return "\n".join(lines) + "\n"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _statuses(data: dict[str, Any]) -> list[str]:
    """What the attacker's page loads got, and what the newcomers who failed got, per run."""
    found = []
    for run in data["runs"]:
        result = run.get("result") or {}
        if run["scenario"] not in SCENARIOS or not result:
            continue
        label = TARGETS[run["target"]].label
        failed = result.get("newcomers_failed") or {}
        found.append(
            f"- {run['scenario']}, {label}, repetition {run['rep'] + 1}: the attacker's page "
            f"loads got {result.get('attacker_statuses')}; newcomers "
            f"{result.get('newcomers_ok')} of {result.get('newcomers')} served"
            + (f", the others got {failed}" if failed else "")
        )
    return found


def merge(existing: str, new_section: str) -> str:
    """`existing` (BENCHMARKS.md) with its flood section replaced, or `new_section` put
    before the htag 2 section (or at the end)."""
    if BEGIN in existing and END in existing:
        head, _, rest = existing.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + new_section.rstrip("\n") + tail
    marker = "<!-- htag2:begin"
    if marker in existing:
        head, _, tail = existing.partition(marker)
        return head + new_section + "\n" + marker + tail
    return existing.rstrip("\n") + "\n\n" + new_section


def keep(previous: str, rewritten: str) -> str:
    """A full run rewrites BENCHMARKS.md: keep the flood section it had."""
    if BEGIN in previous and END in previous:
        kept = BEGIN + previous.partition(BEGIN)[2].partition(END)[0] + END + "\n"
        return merge(rewritten, kept)
    return rewritten
