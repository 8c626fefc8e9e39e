"""Which workers rely on a template, and when to ask whether its server is gone (sans-IO).

Each worker that uses an App holds a *lease*: a connection to the template it keeps open.
When none is left (the last worker said goodbye, or the kernel closed the sockets of
SIGKILLed workers), the template waits ``grace`` seconds, then asks whether the server still
accepts connections (see Supervisor): a worker restart leaves it listening, a stopped
server does not.

A stopped server may be a restarting one (a deploy, ``systemctl restart``): the template
keeps its user processes for ``restart_grace`` more seconds, asking again every ``grace``,
so that a new server on the same address adopts them (its workers take leases). Only a
server gone for that long ends them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable


class Leases:
    """The leases of one template, with the time the last one was lost."""

    def __init__(
        self, grace: float, clock: Callable[[], float], restart_grace: float = 0.0
    ) -> None:
        self.grace = grace
        self.restart_grace = restart_grace
        self._clock = clock
        self._holders: set[Hashable] = set()
        self.lost_at: float | None = clock()  # none yet: the first worker takes one at once
        self.gone_since: float | None = None  # when the server was first found not listening

    def __len__(self) -> int:
        return len(self._holders)

    def __contains__(self, holder: Hashable) -> bool:
        return holder in self._holders

    def holders(self) -> list[Hashable]:
        return list(self._holders)

    def take(self, holder: Hashable) -> None:
        self._holders.add(holder)
        self.lost_at = None
        self.gone_since = None  # a server (perhaps a new one) uses us: adopted

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
        """The server still listens (a worker restarting, or a new server that has not used
        this App yet): ask again after another grace."""
        self.lost_at = self._clock()
        self.gone_since = None

    def server_gone(self) -> bool:
        """The server does not listen: True once it has not for ``restart_grace`` seconds
        (time to stop); until then, ask again after another grace."""
        now = self._clock()
        if self.gone_since is None:
            self.gone_since = now
        if now - self.gone_since >= self.restart_grace:
            return True
        self.lost_at = min(now, self.gone_since + self.restart_grace - self.grace)
        return False

    def waiting_for_server(self) -> float | None:
        """Seconds left before the processes end, while the server is gone (else None)."""
        if self.gone_since is None:
            return None
        return max(0.0, self.gone_since + self.restart_grace - self._clock())
