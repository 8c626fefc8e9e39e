"""The few OS-specific calls, each with a portable fallback."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import resource
import signal
import sys

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: have the kernel SIGKILL us when our parent (the template) dies.

    Elsewhere the liveness pipe of the user process does the same job, a little later and only
    while its event loop runs.
    """
    if not sys.platform.startswith("linux"):
        return
    libc_name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError) as exc:
        logger.debug("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)


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
