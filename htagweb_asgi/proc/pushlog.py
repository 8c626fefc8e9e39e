"""The recent pushes of a user process, numbered, for pages that come back (sans-IO).

Every push gets the next number (``seq``, from 1). A page tells which one it has last when it
(re)attaches; it then gets the ones after it from here, or one full rendering of the App when
some are no longer kept. So a page loses no push across a cut, and an App that pushes while
no page is attached holds at most ``max_entries`` pushes (``max_bytes`` of them), whatever
it pushes and for however long: beyond, the oldest go, and the page that comes back gets the
full rendering instead of them.

An interaction's visible effect is also for the *other* pages of the App (tabs of one
session): an entry with an ``origin`` page is not for that page (it has the reply), and an
entry without data says "a full rendering shows this change" (made when no other page was
there to take the effect then, so that rendering it was not worth its cost).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

MAX_ENTRIES = 200
MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class Entry:
    seq: int
    data: bytes | None  # htag's actions (JSON); None: only a full rendering shows this change
    origin: str | None = None  # the page whose interaction this is the effect of
    echo: bool = False  # an interaction's effect (bare clients get only the App's pushes)

    def is_for(self, page: str | None) -> bool:
        return self.origin is None or self.origin != page


class PushLog:
    """Numbered pushes, the most recent ones kept."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: deque[Entry] = deque()
        self._bytes = 0
        self.seq = 0  # the number of the last push (0: none yet)

    def append(self, data: bytes | None, origin: str | None = None, echo: bool = False) -> Entry:
        """Number and keep a push (the oldest ones go beyond the bounds)."""
        self.seq += 1
        entry = Entry(self.seq, data, origin, echo)
        self._entries.append(entry)
        self._bytes += len(data or b"")
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            self._bytes -= len(self._entries.popleft().data or b"")
        return entry

    def since(self, resume: int, page: str | None) -> list[Entry] | None:
        """The pushes after number `resume` that are for `page`, in order; None when the page
        needs a full rendering instead (some are no longer kept, one says so, or `resume`
        is not a number this log gave)."""
        if resume < 0 or resume > self.seq:
            return None
        first = self._entries[0].seq if self._entries else self.seq + 1
        if resume + 1 < first:
            return None
        missed = [entry for entry in self._entries if entry.seq > resume and entry.is_for(page)]
        if any(entry.data is None for entry in missed):
            return None
        return missed

    def last_for(self, page: str | None) -> int:
        """The number of the last push for `page` still kept (0: none): what a reply made now
        must follow. A page that has not got one it is owed gets a full rendering, numbered
        after it, when it comes back."""
        for entry in reversed(self._entries):
            if entry.is_for(page):
                return entry.seq
        return 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def kept_bytes(self) -> int:
        return self._bytes
