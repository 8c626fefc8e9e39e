"""Why each user process ended: classified once reaped, counted (for the metrics), kept a
while by pid, and told to the workers that ask (ENDED) so that a user hears "this session
reached its memory limit" rather than "the application stopped unexpectedly".

A worker asks when its connection to a process closed without an END frame; the process
may not be reaped yet (it closed its sockets on its way out), so the question waits for
the reap. Sans-IO: the template's loop sends the replies this returns.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Hashable

from htagweb_asgi.proc.limiter import MESSAGES
from htagweb_asgi.protocol.frames import Kind, encode_json

logger = logging.getLogger(__name__)

# Why a user process ended, as counted: by itself (exit: the App called exit(); crash: any
# other end it chose or suffered), or because we ended it (and why).
REASONS = (
    "exit",
    "crash",
    "limit",
    "timeout",
    "inactivity",
    "unattached",
    "eviction",
    "operator",
    "session_end",
    "replaced",
    "shutdown",
)
KEEP = 4096  # deaths remembered by pid, for workers that ask late


class Deaths:
    """The ended processes of one template."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter({reason: 0 for reason in REASONS})
        self.limits: Counter[str] = Counter({kind: 0 for kind in MESSAGES})
        self._recent: OrderedDict[int, dict[str, str]] = OrderedDict()
        self._waiting: dict[int, list[Hashable]] = {}

    def started(self, pid: int) -> None:
        """A new process has `pid`: a death recorded under it belongs to an older one."""
        self._recent.pop(pid, None)

    def ended(
        self, pid: int, reason: str, limit: str | None = None
    ) -> list[tuple[Hashable, bytes]]:
        """Record a reaped user process; return the replies owed to the workers that asked."""
        self.counts[reason] += 1
        answer = {"reason": reason, "message": MESSAGES.get(limit or "", "")}
        if limit is not None:
            self.limits[limit] += 1
            answer["limit"] = limit
        self._recent[pid] = answer
        while len(self._recent) > KEEP:
            self._recent.popitem(last=False)
        return [(holder, encode_json(Kind.DONE, answer)) for holder in self._waiting.pop(pid, [])]

    def ask(self, holder: Hashable, pid: int, alive: bool) -> bytes | None:
        """The reply to "why did `pid` end?" now, or None: answered when it is reaped."""
        if pid in self._recent:
            return encode_json(Kind.DONE, self._recent[pid])
        if not alive:
            return encode_json(Kind.DONE, {"reason": "unknown", "message": ""})
        self._waiting.setdefault(pid, []).append(holder)
        return None

    def forget(self, holder: Hashable) -> None:
        """`holder`'s connection is gone: it no longer waits for anything."""
        for pid in list(self._waiting):
            self._waiting[pid] = [h for h in self._waiting[pid] if h != holder]
            if not self._waiting[pid]:
                del self._waiting[pid]
