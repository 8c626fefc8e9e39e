"""Interactions run once, however often their page sends them (the asyncio half of replies.py).

An interaction may be resent while its first run still goes on: the page reconnected through
another worker, and the process reads the first copy from the old connection and the resend
from the new one. The second waits for the first run's answer instead of starting another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from htagweb_asgi.proc.pagewire import InteractionId
from htagweb_asgi.proc.replies import Answer, ReplyCache, Seen

logger = logging.getLogger(__name__)

Run = Callable[[], Awaitable[Answer]]


class Once:
    """Runs each numbered interaction once, and answers its resends."""

    def __init__(self, cache: ReplyCache | None = None) -> None:
        self.cache = cache if cache is not None else ReplyCache()
        self._running: dict[InteractionId, asyncio.Future[Answer]] = {}

    async def answer(self, iid: InteractionId, run: Run, forgotten: Run) -> tuple[Answer, bool]:
        """`run()`'s answer, or the first run's when `iid` was run before (True: a replay).
        A resend whose answer is no longer kept gets `forgotten()`'s, never a second run."""
        running = self._running.get(iid)
        if running is not None:
            return await asyncio.shield(running), True
        seen, kept = self.cache.look_up(iid)
        if kept is not None:
            return kept, True
        if seen is Seen.FORGOTTEN:
            logger.info("a page resent an interaction whose reply is no longer kept")
            return await forgotten(), True
        self.cache.begin(iid)
        future = asyncio.get_running_loop().create_future()
        self._running[iid] = future
        try:
            answer = await run()
        except BaseException:
            future.cancel()  # the process stops: whoever waits for this run stops too
            raise
        finally:
            del self._running[iid]
        future.set_result(answer)
        self.cache.keep(iid, answer)
        return answer, False
