"""A deadline for one await, cheap enough to wrap every websocket receive."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

if sys.version_info >= (3, 11):
    deadline = asyncio.timeout  # raises TimeoutError; no task per call, unlike wait_for
else:  # pragma: no cover - Python 3.10

    @contextlib.asynccontextmanager
    async def deadline(seconds: float) -> AsyncIterator[None]:
        """Cancel the current task's await after `seconds`, raising TimeoutError."""
        task = asyncio.current_task()
        assert task is not None
        handle = asyncio.get_running_loop().call_later(seconds, task.cancel)
        try:
            yield
        except asyncio.CancelledError:
            raise TimeoutError from None
        finally:
            handle.cancel()
