"""The template's side of per-user limits: choose how memory_limit is enforced, prepare each
new process's limits before it is forked, and tell a death at a limit from a crash.

``memory_limit`` means, whatever the mechanism: memory a user process adds to what it
shares with its template. The best mechanism the machine offers is chosen once, at the
template's start (or the one TemplateSettings.limit_mechanism names):

- cgroup2 / cgroup1: a cgroup per user process, ``<own cgroup>/htagweb-<template pid>/u<N>``
  with ``memory.max`` (v2) or ``memory.limit_in_bytes`` (v1); the kernel's OOM killer ends
  the process inside the allocation that goes past it (SIGKILL, and an ``oom_kill`` count
  in the cgroup). Pages the process copies from the template (copy-on-write) count too.
- rlimit: ``RLIMIT_DATA`` (Linux >= 4.7; else ``RLIMIT_AS``) at the template's size plus the
  limit; an allocation past it raises MemoryError, and the process exits with EXIT_MEMORY.
- watchdog: the template reads each process's anonymous RSS every POLL_INTERVAL and
  SIGKILLs one that grew past the limit (it may overshoot by what it allocates meanwhile).

``cpu_limit`` is ``RLIMIT_CPU`` on POSIX, re-armed by the process at each interaction (see
childlimits.py); past it the kernel sends SIGXCPU.

Elsewhere:

- Windows: jobobject, always (see jobobjects.py): the template's job kills every user
  process when the template ends, and caps each one's commit at the template's own plus
  memory_limit (an allocation past it raises MemoryError: EXIT_MEMORY, as under an rlimit);
  with cpu_limit each process also gets a job of its own with a user-mode time ceiling
  that it moves at each interaction; past it Windows ends the process.
- macOS: memory_limit is refused at the start: its kernel enforces neither RLIMIT_AS nor
  RLIMIT_DATA on the memory Python allocates, and it has no cgroups nor /proc for the
  watchdog. cpu_limit (RLIMIT_CPU) holds there.

Each process gets its placement when it is forked as a spare: joining a cgroup costs the
child 10-15 ms when joins are rare (an RCU grace period), which a spare pays before any
user waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
from dataclasses import asdict, dataclass
from typing import Any

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.proc import cgroups
from htagweb_asgi.proc.templatejobs import JobRefused, TemplateJobs

logger = logging.getLogger(__name__)

EXIT_MEMORY = 86  # a user process's exit code after MemoryError (RLIMIT_DATA or RLIMIT_AS)
EXIT_SETUP = 87  # a user process's exit code when it could not enter its limits
POLL_INTERVAL = 0.25  # seconds between two watchdog rounds
MESSAGES = {
    "memory": "This session reached its memory limit.",
    "cpu": "This session reached its CPU time limit.",
}
ORDER = ("cgroup2", "cgroup1", "rlimit", "watchdog")
JOBOBJECT = "jobobject"  # Windows' only mechanism (it enforces cpu_limit too)
JOBOBJECT_PLATFORM = "win32"
NO_MEMORY_LIMIT = {  # the platforms where no mechanism holds memory_limit, and why
    "darwin": "memory_limit is not enforced on macOS (its kernel ignores RLIMIT_AS and "
    "RLIMIT_DATA for the memory Python allocates, and there are no cgroups nor /proc for "
    "a watchdog): remove it there (cpu_limit holds)"
}
if sys.platform == "win32":
    _PAGE = 4096  # unused there: /proc is Linux's
else:
    _PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Placement:
    """What one process enters right after its fork (JSON-able: a spawned one gets it in
    argv)."""

    mechanism: str  # one of ORDER, or "none"
    cpu: float | None
    cgroup: str | None = None  # cgroup mechanisms: the process's own
    ceiling: int = 0  # rlimit: the value of RLIMIT_DATA or RLIMIT_AS
    rlimit_as: bool = False  # rlimit: RLIMIT_AS rather than RLIMIT_DATA
    baseline: int = 0  # watchdog, and usage: the template's anonymous RSS at the fork
    job: int = 0  # jobobject with cpu_limit: the process's handle to its own job

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LimitsUnavailable(HtagwebError):
    """Raised at the template's start when the mechanism asked for is not available here."""


class Limiter:
    """One template's limits (see the module docstring)."""

    def __init__(
        self,
        memory: int | None,
        cpu: float | None,
        wanted: str = "auto",
        found: Any = None,
        *,
        platform: str = sys.platform,
        _probe_only: bool = False,
    ) -> None:
        self.memory = memory
        self.cpu = cpu
        self.platform = platform
        probe = memory is not None and platform not in (JOBOBJECT_PLATFORM, *NO_MEMORY_LIMIT)
        self.found: cgroups.Found = found or (
            cgroups.find() if probe else cgroups.Found(None, None, ())
        )
        self.mechanism = self._choose(wanted)
        self.rlimit_as = not _kernel_at_least(4, 7)  # older RLIMIT_DATA ignores mmap
        self.base: str | None = None
        self._seq = 0
        self.jobs = TemplateJobs(memory, cpu)  # Windows (see templatejobs.py)
        if self.platform == JOBOBJECT_PLATFORM:
            try:
                self.jobs.open(probe=_probe_only)
            except JobRefused as exc:
                raise LimitsUnavailable(str(exc)) from exc
        if _probe_only:
            return
        if self.mechanism in ("cgroup2", "cgroup1"):
            self._make_base()
        if memory is not None or cpu is not None:
            logger.info("limits: %s", self.describe())

    @staticmethod
    def check(memory: int | None, wanted: str, cpu: float | None = None) -> None:
        """Raise LimitsUnavailable when `wanted` cannot enforce `memory` here, or this
        platform cannot enforce the limits at all (at the template's start, before it says
        it is ready: the worker reports it)."""
        if sys.platform in (JOBOBJECT_PLATFORM, *NO_MEMORY_LIMIT) or (
            memory is not None and wanted != "auto"
        ):
            Limiter(memory, cpu, wanted, _probe_only=True)

    def available(self) -> list[str]:
        if self.platform == JOBOBJECT_PLATFORM:
            return [JOBOBJECT]
        if self.platform in NO_MEMORY_LIMIT:
            return []
        found = {"cgroup2": self.found.v2, "cgroup1": self.found.v1}
        return [m for m in ORDER if found.get(m, "yes") is not None]

    def _choose(self, wanted: str) -> str:
        windows = self.platform == JOBOBJECT_PLATFORM
        if self.memory is None and not (windows and self.cpu is not None):
            return "none"
        available = self.available()
        if not available:
            raise LimitsUnavailable(NO_MEMORY_LIMIT[self.platform])
        if wanted == "auto":
            return available[0]
        if wanted not in available:
            raise LimitsUnavailable(f"{wanted} is not available: {'; '.join(self.found.notes)}")
        return wanted

    def adopt(self, pid: int) -> dict[str, Any]:
        """A spawned process, right after its start: see TemplateJobs.adopt (Windows)."""
        return self.jobs.adopt(pid)

    def _make_base(self) -> None:
        own = self.found.v2 if self.mechanism == "cgroup2" else self.found.v1
        assert own is not None
        cgroups.remove_stale(own)
        self.base = os.path.join(own, f"{cgroups.PREFIX}{os.getpid()}")
        try:
            os.mkdir(self.base)
            if self.mechanism == "cgroup2":
                cgroups.write(os.path.join(self.base, "cgroup.subtree_control"), "+memory")
        except FileExistsError:  # a renewed template (same pid): its children keep theirs
            numbers = [int(n[1:]) for n in os.listdir(self.base) if re.fullmatch(r"u\d+", n)]
            self._seq = max(numbers, default=0)

    # -- before and after a fork ---------------------------------------------------------------
    def prepare(self) -> Placement:
        """Before forking a process (in the template): its cgroup, or its rlimit ceiling."""
        cgroup = None
        if self.base is not None and self.memory is not None:
            self._seq += 1
            cgroup = os.path.join(self.base, f"u{self._seq}")
            os.mkdir(cgroup)
            try:
                if self.mechanism == "cgroup2":
                    cgroups.write(os.path.join(cgroup, "memory.max"), str(self.memory))
                    cgroups.write_optional(os.path.join(cgroup, "memory.swap.max"), "0")
                    cgroups.write_optional(os.path.join(cgroup, "memory.oom.group"), "1")
                else:
                    cgroups.write(os.path.join(cgroup, "memory.limit_in_bytes"), str(self.memory))
                    memsw = os.path.join(cgroup, "memory.memsw.limit_in_bytes")
                    cgroups.write_optional(memsw, str(self.memory))
            except OSError:
                cgroups.remove(cgroup)
                raise
        measured = self.memory is not None and self.mechanism != JOBOBJECT
        statm = _statm("self") if measured else (0, 0, 0)
        ceiling = 0
        if self.mechanism == "rlimit" and self.memory is not None:
            ceiling = (statm[0] if self.rlimit_as else statm[2]) + self.memory
        return Placement(self.mechanism, self.cpu, cgroup, ceiling, self.rlimit_as, statm[1])

    def release(self, placement_cgroup: str | None, pid: int | None = None) -> None:
        """The process is gone (reaped, or its fork failed): remove its cgroup, close its
        job."""
        if placement_cgroup is not None and not cgroups.remove(placement_cgroup, wait=0.5):
            logger.warning("could not remove the cgroup %s", placement_cgroup)
        self.jobs.release(pid)

    def classify(
        self, code: int, cgroup: str | None, killed_for: str, pid: int | None = None
    ) -> str | None:
        """Which limit a process that ended with `code` went past: "memory", "cpu", or None
        (not a limit). Call before release(): the cgroup holds the OOM killer's count, the
        process's own job (Windows) its accounting."""
        if killed_for:  # the watchdog's SIGKILL
            return killed_for
        if code == EXIT_MEMORY:  # MemoryError under an rlimit or a job's commit limit
            return "memory"
        if self.platform == JOBOBJECT_PLATFORM:
            return "cpu" if self.jobs.ended_at_limit(code, pid) else None
        if sys.platform != "win32":  # exit codes are not signals there
            if code == -signal.SIGXCPU:
                return "cpu"
            if (
                code == -signal.SIGKILL
                and cgroup is not None
                and cgroups.oom_killed(cgroup, self.mechanism == "cgroup2")
            ):
                return "memory"
        if code == EXIT_SETUP:
            logger.error("a user process could not enter its limits (%s)", self.mechanism)
        return None

    def over_limit(self, pid: int, baseline: int) -> bool:
        """The watchdog's question: has `pid` grown past memory_limit since its fork?"""
        if self.mechanism != "watchdog" or self.memory is None:
            return False
        try:
            return _statm(str(pid))[1] - baseline > self.memory
        except (OSError, ValueError, IndexError):
            return False  # gone: reaped soon

    # -- views ---------------------------------------------------------------------------------
    def usage(self, pid: int, cgroup: str | None, baseline: int) -> int | None:
        """Bytes charged to `pid` against memory_limit (its cgroup's, or the anonymous RSS
        it added since the fork); None when unknown."""
        if cgroup is not None:
            name = "memory.current" if self.mechanism == "cgroup2" else "memory.usage_in_bytes"
            return cgroups.read_int(os.path.join(cgroup, name))
        with contextlib.suppress(OSError, ValueError, IndexError):
            return max(0, _statm(str(pid))[1] - baseline)
        return None

    def cpu_mechanism(self) -> str:
        return "job time limit" if self.platform == JOBOBJECT_PLATFORM else "RLIMIT_CPU"

    def describe(self) -> dict[str, Any]:
        return {
            "mechanism": self.mechanism,
            "memory_limit": self.memory,
            "cpu_limit": self.cpu,
            "rlimit": ("RLIMIT_AS" if self.rlimit_as else "RLIMIT_DATA")
            if self.mechanism == "rlimit"
            else None,
            "cgroup": self.base,
            "job": self.jobs.job is not None,
            "available": self.available(),
            "notes": list(self.found.notes),
        }

    def close(self) -> None:
        """The template stops (its processes are gone): remove our cgroups, close our jobs
        (the template's last: closing it ends whatever is left in it)."""
        self.jobs.close()
        if self.base is None:
            return
        for name in os.listdir(self.base) if os.path.isdir(self.base) else []:
            if os.path.isdir(os.path.join(self.base, name)):
                cgroups.remove(os.path.join(self.base, name), wait=1.0)
        with contextlib.suppress(OSError):
            os.rmdir(self.base)


def _statm(pid: str) -> tuple[int, int, int]:
    """(VmSize, anonymous RSS, VmData + stack) of `pid`, in bytes, from /proc/PID/statm."""
    with open(f"/proc/{pid}/statm") as statm:
        fields = [int(f) * _PAGE for f in statm.read().split()]
    return fields[0], fields[1] - fields[2], fields[5]


def _kernel_at_least(major: int, minor: int) -> bool:
    if sys.platform == "win32":
        return True
    match = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return match is not None and (int(match.group(1)), int(match.group(2))) >= (major, minor)
