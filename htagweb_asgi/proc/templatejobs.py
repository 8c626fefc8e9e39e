"""The template's job objects on Windows (see jobobjects.py): its own, which holds every
user process (killed when the template ends; each one's commit capped with memory_limit),
and with cpu_limit one per process, nested in it, whose accounting tells a death at the
time limit from a crash. limiter.py owns one; elsewhere it holds nothing and does nothing.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.proc import joblayouts, jobobjects

logger = logging.getLogger(__name__)


class JobRefused(HtagwebError):
    """Raised when Windows refuses the template's job while limits were asked for."""


class TemplateJobs:
    """One template's job objects."""

    def __init__(self, memory: int | None, cpu: float | None) -> None:
        self.memory = memory
        self.cpu = cpu
        self.job: int | None = None  # the template's job: only the template holds it
        self._own: dict[int, int] = {}  # cpu_limit: each process's own job, by pid

    def open(self, probe: bool) -> None:
        """Make the template's job (a probe only proves Windows accepts it). Without it the
        limits asked for are refused (JobRefused); without limits, only the no-orphans
        guarantee is lost, and that is said."""
        if sys.platform != "win32":  # told it is Windows (tests): nothing to open here
            return
        limited = self.memory is not None or self.cpu is not None
        try:
            ceiling = None if self.memory is None else jobobjects.own_commit() + self.memory
            self.job = jobobjects.create(joblayouts.template_limits(ceiling))
        except OSError as exc:
            if limited:
                raise JobRefused(f"Windows refused a job object: {exc}") from exc
            logger.warning("no job object (%s): user processes may outlive the template", exc)
            return
        if probe:
            jobobjects.close(self.job)
            self.job = None

    def adopt(self, pid: int) -> dict[str, Any]:
        """Right after a user process's start, before it reads its spec (so before any App
        code): put it in the template's job and, with cpu_limit, in a job of its own; return
        what its placement gains (its handle to that job). OSError: it must not run."""
        if sys.platform != "win32" or self.job is None:
            return {}
        jobobjects.assign(self.job, pid)
        if self.cpu is None:
            return {}
        own = jobobjects.create(joblayouts.ExtendedLimits())  # the process sets its ceiling
        try:
            jobobjects.assign(own, pid)  # nested in the template's job
            handle = jobobjects.share(own, pid)
        except OSError:
            jobobjects.close(own)
            raise
        self._own[pid] = own  # kept until it is reaped: its accounting (ended_at_limit)
        return {"job": handle}

    def ended_at_limit(self, code: int, pid: int | None) -> bool:
        """Windows ended process `pid`, exited with `code`, at its own job's time limit: the
        job counts a process ended by a limit (documented), or the process exited with the
        status Windows documents for a job's time limit (that the per-process limit uses it
        too is not documented)."""
        if self.cpu is None:
            return False
        if code == joblayouts.ERROR_NOT_ENOUGH_QUOTA:
            return True
        own = self._own.get(pid) if pid is not None else None
        if sys.platform == "win32" and own is not None:
            with contextlib.suppress(OSError):
                return jobobjects.terminated_by_limit(own) > 0
        return False

    def release(self, pid: int | None) -> None:
        """Process `pid` is reaped: close its own job."""
        own = self._own.pop(pid, None) if pid is not None else None
        if sys.platform == "win32" and own is not None:
            jobobjects.close(own)

    def close(self) -> None:
        """The template stops: close every job, the template's last (which ends whatever
        is still in it)."""
        if sys.platform == "win32":
            for job in [*self._own.values(), *([self.job] if self.job else [])]:
                jobobjects.close(job)
        self._own.clear()
        self.job = None
