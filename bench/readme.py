"""The README's "Measured figures": a few figures of the latest full run, written by it.

Written between two markers of README.md by every run that writes BENCHMARKS.md itself
(not ``--quick``, not a flood run, not another ``--markdown`` page), so the README never
quotes a run older than the report it links. A run without our host, htagweb 1.0.0 and the
floor leaves the section as it was.
"""

from __future__ import annotations

from typing import Any

from bench.report import fmt, python_of

BEGIN = "<!-- measured:begin (written by bash bench/run.sh: the latest full run) -->"
END = "<!-- measured:end -->"
COLUMNS = ("ours-1w", "htagweb", "floor")

# (row label, unit, the metrics shown in its cells, joined by " / ")
ROWS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "new user's usable page p50, one at a time / 10 at a time",
        "ms",
        ("new_seq_usable_p50", "new_conc_usable_p50"),
    ),
    ("click round trip p50 (1 user)", "ms", ("click1_p50",)),
    ("interactions/s, 50 users clicking at once", "", ("click50_rate",)),
    ("memory per user process (PSS, after 500 clicks)", "MiB", ("pss_after_clicks",)),
    ("`tag.update()` pushes delivered", "%", ("push_delivered",)),
]


def _cell(medians: dict[str, Any], keys: tuple[str, ...], unit: str) -> str:
    # a share reads as a whole number (fmt would print 0 as "0.000")
    values = [
        f"{value:.0f}" if unit == "%" and isinstance(value, (int, float)) else fmt(value, unit)
        for value in (medians.get(key, {}).get("median") for key in keys)
    ]
    if all(value == "—" for value in values):
        return "(none)"
    return " / ".join(values) + (f" {unit}" if unit else "")


def section(data: dict[str, Any]) -> str | None:
    """The README's section for this run; None when a column is missing."""
    medians = data.get("medians", {})
    if not all(name in medians for name in COLUMNS):
        return None
    head = (
        f"From the latest run of `{data['command']}` ({data['started'][:10]}, commit "
        f"{data['machine'].get('commit')}, Python {python_of(data)}, "
        f"{data['machine'].get('logical_cores')} cores; medians of {data['reps']} interleaved "
        "repetitions), beside [htagweb](https://pypi.org/project/htagweb/) 1.0.0 and htag's "
        "own in-process runner (the *floor*: one shared App, no process per user):"
    )
    lines = [
        BEGIN,
        head,
        "",
        "| | htagweb-asgi | htagweb 1.0.0 | floor |",
        "|---|---|---|---|",
    ]
    for label, unit, keys in ROWS:
        cells = [_cell(medians[name], keys, unit) for name in COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "![Click latency distribution: htagweb-asgi, htagweb 1.0.0 and the floor]"
        "(docs/img/bench/clicks-cdf.png)",
        "",
        "The whole report, its pictures and what each figure means: "
        "[BENCHMARKS.md](BENCHMARKS.md).",
        END,
    ]
    return "\n".join(lines)


def merge(readme: str, new: str) -> str:
    """`readme` with its section replaced by `new` (unchanged without the markers)."""
    if BEGIN not in readme or END not in readme:
        return readme
    before, _, rest = readme.partition(BEGIN)
    return before + new + rest.partition(END)[2]
