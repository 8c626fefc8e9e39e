"""Waiting on what offers no event to wait on: other processes' lives, files, logs.

Every wait is bounded and fails with a message; the polling interval is short (the
condition is cheap), never a bare sleep standing in for a condition.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import psutil

INTERVAL = 0.02


def eventually(condition: Callable[[], object], timeout: float = 5.0, *, message: str = "") -> None:
    """Return once `condition()` is true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        time.sleep(INTERVAL)


async def eventually_async(
    condition: Callable[[], object], seconds: float = 5.0, *, message: str = ""
) -> None:
    """`eventually` for async tests (the event loop keeps running meanwhile)."""
    try:
        with anyio.fail_after(seconds):
            while not condition():
                await anyio.sleep(INTERVAL)
    except TimeoutError:
        raise AssertionError(message or f"condition not met within {seconds} s") from None


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended but not reaped, does not count)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def pid_gone(pid: int) -> bool:
    return not pid_alive(pid)
