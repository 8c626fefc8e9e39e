"""The OS calls of the template and user processes, each with a portable fallback: dying
with the parent, probing the server, measuring memory, and the processes' own logging."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import sys
from typing import Any

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
LOG_FORMAT = "%(asctime)s htagweb-asgi[%(process)d] %(levelname)s %(name)s: %(message)s"
_MEMORY_FIELDS = {"Rss:": "rss", "Pss:": "pss", "Private_Clean:": "uss", "Private_Dirty:": "uss"}


def die_with_parent() -> None:
    """Linux: have the kernel SIGKILL us when our parent (the template) dies.

    Elsewhere the liveness pipe of the user process does the same job, a little later and only
    while its event loop runs. ``CDLL(None)`` finds prctl among the symbols already loaded,
    where ``find_library`` would run ldconfig in a subprocess (milliseconds per new user).
    """
    if sys.platform != "linux":
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError) as exc:
        logger.debug("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)


def accepts_connections(address: list[Any] | None, timeout: float = 0.5) -> bool:
    """Whether a server listens at `address` ([host, port], or [unix path, None]).

    A connection that is accepted (even only into the backlog) and closed at once; unknown
    addresses count as gone.
    """
    if not address:
        return False
    try:
        host, port = address
        if port is None:
            if sys.platform == "win32":
                return False  # no unix socket server there
            family, target = socket.AF_UNIX, host
        else:  # granian gives the port as a string
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            target = (host, int(port))
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout)
            probe.connect(target)
    except (OSError, ValueError, TypeError) as exc:  # refused, or an address we cannot use
        logger.debug("the server at %r does not answer: %s", address, exc)
        return False
    return True


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists, ours or not (a worker whose counts we keep, a cgroup's
    owner). On Windows ``os.kill(pid, 0)`` would end the process: ask the kernel instead
    (not run on a real Windows machine here)."""
    if sys.platform == "win32":
        from htagweb_asgi.proc import jobobjects  # its kernel32 is typed (64-bit handles)

        return jobobjects.process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's: it exists
        return True
    return True


def memory_usage(pid: int) -> dict[str, int]:
    """Bytes of RSS, PSS and USS (what ending it frees) of `pid`, from Linux's
    /proc/PID/smaps_rollup; empty when unknown."""
    totals: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                parts = line.split()
                name = _MEMORY_FIELDS.get(parts[0]) if parts else None
                if name is not None:
                    totals[name] = totals.get(name, 0) + int(parts[1]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return totals


def configure_logging(level: int) -> None:
    """Logging of the processes we start ourselves (templates, spawned user processes).

    These are our own programs, not a library inside someone's: they own their logging, and
    send it to the server's stderr with the pid, so the operator sees which process spoke.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if level > logging.DEBUG:  # htag logs every interaction at INFO (~0.3 ms each)
        logging.getLogger("htag").setLevel(max(level, logging.WARNING))


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds `pid` has used (Linux's /proc/PID/stat); None when unknown."""
    if sys.platform == "win32":
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
        fields = text[text.rindex(")") + 2 :].split()  # fields[0] is the state (field 3)
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
