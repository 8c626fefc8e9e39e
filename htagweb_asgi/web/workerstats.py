"""What this worker counts for the metrics, per App: pages, interactions, pushes,
reconnects, refusals, and two latency histograms (see protocol/series.py for the layout).

Counting is a store into memory: once the App's template runs, into a memory map of this
worker's file in the App's runtime directory, where the template sums every worker's; before
that, into a private buffer whose counts the file starts with. One thread writes (the
worker's event loop), the template only reads: no lock.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os

from htagweb_asgi.protocol import series

logger = logging.getLogger(__name__)


class WorkerStats:
    """One worker's series for one App (of one server)."""

    def __init__(self) -> None:
        self._size = series.HEADER.size + series.SIZE * series.DOUBLE.size
        self._memory: bytearray | mmap.mmap = bytearray(self._size)
        series.HEADER.pack_into(self._memory, 0, series.MAGIC, series.SIZE)
        self.path: str | None = None

    def attach(self, directory: str) -> None:
        """Count in this worker's file under `directory` from now on (the template sums it).
        Called when this worker takes its lease; again after a new template started."""
        path = os.path.join(directory, series.file_name(os.getpid()))
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # the metrics are not worth failing a page for
            logger.warning("cannot create %s: %s", path, exc)
            return
        try:
            os.ftruncate(fd, self._size)
            mapped = mmap.mmap(fd, self._size)
        finally:
            os.close(fd)
        mapped[:] = bytes(self._memory)
        previous, self._memory, self.path = self._memory, mapped, path
        if isinstance(previous, mmap.mmap):
            with contextlib.suppress(BufferError):
                previous.close()

    def count(self, name: str, label: str = "", amount: float = 1.0) -> None:
        """Add `amount` to the counter `name` (with its label's value, if it has one)."""
        self._add(series.LAYOUT[f"{name}:{label}"], amount)

    def observe(self, histogram: str, seconds: float) -> None:
        """Record one latency in `histogram`."""
        for bound in series.BUCKETS:
            if seconds <= bound:
                self._add(series.LAYOUT[f"{histogram}:le={bound}"], 1.0)
                break
        else:
            self._add(series.LAYOUT[f"{histogram}:le=inf"], 1.0)
        self._add(series.LAYOUT[f"{histogram}:sum"], seconds)
        self._add(series.LAYOUT[f"{histogram}:count"], 1.0)

    def values(self) -> list[float]:
        """What this worker counted (tests; the template reads the files)."""
        parsed = series.parse(bytes(self._memory))
        assert parsed is not None
        return parsed

    def _add(self, index: int, amount: float) -> None:
        offset = series.HEADER.size + index * series.DOUBLE.size
        (value,) = series.DOUBLE.unpack_from(self._memory, offset)
        series.DOUBLE.pack_into(self._memory, offset, value + amount)
