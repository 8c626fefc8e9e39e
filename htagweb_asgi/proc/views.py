"""What a template shows of its user processes: each one for ``ps`` (state, age, idle,
pages, memory and its limit, CPU), and the counts and sums for the metrics."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from htagweb_asgi.proc.osutil import cpu_seconds, memory_usage

if TYPE_CHECKING:
    from htagweb_asgi.proc.children import Child, UserProcesses

STATES = ("spare", "never attached", "attached", "draining")


def listing(processes: UserProcesses) -> list[dict[str, Any]]:
    """Each user's current process (spares and those ending: see others())."""
    return [_one(processes, child) for child in processes.current.values()]


def others(processes: UserProcesses) -> list[dict[str, Any]]:
    """The spares, and the processes asked to end that have not yet (state "draining")."""
    current = {id(child) for child in processes.current.values()}
    return [_one(processes, c) for c in processes.by_pid.values() if id(c) not in current]


def _one(processes: UserProcesses, child: Child) -> dict[str, Any]:
    now = processes.board.clock()
    assigned = child.slot >= 0
    pages = processes.board.pages(child.slot)[1] if assigned else 0
    idle = now - processes.board.last_activity(child.slot) if assigned else now - child.started
    return {
        "key": child.key[:12],
        "pid": child.pid,
        "state": processes.state(child),
        "age": round(now - child.started, 1),
        "idle": round(idle, 1),
        "pages": pages,
        "generation": child.generation,
        "mem": processes.limiter.usage(child.pid, child.cgroup, child.baseline)
        if processes.limiter.memory is not None
        else None,
        "cpu": cpu_seconds(child.pid),
        **memory_usage(child.pid),
    }


def metrics(processes: UserProcesses) -> dict[str, Any]:
    """The template's side of the metrics (the workers' series are added by the caller)."""
    states: Counter[str] = Counter({state: 0 for state in STATES})
    pss = 0
    for child in processes.by_pid.values():
        states[processes.state(child)] += 1
        pss += memory_usage(child.pid).get("pss", 0)
    return {
        "processes": dict(states),
        "started": processes.started_total,
        "ended": dict(processes.deaths.counts),
        "limits": dict(processes.deaths.limits),
        "pss": pss,
    }
