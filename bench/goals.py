"""Issue 3's targets for our host, checked against the medians of a run."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Medians = dict[str, dict[str, Any]]  # {metric key: {"median": ...}} of one target


def _m(medians: Medians, key: str) -> float:
    value = medians.get(key, {}).get("median", math.nan)
    return float(value) if value is not None else math.nan


@dataclass(frozen=True)
class Goal:
    text: str
    measure: Callable[[Medians, Medians], float]  # (ours, floor) → the figure
    limit: float
    at_most: bool = True  # else at least
    unit: str = "ms"

    def check(self, ours: Medians, floor: Medians) -> dict[str, Any]:
        value = self.measure(ours, floor)
        met: bool | None = None
        if math.isfinite(value):
            met = value <= self.limit if self.at_most else value >= self.limit
        return {"goal": self.text, "value": value, "limit": self.limit, "met": met}


def _flatness(ours: Medians, _floor: Medians) -> float:
    """Largest change (in %) of the per-click CPU, with the same few users clicking at every
    sweep size, from its value at the smallest size."""
    suffix = "_few_cpu"
    sizes = sorted(int(k[5 : -len(suffix)]) for k in ours if k.endswith(suffix))
    if len(sizes) < 2:
        return math.nan
    base = _m(ours, f"sweep{sizes[0]}{suffix}")
    values = [_m(ours, f"sweep{size}{suffix}") for size in sizes[1:]]
    if not all(math.isfinite(v) for v in values):
        return math.nan  # a size was not reached: flatness unknown
    return max(abs(v / base - 1) for v in values) * 100


GOALS = [
    Goal("new-user page p50, one at a time ≤ 12 ms", lambda o, f: _m(o, "new_seq_usable_p50"), 12),
    Goal("new-user page p50, 10 at a time ≤ 50 ms", lambda o, f: _m(o, "new_conc_usable_p50"), 50),
    Goal(
        "a connected user's click p99 while users arrive ≤ 5 ms",
        lambda o, f: _m(o, "arrival_click_p99"),
        5,
    ),
    Goal("click p50 ≤ 0.6 ms (1 user)", lambda o, f: _m(o, "click1_p50"), 0.6),
    Goal("click p99 ≤ 1.2 ms (1 user)", lambda o, f: _m(o, "click1_p99"), 1.2),
    Goal(
        "click p50 ≤ 1.3x the floor's (1 user)",
        lambda o, f: _m(o, "click1_p50") / _m(f, "click1_p50"),
        1.3,
        unit="x",
    ),
    Goal(
        "≥ 2,500 interactions/s at 50 users",
        lambda o, f: _m(o, "click50_rate"),
        2500,
        at_most=False,
        unit="/s",
    ),
    Goal("≤ 0.6 ms server CPU per click (50 users)", lambda o, f: _m(o, "click50_cpu"), 0.6),
    Goal(
        "≤ 4.5 MiB USS per user process after 500 clicks",
        lambda o, f: _m(o, "uss_after_clicks"),
        4.5,
        unit="MiB",
    ),
    Goal(
        "≤ 6 MiB PSS per user process after 500 clicks",
        lambda o, f: _m(o, "pss_after_clicks"),
        6,
        unit="MiB",
    ),
    Goal(
        "per-click CPU flat (±20 %) from 10 to 1,000 users (10 clicking at every size)",
        _flatness,
        20,
        unit="%",
    ),
]


def check(ours: Medians, floor: Medians) -> list[dict[str, Any]]:
    return [goal.check(ours, floor) | {"unit": goal.unit} for goal in GOALS]
