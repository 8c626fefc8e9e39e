"""How a user process starts and stops: forked by its template, or spawned fresh, then
waiting as a spare for its assignment (the listening socket of its key; see children.py).
Run as ``python -m htagweb_asgi.proc.usermain SPEC`` when spawned as a fresh interpreter.

Signals: SIGTERM stops quietly (the server is stopping); SIGUSR1 (inactivity, or a page
that never attached), SIGUSR2 (eviction to make room, or replaced by a process for a newer
page), SIGHUP (the session ended: logout, rotation) and SIGINT (replaced: another page of
the session opened the App with other arguments) first tell the pages why. EOF on the
liveness pipe means the template died: stop at once. Every one of these ends lets the App
run its end hook (htag 2's ``on_destroy``); only SIGKILL (an interaction that took too
long) does not. (endings.py names these reasons; on the portable path, portableuser.py
hears them as frames instead.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from htagweb_asgi import appref
from htagweb_asgi.proc import applog, childlimits, eventloop, osutil
from htagweb_asgi.proc.activity import ActivityBoard
from htagweb_asgi.proc.endings import TOLD
from htagweb_asgi.proc.engine import engine
from htagweb_asgi.proc.limiter import Placement
from htagweb_asgi.proc.user import UserApp
from htagweb_asgi.protocol.config import ProcessSettings, TemplateConfig

if sys.platform != "win32":
    from htagweb_asgi.proc.endings import SIGNALS

WARM = b"w"  # a spare tells its template it has warmed up (see capacity.py)
SPAWNED_FDS = (3, 4, 5)  # control pair, liveness pipe, activity board in a spawned process

logger = logging.getLogger(__name__)

PORTABLE_FLAG = "--portable"  # proc/portableuser.py's entry (see proc/portable.py)


def _exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A task of the App that died of MemoryError (an rlimit, a job's commit limit): end,
    saying why."""
    if isinstance(context.get("exception"), MemoryError):
        childlimits.memory_exhausted()
    loop.default_exception_handler(context)


async def _serve(app: UserApp, control: socket.socket, parent_fd: int) -> None:
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":  # this is the POSIX path (the other: portableuser.py)
        loop.add_signal_handler(signal.SIGTERM, app.stopped.set)
        for end, (code, reason) in TOLD.items():
            loop.add_signal_handler(SIGNALS[end], app.end_soon, code, reason)
    loop.add_reader(parent_fd, app.stopped.set)  # EOF: the template (and the server) is gone
    if not select.select([control], [], [], 0)[0]:  # no user waiting for us already
        await app.engine.warm_up()
        with contextlib.suppress(OSError):  # warm: the template may measure us now
            control.send(WARM)
    listener = await _assignment(app, control)
    if listener is None:
        return  # the template let this spare go (it was renewed, or is stopping)
    if sys.platform == "win32":
        server = await asyncio.start_server(app.serve_connection, sock=listener)
    else:
        server = await asyncio.start_unix_server(app.serve_connection, sock=listener)
    async with server:
        await app.stopped.wait()
        server.close()  # no new connection while the open ones end
        await app.close()


async def _assignment(app: UserApp, control: socket.socket) -> socket.socket | None:
    """Wait (as a spare, loop already running) for our key's listening socket and slot."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[tuple[bytes, list[int]]] = loop.create_future()

    def readable() -> None:
        if sys.platform == "win32":
            return  # no fds to receive there: the portable path assigns by frames
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 4096, 1)
        except BlockingIOError:
            return
        except OSError:  # the template is gone (killed: ECONNRESET): no assignment will come
            message, fds = b"", []
        loop.remove_reader(control.fileno())
        if not received.done():
            received.set_result((message, fds))

    control.setblocking(False)
    loop.add_reader(control.fileno(), readable)
    stopped: asyncio.Future[Any] = asyncio.ensure_future(app.stopped.wait())
    waiting: set[asyncio.Future[Any]] = {received, stopped}
    done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    control.close()
    if received not in done:
        return None
    message, fds = received.result()
    if not message or not fds:
        return None
    app.slot = int(json.loads(message)["slot"])
    app.board.touch(app.slot)
    return socket.socket(fileno=fds[0])


def main_spawned() -> None:
    """Entry of a user process started as a fresh interpreter (start_method="spawn").

    The template passes the control pair, the liveness pipe and the activity board as fds 3,
    4 and 5 (SPAWNED_FDS), its configuration, pid and board size as JSON in argv.
    """
    spec = json.loads(sys.argv[1])
    childlimits.enter(Placement(**spec["placement"]))
    config = TemplateConfig.from_json(spec["config"])
    sys.path[:] = config.sys_path
    osutil.configure_logging(config.log_level)
    osutil.die_with_parent()
    if os.getppid() != spec["template_pid"]:
        os._exit(0)
    app_class = appref.load(config.app)
    applog.install()
    control = socket.socket(fileno=SPAWNED_FDS[0])
    board = ActivityBoard(spec["slots"], fd=SPAWNED_FDS[2])
    run(app_class, control, config.process_settings(), board, SPAWNED_FDS[1])


def run(
    app_class: type,
    control: socket.socket,
    settings: ProcessSettings,
    board: ActivityBoard,
    parent_fd: int,
) -> NoReturn:
    """Wait for an assignment, then serve one user until the host or the template ends us.
    Never returns."""

    async def serve(app: UserApp) -> None:
        await _serve(app, control, parent_fd)

    run_with(app_class, settings, board, serve)


def run_with(
    app_class: type,
    settings: ProcessSettings,
    board: ActivityBoard,
    serve: Callable[[UserApp], Coroutine[Any, Any, None]],
) -> NoReturn:
    """Run `serve` on a new UserApp in asyncio, then exit (the fork path's and the
    portable path's common end). Never returns.

    ``os._exit`` skips the atexit handlers and finalizers inherited from the template.
    """

    async def limited(app: UserApp) -> None:
        # A MemoryError is the memory limit on both paths (and the only one on Windows, where
        # the job's commit limit fails allocations): wherever the App's code meets it, end
        # with EXIT_MEMORY, which the template tells its user as the limit.
        asyncio.get_running_loop().set_exception_handler(_exception_handler)
        childlimits.watch_memory_errors()
        await serve(app)

    code = 0
    try:
        user_app = UserApp(app_class, settings, board, -1, engine())
        eventloop.run(limited(user_app), settings.event_loop)
    except MemoryError:
        childlimits.memory_exhausted()
    except BaseException:
        logger.exception("user process %d failed", os.getpid())
        code = 1
    finally:
        logging.shutdown()
    os._exit(code)


def main() -> None:
    """``python -m htagweb_asgi.proc.usermain``: a spawned process of either path."""
    if sys.argv[1:2] == [PORTABLE_FLAG]:
        from htagweb_asgi.proc import portableuser  # it builds on this module

        portableuser.main()
    else:
        main_spawned()


if __name__ == "__main__":
    main()
