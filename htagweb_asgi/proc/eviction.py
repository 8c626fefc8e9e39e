"""Whom to end when room is needed (sans-IO): at the process cap, or at a client address's
share.

The order protects the people actually using the App:

1. processes whose page never attached (no websocket, no interaction: a crawler, a link
   preview, a flood's page load), the least recently loaded first;
2. then the others by how little they were used (fewest interactions), the least recently
   active first among equals;
3. never a process active within ``evict_after`` seconds: an engaged user is not ended to
   make room for a newcomer (the newcomer is refused instead).

An evicted user's pages are told (close code EXPIRED): their next action reloads the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from htagweb_asgi.proc.activity import Usage


class Evictable(Protocol):
    @property
    def slot(self) -> int: ...


C = TypeVar("C", bound=Evictable)


def victim(
    children: Iterable[C], usage: Callable[[int], Usage], now: float, evict_after: float
) -> C | None:
    """The process to end among `children` (`usage` reads a slot), or None when every one
    of them was active within `evict_after` seconds of `now`."""
    best: tuple[tuple[bool, int, float], C] | None = None
    for child in children:
        used = usage(child.slot)
        if now - used.last_activity < evict_after:
            continue
        rank = (used.attached, used.interactions, used.last_activity)
        if best is None or rank < best[0]:
            best = (rank, child)
    return None if best is None else best[1]
