"""The replies a user process remembers, so that a resent interaction is never run twice
(sans-IO).

A page numbers its interactions (pagewire.InteractionId) and resends those it got no reply
for, in order, after a cut: the reply was lost, the connection reset, the worker that
relayed it restarted. The process outlives all of these, so it answers a resend with the
reply it made the first time. Memory is bounded: the last ``max_replies`` replies (at most
``max_bytes`` of them) and, per page, the highest number seen (``max_pages`` pages). A resend
whose reply was forgotten is told so (FORGOTTEN), never run again: the caller answers it with
the App as it is now.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from htagweb_asgi.proc.pagewire import InteractionId

MAX_REPLIES = 64
MAX_BYTES = 256 * 1024
MAX_PAGES = 256


@dataclass(frozen=True)
class Answer:
    """What an interaction was answered, as the process made it (before any sealing)."""

    data: bytes  # htag's actions (JSON), or the refusal's JSON when `refused`
    after: int  # the last push made before the reply
    changes: dict[str, Any] | None = None  # the session changes sent with it
    refused: bool = False  # REJECT: the interaction was malformed
    rotated: bool = False  # the App rotated the session (ROTATE goes with the first reply)

    @property
    def size(self) -> int:
        return len(self.data) + sum(len(k) + len(v or "") for k, v in (self.changes or {}).items())


class Seen(enum.Enum):
    NEW = "new"  # never seen: run it
    ANSWERED = "answered"  # run before: here is its answer
    FORGOTTEN = "forgotten"  # run before, its answer no longer kept


class ReplyCache:
    """Answers by interaction id, and the highest interaction number seen per page."""

    def __init__(
        self, max_replies: int = MAX_REPLIES, max_bytes: int = MAX_BYTES, max_pages: int = MAX_PAGES
    ) -> None:
        self._max_replies = max_replies
        self._max_bytes = max_bytes
        self._max_pages = max_pages
        self._answers: OrderedDict[InteractionId, Answer] = OrderedDict()
        self._bytes = 0
        self._highest: OrderedDict[str, int] = OrderedDict()  # page → highest n begun

    def look_up(self, iid: InteractionId) -> tuple[Seen, Answer | None]:
        """Whether `iid` was run, and its answer when still kept."""
        answer = self._answers.get(iid)
        if answer is not None:
            return Seen.ANSWERED, answer
        highest = self._highest.get(iid.page)
        if highest is None:
            # A page's first interaction is 1 and it sends the next ones after it: a page we
            # do not know that says n > 1 is one whose record was dropped (many pages since).
            return (Seen.NEW, None) if iid.n == 1 else (Seen.FORGOTTEN, None)
        return (Seen.NEW, None) if iid.n > highest else (Seen.FORGOTTEN, None)

    def begin(self, iid: InteractionId) -> None:
        """`iid` starts running: from now on a resend of it is not NEW."""
        self._highest[iid.page] = max(iid.n, self._highest.get(iid.page, 0))
        self._highest.move_to_end(iid.page)
        while len(self._highest) > self._max_pages:
            self._highest.popitem(last=False)

    def keep(self, iid: InteractionId, answer: Answer) -> None:
        """Remember `answer` for `iid` (unless it alone is over the byte bound)."""
        if answer.size > self._max_bytes:
            return
        self._answers[iid] = answer
        self._bytes += answer.size
        while len(self._answers) > self._max_replies or self._bytes > self._max_bytes:
            _, dropped = self._answers.popitem(last=False)
            self._bytes -= dropped.size

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def kept_bytes(self) -> int:
        return self._bytes
