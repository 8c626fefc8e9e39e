"""Logging of the processes we start ourselves (templates, spawned user processes).

These are our own programs, not a library inside someone's: they own their logging, and
send it to the server's stderr with the pid, so the operator sees which user process spoke.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s htagweb-asgi[%(process)d] %(levelname)s %(name)s: %(message)s"


def configure(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if level > logging.DEBUG:  # htag logs every interaction at INFO (~0.3 ms each)
        logging.getLogger("htag").setLevel(max(level, logging.WARNING))
