"""The few OS-specific calls, each with a portable fallback."""

from __future__ import annotations

import ctypes
import logging
import resource
import signal
import socket
import sys
from typing import Any

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: have the kernel SIGKILL us when our parent (the template) dies.

    Elsewhere the liveness pipe of the user process does the same job, a little later and only
    while its event loop runs. ``CDLL(None)`` finds prctl among the symbols already loaded,
    where ``find_library`` would run ldconfig in a subprocess (milliseconds per new user).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError) as exc:
        logger.debug("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)


def max_fd() -> int:
    """One past the highest file descriptor this process may hold."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def raise_fd_limit() -> None:
    """Raise the soft limit on open files to the hard one: the template holds a few per user."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 16)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            logger.debug("cannot raise RLIMIT_NOFILE: %s", exc)


def accepts_connections(address: list[Any] | None, timeout: float = 0.5) -> bool:
    """Whether a server listens at `address` ([host, port], or [unix path, None]).

    A connection that is accepted (even only into the backlog) and closed at once; unknown
    addresses count as gone.
    """
    if not address:
        return False
    host, port = address
    if port is None:
        family, target = socket.AF_UNIX, host
    else:
        family, target = (socket.AF_INET6 if ":" in host else socket.AF_INET), (host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(target)
        except OSError:
            return False
    return True
