"""Limits of this process that both halves set: the number of open files."""

from __future__ import annotations

import logging
import resource

logger = logging.getLogger(__name__)


def max_fd() -> int:
    """One past the highest file descriptor this process may hold."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard one; return the soft limit now.

    A template holds a few descriptors per user, a worker one per connection: the default
    soft limit (1024 on most systems) is reached long before memory is.
    """
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
