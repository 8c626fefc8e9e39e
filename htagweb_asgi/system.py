"""What both halves ask of the OS: the number of open files, and an exclusive file lock.

POSIX has both (``resource``, ``fcntl.flock``); Windows has neither module, and gets its
own answers here, so that no other module needs to know.
"""

from __future__ import annotations

import logging
import sys

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl
    import resource

logger = logging.getLogger(__name__)
WINDOWS_FDS = 8192  # the C runtime's own cap on file descriptors (_setmaxstdio)


def max_fd() -> int:
    """One past the highest file descriptor this process may hold."""
    if sys.platform == "win32":
        return WINDOWS_FDS
    else:  # the else (not code after the return) is what mypy --platform win32 skips
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return soft if soft != resource.RLIM_INFINITY else 1 << 20


def lock_exclusive(fd: int) -> None:
    """Block until we hold the exclusive lock of the open file `fd` (released when the fd
    is closed): ``flock``, or on Windows ``msvcrt.locking`` of its first byte (which tries
    for about ten seconds, then raises OSError; we try again)."""
    if sys.platform == "win32":
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue
    else:
        fcntl.flock(fd, fcntl.LOCK_EX)


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard one; return the soft limit now.

    A template holds a few descriptors per user, a worker one per connection: the default
    soft limit (1024 on most systems) is reached long before memory is. (Windows: there is
    no such limit to raise; sockets are not C runtime descriptors.)
    """
    if sys.platform == "win32":
        return WINDOWS_FDS
    else:
        return _raise_posix_fd_limit()


if sys.platform != "win32":  # the POSIX half of raise_fd_limit

    def _raise_posix_fd_limit() -> int:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        before = soft
        if hard == resource.RLIM_INFINITY:
            hard = max(soft, 1 << 16)
        if soft < hard:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
                soft = hard
            except (ValueError, OSError) as exc:
                logger.warning("cannot raise the open-files limit from %d: %s", soft, exc)
        if soft != before:
            logger.info("open files: limit raised from %d to %d (the hard limit)", before, soft)
        else:
            logger.info("open files: limit %d (the hard limit)", soft)
        return soft
