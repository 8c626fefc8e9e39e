"""Who may start a user process now (sans-IO): a token bucket per client address, and a
summary of the refusals for the operator.

The template answers every worker's SPAWN, one at a time, so this is the one place that
sees all the page loads that would start a process: limits kept here hold for the server as
a whole, where limits kept in each worker would let N workers multiply the allowance.
Addresses (what the worker resolved: an IPv4 address, an IPv6 /64, "unix"...) are only ever
compared and hashed here, in memory.
"""

from __future__ import annotations

import enum
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

REPORT_EVERY = 60.0  # seconds between two summaries of refusals in the log
_PRUNE_AT = 4096  # buckets kept before the full ones (which say nothing) are dropped


class Refused(enum.Enum):
    """Why a new process was not started."""

    FULL = "too many user processes"  # max_processes, and nobody may be evicted
    CLIENT_SHARE = "this address holds its share of the user processes"
    RATE = "this address starts new processes too fast"
    BUSY = "too many new processes starting at once"  # waited too long (see startqueue.py)


@dataclass
class _Bucket:
    tokens: float
    at: float


class CreationRate:
    """New processes per client address: `burst` at once, then `rate` per second."""

    def __init__(self, burst: int, rate: float, clock: Callable[[], float]) -> None:
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._prune_at = _PRUNE_AT

    def take(self, client: str) -> float:
        """Spend one creation of `client`: 0.0 when allowed, else the seconds to wait."""
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self._prune_at:
                self._prune(now)
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def give_back(self, client: str) -> None:
        """The creation spent did not happen (the App failed to load, the server was full)."""
        bucket = self._buckets.get(client)
        if bucket is not None:
            bucket.tokens = min(self.burst, bucket.tokens + 1.0)

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        """Forget the buckets that have refilled (a new one would be the same): the table
        stays as large as the addresses active lately, however many addresses pass by."""
        full = [
            client
            for client, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.at) * self.rate >= self.burst
        ]
        for client in full:
            del self._buckets[client]
        self._prune_at = max(_PRUNE_AT, 2 * len(self._buckets))


def retry_after(seconds: float) -> int:
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(seconds))


class RefusalLog:
    """Refusals and reclaimed processes, summed up in one log line per REPORT_EVERY seconds:
    a flood is one line a minute, not one per request."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.refused: Counter[Refused] = Counter()
        self.by_client: Counter[str] = Counter()
        self.reclaimed = 0
        self._since = clock()

    def refusal(self, reason: Refused, client: str) -> None:
        self.refused[reason] += 1
        self.by_client[client] += 1
        self._maybe_report()

    def reclaim(self) -> None:
        """A process whose page never attached was ended."""
        self.reclaimed += 1
        self._maybe_report()

    def _maybe_report(self) -> None:
        now = self.clock()
        if now - self._since < REPORT_EVERY:
            return
        if self.refused:
            reasons = ", ".join(f"{n} ({reason.value})" for reason, n in self.refused.items())
            top, count = self.by_client.most_common(1)[0]
            logger.warning(
                "admission control in the last %.0f s: refused %s; %d address(es), the "
                "busiest %s (%d)",
                now - self._since,
                reasons,
                len(self.by_client),
                top,
                count,
            )
        if self.reclaimed:
            logger.info(
                "ended %d user process(es) whose page never attached in the last %.0f s",
                self.reclaimed,
                now - self._since,
            )
        self.refused.clear()
        self.by_client.clear()
        self.reclaimed = 0
        self._since = now
