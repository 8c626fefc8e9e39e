"""The websockets and event streams each session holds open in this worker, and their cap.

A websocket (or a Server-Sent Events stream: the same here) costs this worker two file
descriptors (the browser's, the user process's) for as long as it stays open: one cookie opening
a thousand of them would exhaust the worker's descriptors and fail unrelated users' page loads.
The count is per worker, like the descriptors it protects; the user process caps the websockets
of each page as well, for all workers together (proc/user.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

TOO_MANY_REASON = (
    "Too many open connections for this browser session: close some tabs of this site, then reload."
)


class OpenWebsockets:
    """Open websockets per session id (in memory, this worker only)."""

    def __init__(self, per_session: int = 32) -> None:
        self.per_session = per_session
        self._open: Counter[str] = Counter()

    def __len__(self) -> int:
        return sum(self._open.values())

    @contextmanager
    def hold(self, session_id: str) -> Iterator[bool]:
        """Count a websocket of `session_id` while the block runs; yield False (counting
        nothing) when the session already holds `per_session` here."""
        if self._open[session_id] >= self.per_session:
            yield False
            return
        self._open[session_id] += 1
        try:
            yield True
        finally:
            self._open[session_id] -= 1
            if self._open[session_id] <= 0:
                del self._open[session_id]
