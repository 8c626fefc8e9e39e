"""How many fresh interpreters start at once on the portable path (sans-IO, an injected clock).

Starting one is CPU work (the interpreter, then importing htag and the App): with more at
once than the machine has CPUs, each only takes longer and every user waits for the whole
burst. The gate lets `limit` start together (one per usable CPU), counting each from its
spawn until it says it is up (its WARM frame on the link) or is gone; the users beyond wait
in the template's StartQueue, in order.

A start that has not said so within STALL seconds stops counting: one interpreter stuck in
an App's import must not hold back every new user.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

STALL = 30.0  # seconds after which a start no longer counts against the limit


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class StartGate:
    """The interpreters starting now, and whether another may (see the module docstring)."""

    def __init__(self, limit: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.limit = limit or usable_cpus()
        self.clock = clock
        self._starting: dict[int, float] = {}  # pid: when it was spawned

    def started(self, pid: int) -> None:
        self._starting[pid] = self.clock()

    def up(self, pid: int) -> None:
        """`pid` is up (or gone): it no longer counts."""
        self._starting.pop(pid, None)

    def is_starting(self, pid: int) -> bool:
        return pid in self._starting

    def open(self) -> bool:
        """Whether one more interpreter may start now."""
        now = self.clock()
        stalled = [pid for pid, at in self._starting.items() if now - at >= STALL]
        for pid in stalled:
            del self._starting[pid]
        return len(self._starting) < self.limit
