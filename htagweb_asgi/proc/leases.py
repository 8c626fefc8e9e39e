"""Which workers rely on a template, and when to ask whether its server is gone (sans-IO).

Each worker that uses an App holds a *lease*: a connection to the template it keeps open.
When none is left (the last worker said goodbye, or the kernel closed the sockets of
SIGKILLed workers), the template waits ``grace`` seconds, then asks whether the server still
accepts connections (see Supervisor): a worker restart leaves it listening, a stopped
server does not.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable


class Leases:
    """The leases of one template, with the time the last one was lost."""

    def __init__(self, grace: float, clock: Callable[[], float]) -> None:
        self.grace = grace
        self._clock = clock
        self._holders: set[Hashable] = set()
        self.lost_at: float | None = clock()  # none yet: the first worker takes one at once

    def __len__(self) -> int:
        return len(self._holders)

    def __contains__(self, holder: Hashable) -> bool:
        return holder in self._holders

    def holders(self) -> list[Hashable]:
        return list(self._holders)

    def take(self, holder: Hashable) -> None:
        self._holders.add(holder)
        self.lost_at = None

    def lose(self, holder: Hashable) -> None:
        """A holder's connection ended (a worker stopped or was killed)."""
        self._holders.discard(holder)
        if not self._holders and self.lost_at is None:
            self.lost_at = self._clock()

    def give_back(self, holder: Hashable) -> None:
        """A worker said goodbye: if it was the last, ask about the server at once."""
        self._holders.discard(holder)
        if not self._holders:
            self.lost_at = self._clock() - self.grace

    def deadline(self) -> float | None:
        """When to ask about the server next (None: a worker holds a lease)."""
        return None if self.lost_at is None else self.lost_at + self.grace

    def due(self) -> bool:
        """No lease for `grace` seconds: time to ask whether the server is gone."""
        deadline = self.deadline()
        return deadline is not None and self._clock() >= deadline

    def still_needed(self) -> None:
        """The server still listens (a worker restarting): ask again after another grace."""
        self.lost_at = self._clock()
