"""The series each worker counts for the metrics, and the file it counts them in.

Each worker keeps, per App, one small file in the App's runtime directory,
``worker-<pid>.metrics``: a header and a fixed array of doubles (little-endian), written in
place through a memory map (no syscall per count). The App's template sums the files of all
the workers of its server, and keeps the totals of the workers that are gone (their counts
stay counted: a worker restart is not a counter reset). Counters and histogram buckets are
in the order of LAYOUT; the worker names them, the template only adds.
"""

from __future__ import annotations

import struct

FILE_PREFIX = "worker-"
FILE_SUFFIX = ".metrics"
HEADER = struct.Struct("<8sI")  # magic, number of doubles
MAGIC = b"htagwms1"
DOUBLE = struct.Struct("<d")

REFUSALS = ("busy", "rate", "connections", "unavailable", "draining", "origin", "csrf", "size")
# (name, label name, label values): each value is one counter
COUNTERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("pages", "process", ("new", "existing")),
    ("page_errors", "", ("",)),
    ("interactions", "transport", ("websocket", "http")),
    ("pushes", "", ("",)),
    ("reconnects", "", ("",)),
    ("refusals", "reason", REFUSALS),
)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HISTOGRAMS = ("new_user_page_seconds", "interaction_seconds")


def _layout() -> dict[str, int]:
    index: dict[str, int] = {}
    for name, _label, values in COUNTERS:
        for value in values:
            index[f"{name}:{value}"] = len(index)
    for name in HISTOGRAMS:
        for bucket in (*BUCKETS, float("inf")):
            index[f"{name}:le={bucket}"] = len(index)
        index[f"{name}:sum"] = len(index)
        index[f"{name}:count"] = len(index)
    return index


LAYOUT = _layout()
SIZE = len(LAYOUT)


def file_name(pid: int) -> str:
    return f"{FILE_PREFIX}{pid}{FILE_SUFFIX}"


def parse(data: bytes) -> list[float] | None:
    """The doubles of a worker file, or None when it is not one of this layout."""
    if len(data) < HEADER.size:
        return None
    magic, count = HEADER.unpack_from(data)
    if magic != MAGIC or count != SIZE or len(data) < HEADER.size + SIZE * DOUBLE.size:
        return None
    return [DOUBLE.unpack_from(data, HEADER.size + i * DOUBLE.size)[0] for i in range(SIZE)]
