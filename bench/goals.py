"""Issue 17's targets for our host (performance, round 2), checked against the medians of a
run: absolute figures, and ratios to the peers measured side by side in the same run (the
floor, htagweb 1.0.0), which hold on a noisy machine. The capacity target (live users held)
is measured by its own run (BENCHMARKS.md, "Capacity"), not here."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Medians = dict[str, dict[str, Any]]  # {metric key: {"median": ...}} of one target
Peers = dict[str, Medians]  # "floor", "htagweb": their medians in this run (absent: {})


def _m(medians: Medians, key: str) -> float:
    value = medians.get(key, {}).get("median", math.nan)
    return float(value) if value is not None else math.nan


@dataclass(frozen=True)
class Goal:
    text: str
    measure: Callable[[Medians, Peers], float]  # (ours, peers) → the figure
    limit: float
    at_most: bool = True  # else at least
    unit: str = "ms"
    peers: tuple[str, ...] = ()  # the peers the figure needs (a ratio to their figure)

    def check(self, ours: Medians, peers: Peers) -> dict[str, Any]:
        value = self.measure(ours, peers)
        met: bool | None = None
        if math.isfinite(value):
            met = value <= self.limit if self.at_most else value >= self.limit
        return {"goal": self.text, "value": value, "limit": self.limit, "met": met}


def _ratio(key: str, peer: str) -> Callable[[Medians, Peers], float]:
    return lambda ours, peers: _m(ours, key) / _m(peers.get(peer, {}), key)


def _own(key: str) -> Callable[[Medians, Peers], float]:
    return lambda ours, _peers: _m(ours, key)


def _flatness(ours: Medians, _peers: Peers) -> float:
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
    Goal("click p50 ≤ 1.3x the floor's (1 user)", _ratio("click1_p50", "floor"), 1.3,
         unit="x", peers=("floor",)),
    Goal("click p99, 50 users at once ≤ htagweb's", _ratio("click50_p99", "htagweb"), 1,
         unit="x", peers=("htagweb",)),
    Goal("click p99, 50 users at once ≤ 3x the floor's", _ratio("click50_p99", "floor"), 3,
         unit="x", peers=("floor",)),
    Goal("server CPU per click, 50 users ≤ 0.45 ms", _own("click50_cpu"), 0.45),
    Goal("server CPU per click, 50 users ≤ 2.8x the floor's", _ratio("click50_cpu", "floor"),
         2.8, unit="x", peers=("floor",)),
    Goal("≥ 3,000 interactions/s at 50 users", _own("click50_rate"), 3000, at_most=False,
         unit="/s"),
    Goal("new-user page p50, one at a time ≤ 10 ms", _own("new_seq_usable_p50"), 10),
    Goal("new-user page p50, one at a time ≤ 3.5x the floor's",
         _ratio("new_seq_usable_p50", "floor"), 3.5, unit="x", peers=("floor",)),
    Goal("new-user page p50, 10 at a time ≤ 50 ms", _own("new_conc_usable_p50"), 50),
    Goal("a connected user's click p99 while 10 arrive ≤ 1.2x the floor's",
         _ratio("arrival_click_p99", "floor"), 1.2, unit="x", peers=("floor",)),
    Goal("≤ 4.5 MiB USS per user process after 500 clicks", _own("uss_after_clicks"), 4.5,
         unit="MiB"),
    Goal("≤ 6 MiB PSS per user process after 500 clicks", _own("pss_after_clicks"), 6,
         unit="MiB"),
    Goal("per-click CPU flat (±20 %) from 10 to 1,000 users (10 clicking at every size)",
         _flatness, 20, unit="%"),
]  # fmt: skip


def check(ours: Medians, peers: Peers) -> list[dict[str, Any]]:
    return [goal.check(ours, peers) | {"unit": goal.unit} for goal in GOALS]
