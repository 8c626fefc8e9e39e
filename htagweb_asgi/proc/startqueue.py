"""New users waiting for an interpreter to start (sans-IO, an injected clock).

On the portable path every new user process is a fresh interpreter that imports htag and
the App: a few hundred milliseconds of CPU each. Fifty users arriving at once used to start
fifty interpreters at once; on a busy two-core machine each then took the whole burst's
time (over 60 s), and the first users waited as long as the last. The template starts at
most a few at once (see PortableSpares.can_start) and holds the other SPAWN requests
here, first come first served: each user waits for the ones before it only, and the
spares are refilled through the same cap, after the users waiting.

A request that waited longer than `max_wait` is answered "busy" (the page gets a 503 with
Retry-After, as when the cap on processes is reached) rather than left hanging.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

# seconds a new user may wait for its turn to start: then a "busy" page, asking to retry
# (a browser or a proxy in front would give up on its own a little later: nginx at 60 s)
MAX_WAIT = 30.0


@dataclass
class Waiting:
    """One SPAWN request waiting for its turn."""

    holder: Hashable  # the worker's connection the answer goes to
    key: str
    request: dict[str, Any]
    client: str
    since: float


class StartQueue:
    """SPAWN requests in their order of arrival (see the module docstring)."""

    def __init__(self, clock: Callable[[], float], max_wait: float = MAX_WAIT) -> None:
        self.clock = clock
        self.max_wait = max_wait
        self._waiting: deque[Waiting] = deque()

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, holder: Hashable, key: str, request: dict[str, Any], client: str) -> None:
        self._waiting.append(Waiting(holder, key, request, client, self.clock()))

    def head(self) -> Waiting | None:
        return self._waiting[0] if self._waiting else None

    def pop(self) -> Waiting:
        return self._waiting.popleft()

    def forget(self, holder: Hashable) -> list[Waiting]:
        """The requests of `holder`, whose connection closed (its page was cancelled):
        nobody waits for them any more."""
        gone = [waiting for waiting in self._waiting if waiting.holder == holder]
        if gone:
            self._waiting = deque(w for w in self._waiting if w.holder != holder)
        return gone

    def overdue(self) -> list[Waiting]:
        """Take out the requests that waited longer than `max_wait` (the oldest first)."""
        late: list[Waiting] = []
        now = self.clock()
        while self._waiting and now - self._waiting[0].since >= self.max_wait:
            late.append(self._waiting.popleft())
        return late

    def deadline(self) -> float | None:
        """When the oldest request will be overdue (None: nobody waits)."""
        return self._waiting[0].since + self.max_wait if self._waiting else None
