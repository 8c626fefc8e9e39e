"""Percentiles of latency samples, and medians across repetitions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of sorted values, interpolating between ranks."""
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# the percentiles kept of every latency sample set (its distribution, for the CDF pictures):
# every 5 % to 90 %, every 1 % to 99 %, then the tail
CDF_PERCENTILES = (*range(0, 90, 5), *range(90, 100), 99.5, 99.9, 100)


def latency_summary(samples_ns: Sequence[int]) -> dict[str, Any]:
    """count, p50/p90/p99/max/mean in milliseconds (NaN when there is no sample), and the
    distribution: `cdf_ms` = the values at CDF_PERCENTILES."""
    ordered = sorted(samples_ns)
    ms = [value / 1e6 for value in ordered]
    return {
        "count": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": ms[-1] if ms else math.nan,
        "mean_ms": sum(ms) / len(ms) if ms else math.nan,
        "cdf_ms": [percentile(ms, q) for q in CDF_PERCENTILES] if ms else [],
    }


def median(values: Sequence[float]) -> float:
    """The median of the finite values (NaN if none): a missing repetition does not count."""
    finite = sorted(v for v in values if isinstance(v, (int, float)) and math.isfinite(v))
    return percentile(finite, 50)
