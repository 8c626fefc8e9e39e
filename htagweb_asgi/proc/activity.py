"""Last-activity times of user processes, shared with their template through shared memory.

Each user process owns one slot and writes ``time.monotonic()`` into it when the user
interacts, and counts the pages attached to it (and when the first one came); the template
reads the slots to reap idle processes, to pick eviction victims, and to tell ``ps`` and the
metrics which processes were never attached.
A store into shared memory costs nothing next to a message per interaction, and it keeps
working while the template is busy. CLOCK_MONOTONIC is system-wide, so the values compare
across processes.
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
import time
from collections.abc import Callable

_SLOT = struct.Struct("ddd")  # last activity, first attach (0: never), pages attached now
_DOUBLE = struct.Struct("d")


def _anonymous_file(size: int) -> int:
    """An fd on memory no path names: nothing is left behind however the template ends, and
    the fd can be handed to a spawned process or kept across an exec."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("htagweb-activity", 0)
    else:  # macOS and other BSDs: a temporary file, unlinked at once
        fd, path = tempfile.mkstemp(prefix="htagweb-activity-")
        os.unlink(path)
    os.ftruncate(fd, size)
    return fd


class ActivityBoard:
    """`slots` doubles in memory shared by the template and its user processes."""

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

    def allocate(self) -> int | None:
        """Return a free slot (marked active now), or None when all are taken."""
        if not self._free:
            return None
        slot = self._free.pop()
        _SLOT.pack_into(self._map, slot * _SLOT.size, self.clock(), 0.0, 0.0)
        return slot

    def reserve(self, slots: set[int]) -> None:
        """Mark `slots` as taken (a re-executed template re-learning its children)."""
        self._free = [slot for slot in self._free if slot not in slots]

    def release(self, slot: int) -> None:
        """Give `slot` back once its process is gone."""
        self._free.append(slot)

    def touch(self, slot: int) -> None:
        """Record activity in `slot` (called by the user process)."""
        _DOUBLE.pack_into(self._map, slot * _SLOT.size, self.clock())

    def last_activity(self, slot: int) -> float:
        """Return the monotonic time of the last activity recorded in `slot`."""
        value: float = _SLOT.unpack_from(self._map, slot * _SLOT.size)[0]
        return value

    def attached(self, slot: int, delta: int) -> None:
        """A page attached (+1) or left (-1) (called by the user process)."""
        _activity, first, pages = _SLOT.unpack_from(self._map, slot * _SLOT.size)
        first = first or self.clock()
        _DOUBLE.pack_into(self._map, slot * _SLOT.size + 8, first)
        _DOUBLE.pack_into(self._map, slot * _SLOT.size + 16, max(0.0, pages + delta))

    def pages(self, slot: int) -> tuple[bool, int]:
        """Whether a page ever attached to `slot`'s process, and how many are attached now."""
        _activity, first, pages = _SLOT.unpack_from(self._map, slot * _SLOT.size)
        return first > 0, int(pages)

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)
