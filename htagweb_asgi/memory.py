"""Memory of a process as an operator wants it: RSS, PSS and USS (what leaving frees)."""

from __future__ import annotations

_FIELDS = {"Rss:": "rss", "Pss:": "pss", "Private_Clean:": "uss", "Private_Dirty:": "uss"}


def usage(pid: int) -> dict[str, int]:
    """Bytes of RSS/PSS/USS of `pid` (Linux, /proc/PID/smaps_rollup); empty when unknown."""
    totals: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                parts = line.split()
                name = _FIELDS.get(parts[0]) if parts else None
                if name is not None:
                    totals[name] = totals.get(name, 0) + int(parts[1]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return totals
