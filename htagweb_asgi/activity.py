"""Last-activity times of user processes, shared with their template through shared memory.

Each user process owns one 8-byte slot and writes ``time.monotonic()`` into it when the user
interacts; the template reads the slots to reap idle processes and to pick eviction victims.
A store into shared memory costs nothing next to a message per interaction, and it keeps
working while the template is busy. CLOCK_MONOTONIC is system-wide, so the values compare
across processes.
"""

from __future__ import annotations

import mmap
import struct
import time

_SLOT = struct.Struct("d")


class ActivityBoard:
    """`slots` doubles in an anonymous shared mapping: forked children inherit it, and no file
    is left behind whatever way the template ends."""

    def __init__(self, slots: int) -> None:
        self._map = mmap.mmap(-1, slots * _SLOT.size)
        self.slots = slots
        self._free = list(range(slots - 1, -1, -1))

    def allocate(self) -> int | None:
        """Return a free slot (marked active now), or None when all are taken."""
        if not self._free:
            return None
        slot = self._free.pop()
        self.touch(slot)
        return slot

    def release(self, slot: int) -> None:
        """Give `slot` back once its process is gone."""
        self._free.append(slot)

    def touch(self, slot: int) -> None:
        """Record activity in `slot` (called by the user process)."""
        _SLOT.pack_into(self._map, slot * _SLOT.size, time.monotonic())

    def last_activity(self, slot: int) -> float:
        """Return the monotonic time of the last activity recorded in `slot`."""
        value: float = _SLOT.unpack_from(self._map, slot * _SLOT.size)[0]
        return value

    def close(self) -> None:
        self._map.close()
