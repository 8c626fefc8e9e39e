"""The default ``max_processes``: how many user processes of this App fit in this machine.

Half of the memory available when the template starts (the smaller of the kernel's
MemAvailable and what the cgroup still allows: a container's limit, not the host's memory),
divided by what one user process of this App takes: the private memory (USS) of a warm
spare, measured at start, with room for the App's state to grow. Each App's template sizes
itself alone: a host serving several Apps should set ``max_processes`` for each.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MEMORY_SHARE = 0.5  # of the available memory, for one App's user processes
GROWTH = 1.5  # a used App holds more than a warm spare: its page, its state
FALLBACK_PROCESS = 8 << 20  # bytes per process when nothing could be measured
MIN_PROCESSES = 8
MAX_PROCESSES = 10_000  # beyond, file descriptors and the template's loop are the limit
FALLBACK_MAX = 1000  # where the memory cannot be read (not Linux)
_UNLIMITED = 1 << 60  # cgroup v1 reports "no limit" as a huge number
_V1_FILES = ("memory.limit_in_bytes", "memory.usage_in_bytes")


@dataclass(frozen=True)
class Capacity:
    """The computed cap and the figures it came from (for the log)."""

    max_processes: int
    available: int | None  # bytes
    source: str  # what `available` was read from
    per_process: int  # bytes counted for one user process
    measured: int | None  # bytes: the warm spare's USS, when measured

    def describe(self) -> str:
        if self.available is None:
            return f"{self.max_processes} (the available memory is unknown here)"
        measured = (
            f"a warm user process's USS measured at {_mib(self.measured)} MiB, x{GROWTH:g}"
            if self.measured
            else "estimated: nothing could be measured"
        )
        return (
            f"{self.max_processes}: {MEMORY_SHARE:.0%} of {_mib(self.available)} MiB available "
            f"({self.source}) / {_mib(self.per_process)} MiB per user process ({measured}); "
            "set max_processes to choose"
        )


def size(measured_uss: int | None) -> Capacity:
    """The cap for a user process whose warm spare measured `measured_uss` bytes (None:
    not measured)."""
    per_process = int(measured_uss * GROWTH) if measured_uss else FALLBACK_PROCESS
    found = available_memory()
    if found is None:
        return Capacity(FALLBACK_MAX, None, "", per_process, measured_uss)
    available, source = found
    count = int(available * MEMORY_SHARE) // max(per_process, 1)
    count = max(MIN_PROCESSES, min(MAX_PROCESSES, count))
    return Capacity(count, available, source, per_process, measured_uss)


def available_memory() -> tuple[int, str] | None:
    """Bytes of memory available now, and where that was read; None where unknown."""
    found = []
    meminfo = _meminfo_available()
    if meminfo is not None:
        found.append((meminfo, "MemAvailable"))
    cgroup = _cgroup_room()
    if cgroup is not None:
        found.append(cgroup)
    return min(found) if found else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> tuple[int, str] | None:
    """What this process's memory cgroup still allows (limit - usage), v2 then v1."""
    for version, path in _cgroup_paths():
        names = ("memory.max", "memory.current") if version == 2 else _V1_FILES
        limit, usage = _read(path, names[0]), _read(path, names[1])
        if limit is not None and usage is not None and limit < _UNLIMITED:
            return max(0, limit - usage), f"cgroup v{version} limit"
    return None


def _cgroup_paths() -> list[tuple[int, str]]:
    """This process's memory cgroup directories: its own path, then the mount's root (in a
    container the mount shows only the container's own group)."""
    paths: list[tuple[int, str]] = []
    try:
        with open("/proc/self/cgroup") as cgroups:
            lines = cgroups.read().splitlines()
    except OSError:
        return paths
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            paths += [(2, "/sys/fs/cgroup" + path), (2, "/sys/fs/cgroup")]
        elif "memory" in controllers.split(","):
            paths += [(1, "/sys/fs/cgroup/memory" + path), (1, "/sys/fs/cgroup/memory")]
    return paths


def _read(directory: str, name: str) -> int | None:
    try:
        with open(os.path.join(directory, name)) as file:
            text = file.read().strip()
    except OSError:
        return None
    if text == "max":
        return _UNLIMITED
    try:
        return int(text)
    except ValueError:
        return None


def _mib(value: int | None) -> str:
    return f"{(value or 0) / 1048576:.1f}"
