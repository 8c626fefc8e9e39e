"""Which asyncio event loop a user process runs: uvloop where installed ("auto", as uvicorn
chooses), or the standard one.

Measured (bench/README.md, `python -m bench.profile`): a click costs its user process
~10 % less CPU on uvloop, the selector loop's Python code being most of what is not the
App. The template imports uvloop before it forks, so every user process shares that
memory instead of loading its own copy.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Coroutine
from typing import Any

EVENT_LOOPS = ("auto", "asyncio", "uvloop")


class LoopUnavailable(Exception):
    """The event loop asked for cannot run here (uvloop not installed)."""


def resolve(name: str) -> str:
    """ "auto" → "uvloop" where it imports, else "asyncio"; an explicit name is checked."""
    if name not in EVENT_LOOPS:
        raise LoopUnavailable(f"event_loop must be one of {', '.join(EVENT_LOOPS)}")
    if name == "asyncio":
        return name
    try:
        importlib.import_module("uvloop")
    except ImportError as exc:
        if name == "uvloop":
            raise LoopUnavailable("event_loop='uvloop' but uvloop is not installed") from exc
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, None], name: str) -> None:
    """Run `main` to completion on the loop `name` (resolved by the template, normally)."""
    if resolve(name) == "uvloop":
        uvloop: Any = importlib.import_module("uvloop")
        if hasattr(uvloop, "run"):  # uvloop >= 0.18
            uvloop.run(main)
            return
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(main)
