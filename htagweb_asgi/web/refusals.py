"""The addresses the App's template refused lately, refused by this worker by itself until
they may try again (sans-IO, an injected clock).

A flood from one address is then answered here, with no round trip to the template, which
stays free for everybody else's requests. The template's word stays the rule: an address
refused for being too fast gets its next token only with time, so this refuses nothing the
template would have accepted (the template's exact wait is remembered, not the rounded-up
Retry-After).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RefusalCache:
    """Refused addresses, until when (see the module docstring)."""

    _PRUNE_AT = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._until: dict[str, float] = {}

    def remember(self, client: str, seconds: float) -> None:
        """The template refused `client` for `seconds` (exact: not the rounded Retry-After)."""
        if not client or seconds <= 0:
            return
        now = self.clock()
        if len(self._until) >= self._PRUNE_AT:
            self._until = {c: t for c, t in self._until.items() if t > now}
        self._until[client] = now + seconds

    def retry_after(self, client: str) -> int | None:
        """Whole seconds `client` must still wait (for a Retry-After), or None when it may
        ask the template."""
        until = self._until.get(client) if client else None
        if until is None:
            return None
        left = until - self.clock()
        if left <= 0:
            del self._until[client]
            return None
        return max(1, math.ceil(left))
