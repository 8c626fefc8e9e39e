"""What a template shows of its user processes: each one for ``ps`` (state, age, idle,
pages, memory and its limit, CPU), and the counts and sums for the metrics."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from htagweb_asgi.proc.osutil import cpu_seconds, memory_usage

if TYPE_CHECKING:
    from htagweb_asgi.proc.children import Child, UserProcesses

STATES = ("spare", "never attached", "attached", "draining")


def listing(processes: UserProcesses, measure: bool = True) -> list[dict[str, Any]]:
    """Each user's current process (spares and those ending: see others()); its memory and
    CPU (read from /proc) unless not `measure`."""
    return [_one(processes, child, measure) for child in processes.current.values()]


def others(processes: UserProcesses) -> list[dict[str, Any]]:
    """The spares, and the processes asked to end that have not yet (state "draining")."""
    current = {id(child) for child in processes.current.values()}
    return [_one(processes, c) for c in processes.by_pid.values() if id(c) not in current]


def _one(processes: UserProcesses, child: Child, measure: bool = True) -> dict[str, Any]:
    now = processes.board.clock()
    usage = processes.board.usage(child.slot) if child.slot >= 0 else None
    row = {
        "key": child.key[:12],  # what `ps` shows and `kill` matches
        "full_key": child.key,  # for the cluster's registry (cluster/node.py)
        "session": child.session,
        "pid": child.pid,
        "state": processes.state(child),
        "age": round(now - child.started, 1),
        "idle": round(now - (usage.last_activity if usage else child.started), 1),
        "attached": usage.attached if usage else False,
        "interactions": usage.interactions if usage else 0,
        "pages": usage.pages if usage else 0,
        "generation": child.generation,
        "up": not processes.spares.starting(child.pid),  # portable: still importing the App
    }
    if measure:
        limited = processes.limiter.memory is not None
        row["mem"] = (
            processes.limiter.usage(child.pid, child.cgroup, child.baseline) if limited else None
        )
        row["cpu"] = cpu_seconds(child.pid)
        row.update(memory_usage(child.pid))
    return row


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
