"""A user process's side of its limits (see limiter.py): enter its placement right after
the fork, re-arm its CPU budget at each interaction, and end with the exit code that says
"memory" when an allocation fails under an rlimit.

RLIMIT_CPU counts the CPU time the process has used since it started, so the budget of an
interaction is set as "what was used so far + cpu_limit", rounded up to a second (the
kernel's granularity): cpu_limit to cpu_limit + 1 s. Past it the kernel sends SIGXCPU, whose
default action ends the process; the template sees the signal and tells the user.

On Windows the template has put the process in its jobs before it reads its spec (see
jobobjects.py): its memory limit needs nothing from it; for cpu_limit it moves its own
job's ceiling the same way, "user-mode time so far + cpu_limit" (Windows counts user-mode
time only, to 100 ns), and Windows ends it past that.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

from htagweb_asgi.proc import cgroups, joblayouts, jobobjects
from htagweb_asgi.proc.limiter import EXIT_MEMORY, EXIT_SETUP, Placement

if sys.platform != "win32":
    import resource

logger = logging.getLogger(__name__)

# Windows, cpu_limit: this process's handle to its own job (see enter). Per process, set
# once at its start from its placement: CpuBudget, made by the App's host, finds it here.
_own_job = 0


def enter(placement: Placement) -> None:
    """Right after the fork: join the process's cgroup, or set its rlimit, and turn off the
    core dump SIGXCPU would write. On failure exit with EXIT_SETUP: never run unlimited."""
    global _own_job
    if placement.cgroup is None and not placement.ceiling and placement.cpu is None:
        return
    if sys.platform == "win32":  # already in the template's job: its own, for cpu_limit
        if placement.cpu is not None and not placement.job:
            logger.error("user process %d has no job for its cpu_limit", os.getpid())
            os._exit(EXIT_SETUP)
        _own_job = placement.job
    else:
        try:
            if placement.cgroup is not None:
                cgroups.write(os.path.join(placement.cgroup, "cgroup.procs"), "0")
            elif placement.ceiling:
                which = resource.RLIMIT_AS if placement.rlimit_as else resource.RLIMIT_DATA
                _soft, hard = resource.getrlimit(which)
                ceiling = placement.ceiling
                if hard != resource.RLIM_INFINITY:
                    ceiling = min(ceiling, hard)
                resource.setrlimit(which, (ceiling, ceiling))
            if placement.cpu is not None:
                _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
                resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
        except (OSError, ValueError) as exc:
            logger.error("user process %d could not enter its limits: %s", os.getpid(), exc)
            os._exit(EXIT_SETUP)


class CpuBudget:
    """``cpu_limit`` CPU seconds from each interaction on (None: no budget)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds

    def arm(self) -> None:
        """A fresh budget from now: at the start of each interaction (and of the App)."""
        if self.seconds is None:
            return
        if sys.platform == "win32":
            if _own_job:  # (else no limit asked: see enter)
                limits = joblayouts.cpu_limits(os.times().user, self.seconds)
                try:
                    jobobjects.set_limits(_own_job, limits)
                except OSError as exc:  # never run on without the budget asked for
                    logger.error("user process %d: cannot arm cpu_limit: %s", os.getpid(), exc)
                    os._exit(EXIT_SETUP)
        else:
            with contextlib.suppress(ValueError):  # not the main thread: keep the disposition
                signal.signal(signal.SIGXCPU, signal.SIG_DFL)  # an App may not keep its budget
            times = os.times()
            soft = math.ceil(times.user + times.system + self.seconds)
            _old, hard = resource.getrlimit(resource.RLIMIT_CPU)
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def memory_exhausted() -> NoReturn:
    """A MemoryError under an rlimit or a job's commit limit: end now, with the code the
    template reads as "memory" (the App's state may be half-updated; going on would be
    worse)."""
    os._exit(EXIT_MEMORY)


class _MemoryErrors(logging.Filter):
    """htag catches an App's exceptions and logs them: htag 1 with the exception as the first
    argument, htag 2 with its traceback (``exc_info``). A MemoryError among them calls
    `on_memory_error`."""

    def __init__(self, on_memory_error: Callable[[], None]) -> None:
        super().__init__()
        self._on_memory_error = on_memory_error

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        raised = record.exc_info[1] if record.exc_info else None
        if isinstance(raised, MemoryError) or (args and isinstance(args[0], MemoryError)):
            self._on_memory_error()
        return True


def watch_memory_errors(on_memory_error: Callable[[], None] = memory_exhausted) -> None:
    """Call `on_memory_error` when htag swallows a MemoryError of the App (under an rlimit
    or a Windows job's commit limit it is the process's memory limit). First among the
    filters of htag's loggers: applog's rewrites (or drops) the records it has seen before."""
    for name in ("htag.render", "htag"):
        logging.getLogger(name).filters.insert(0, _MemoryErrors(on_memory_error))
