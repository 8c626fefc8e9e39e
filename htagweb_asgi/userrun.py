"""How a user process starts and stops: forked by its template, or spawned fresh.

Signals: SIGTERM stops quietly (the server is stopping); SIGUSR1 (inactivity), SIGUSR2
(eviction at the process cap) and SIGHUP (the session ended: logout, rotation) first tell
the pages why. EOF on the liveness pipe means the template died: stop at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from typing import NoReturn

from . import appref, logsetup, osutil
from .activity import ActivityBoard
from .userproc import EXPIRED, NO_PROCESS, ProcessSettings, UserApp

logger = logging.getLogger(__name__)

REASONS = {  # signal → (close code for the pages, why)
    signal.SIGUSR1: (EXPIRED, "ended after inactivity"),
    signal.SIGUSR2: (EXPIRED, "ended to make room for other users"),
    signal.SIGHUP: (NO_PROCESS, "the session ended"),
}


async def _serve(app: UserApp, listener: socket.socket, parent_fd: int) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, app.stopped.set)
    for sig, (code, reason) in REASONS.items():
        loop.add_signal_handler(sig, app.end_soon, code, reason)
    loop.add_reader(parent_fd, app.stopped.set)  # EOF: the template (and the server) is gone
    server = await asyncio.start_unix_server(app.serve_connection, sock=listener)
    async with server:
        await app.stopped.wait()
        for conn in list(app.connections):
            conn.writer.close()


def main_spawned() -> None:
    """Entry of a user process started as a fresh interpreter (start_method="spawn").

    The template passes the listening socket, the liveness pipe and the activity board as
    fds 3, 4 and 5, and the rest as JSON in argv.
    """
    spec = json.loads(sys.argv[1])
    sys.path[:] = spec["sys_path"]
    logsetup.configure(spec["log_level"])
    osutil.die_with_parent()
    if os.getppid() != spec["template_pid"]:
        os._exit(0)
    app_class = appref.load(appref.AppRef(**spec["app"]))
    listener = socket.socket(fileno=3)
    board = ActivityBoard(spec["slots"], fd=5)
    settings = ProcessSettings(spec["debug"], spec["max_frame"], spec["max_session"])
    run(app_class, listener, settings, board, spec["slot"], 4)


def run(
    app_class: type,
    listener: socket.socket,
    settings: ProcessSettings,
    board: ActivityBoard,
    slot: int,
    parent_fd: int,
) -> NoReturn:
    """Serve one user until the host or the template ends us. Never returns.

    ``os._exit`` skips the atexit handlers and finalizers inherited from the template.
    """
    code = 0
    try:
        asyncio.run(_serve(UserApp(app_class, settings, board, slot), listener, parent_fd))
    except BaseException:
        logger.exception("user process %d failed", os.getpid())
        code = 1
    finally:
        logging.shutdown()
    os._exit(code)
