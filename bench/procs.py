"""The processes of a server under test, found by an environment marker, and their costs.

Our host's template (and so every user process) detaches from the server, and htagweb's
processes live in a PID namespace: neither is reliably a child of the process we started.
Each server is started with ``HTAGWEB_BENCH_RUN=<uuid>`` in its environment, which every
process it starts inherits; we select processes whose ``/proc/PID/environ`` carries it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import psutil

MARKER = "HTAGWEB_BENCH_RUN"
MIB = 1024 * 1024
_WRAPPERS = {"unshare"}  # the sandbox's launcher: ours, not part of the server under test


def marked(marker: str) -> list[psutil.Process]:
    """Live processes started (directly or not) by the server run `marker`."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid() or proc.environ().get(MARKER) != marker:
                continue
            if proc.status() != psutil.STATUS_ZOMBIE and proc.name() not in _WRAPPERS:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time of all threads of `pid` (user + system), to the nanosecond.

    /proc/PID/task/TID/schedstat counts ns; psutil's cpu_times() counts 10 ms ticks, too
    coarse when a phase costs a few ms in each of hundreds of processes.
    """
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        path = f"/proc/{pid}/task/{tid}/schedstat"
        with contextlib.suppress(FileNotFoundError, ProcessLookupError), open(path) as schedstat:
            total += int(schedstat.read().split()[0])
    return total / 1e9


SPAWNED_USER = "htagweb_asgi.proc.usermain"  # the portable path's user processes (python -m)


class CpuMeter:
    """Server CPU (all threads of all marked processes) between start() and stop(), in all
    and split between the host's own processes and the user processes.

    A user process is a fork that did not exec: a marked process whose parent is marked and
    has the same command line (our template's children, htagweb's multiprocessing children);
    on our portable path, a process spawned as ``htagweb_asgi.proc.usermain``.
    """

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self._before: dict[tuple[int, float], float] = {}
        self.split: dict[str, float] = {}

    def _sample(self) -> tuple[dict[tuple[int, float], float], dict[tuple[int, float], str]]:
        cpu, role = {}, {}
        found = marked(self.marker)
        commands = {}
        for proc in found:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                commands[proc.pid] = proc.cmdline()
        for proc in found:
            with contextlib.suppress(psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
                key = (proc.pid, proc.create_time())
                cpu[key] = cpu_seconds(proc.pid)
                parent = commands.get(proc.ppid())
                command = commands.get(proc.pid) or []
                forked = bool(parent) and parent == command
                role[key] = "users" if forked or SPAWNED_USER in command else "host"
        return cpu, role

    def start(self) -> None:
        self._before, _ = self._sample()

    def stop(self) -> float:
        """CPU seconds used since start() (a process born since counts from zero; one that
        ended meanwhile is missed: none should, in the phases measured)."""
        after, roles = self._sample()
        self.split = {"host": 0.0, "users": 0.0}
        for key, cpu in after.items():
            self.split[roles[key]] += cpu - self._before.get(key, 0.0)
        return sum(self.split.values())


@dataclass(frozen=True)
class Memory:
    uss: int
    pss: int
    rss: int

    def mib(self) -> dict[str, float]:
        return {"uss_mib": self.uss / MIB, "pss_mib": self.pss / MIB, "rss_mib": self.rss / MIB}


def memory(pid: int) -> Memory:
    """USS, PSS and RSS of `pid` from /proc/PID/smaps_rollup (USS = private clean + dirty)."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                fields[name] = int(parts[0]) * 1024
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return Memory(uss, fields.get("Pss", 0), fields.get("Rss", 0))


def tree_memory(marker: str) -> dict[str, float]:
    """The whole server: its processes' USS, PSS and RSS summed (MiB), and their count."""
    total = Memory(0, 0, 0)
    count = 0
    for proc in marked(marker):
        try:
            one = memory(proc.pid)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        total = Memory(total.uss + one.uss, total.pss + one.pss, total.rss + one.rss)
        count += 1
    return {"processes": count, **total.mib()}


def host_pid(marker: str, shown_pid: int) -> int | None:
    """The pid, as this machine sees it, of the marked process that calls itself `shown_pid`
    (different inside htagweb's PID namespace: the last NSpid field is its own view)."""
    for proc in marked(marker):
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                for line in status:
                    if line.startswith("NSpid:") and int(line.split()[-1]) == shown_pid:
                        return int(proc.pid)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return None
