"""What user processes tell their template through shared memory: when they were last used,
how much, and whether a page ever attached.

Each user process owns one 24-byte slot: ``time.monotonic()`` of its last activity, when a
page first attached to it (0: never; a websocket, or an HTTP page's first exchange), how many
interactions it ran and how many pages are attached now. The template reads the slots to reap
idle processes, to reclaim those whose page never attached (a crawler's or a flood's page
load), to choose whom to evict at the cap, and for ``ps`` and the metrics.
A store into shared memory costs nothing next to a message per interaction, and it keeps
working while the template is busy. CLOCK_MONOTONIC is system-wide, so the values compare
across processes.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from typing import NamedTuple

_SLOT = struct.Struct("ddII")  # last activity, first attach (0: never), interactions, pages
_DOUBLE = struct.Struct("d")
_COUNT = struct.Struct("I")
_FIRST_OFFSET, _USES_OFFSET, _PAGES_OFFSET = 8, 16, 20


def _anonymous_file(size: int) -> int:
    """An fd on memory no path names: nothing is left behind however the template ends, and
    the fd can be handed to a spawned process or kept across an exec."""
    if sys.platform == "linux":
        fd = os.memfd_create("htagweb-activity", 0)
    else:  # macOS and other BSDs: a temporary file, unlinked at once
        fd, path = tempfile.mkstemp(prefix="htagweb-activity-")
        os.unlink(path)
    os.ftruncate(fd, size)
    return fd


def shared_file(path: str, slots: int, create: bool) -> int:
    """An fd on the board's file at `path` (the portable path: no fd to hand a process
    spawned on Windows, so it opens the file by name in the private runtime directory)."""
    flags = os.O_RDWR | (os.O_CREAT | os.O_TRUNC if create else 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o600)
    if create:
        os.ftruncate(fd, slots * _SLOT.size)
    return fd


class Usage(NamedTuple):
    """One slot as the template reads it (a tuple: eviction reads every slot at the cap)."""

    last_activity: float
    interactions: int
    attached: bool  # a page ever attached
    pages: int = 0  # attached now


class ActivityBoard:
    """`slots` slots in memory shared by the template and its user processes."""

    def __init__(
        self, slots: int, fd: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Create the board, or map an existing one from `fd` (a spawned or re-executed
        process). `clock` must agree across the processes that share it (tests fake it)."""
        size = slots * _SLOT.size
        self.clock = clock
        self.fd = _anonymous_file(size) if fd is None else fd
        self._map = mmap.mmap(self.fd, size)
        self.slots = slots
        self._free = list(range(slots - 1, -1, -1))

    # -- the template ----------------------------------------------------------------------------
    def allocate(self) -> int | None:
        """Return a free slot (active now, never used, not attached), or None when all are
        taken."""
        if not self._free:
            return None
        slot = self._free.pop()
        _SLOT.pack_into(self._map, slot * _SLOT.size, self.clock(), 0.0, 0, 0)
        return slot

    def reserve(self, slots: set[int]) -> None:
        """Mark `slots` as taken (a re-executed template re-learning its children)."""
        self._free = [slot for slot in self._free if slot not in slots]

    def release(self, slot: int) -> None:
        """Give `slot` back once its process is gone."""
        self._free.append(slot)

    def usage(self, slot: int) -> Usage:
        """What the process of `slot` recorded."""
        last, first, interactions, pages = _SLOT.unpack_from(self._map, slot * _SLOT.size)
        return Usage(last, interactions, first > 0, pages)

    def last_activity(self, slot: int) -> float:
        """Return the monotonic time of the last activity recorded in `slot`."""
        return self.usage(slot).last_activity

    def pages(self, slot: int) -> tuple[bool, int]:
        """Whether a page ever attached to `slot`'s process, and how many are attached now."""
        usage = self.usage(slot)
        return usage.attached, usage.pages

    # -- the user process (each writes its own slot only) ----------------------------------------
    def touch(self, slot: int) -> None:
        """Record activity in `slot` now."""
        _DOUBLE.pack_into(self._map, slot * _SLOT.size, self.clock())

    def interacted(self, slot: int) -> None:
        """Record one more interaction in `slot` (it counts as activity, and as attached)."""
        base = slot * _SLOT.size
        (uses,) = _COUNT.unpack_from(self._map, base + _USES_OFFSET)
        _COUNT.pack_into(self._map, base + _USES_OFFSET, min(uses + 1, 0xFFFFFFFF))
        self.attached(slot)
        self.touch(slot)

    def attached(self, slot: int, delta: int = 0) -> None:
        """A page attached (+1) or left (-1); 0: an HTTP page's exchange (attached once)."""
        base = slot * _SLOT.size
        (first,) = _DOUBLE.unpack_from(self._map, base + _FIRST_OFFSET)
        if not first:
            _DOUBLE.pack_into(
                self._map, base + _FIRST_OFFSET, self.clock() or 1e-9
            )  # 0 means never
        (pages,) = _COUNT.unpack_from(self._map, base + _PAGES_OFFSET)
        _COUNT.pack_into(self._map, base + _PAGES_OFFSET, max(0, pages + delta))

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)
