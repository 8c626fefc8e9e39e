"""The template process of an App: ``python -m htagweb_asgi.proc.template``, started by a
worker as a fresh interpreter.

It finds out which htag this environment has (proc/engine.py), imports it and the App once,
freezes that memory (``gc.freeze()``), detaches from the worker that started it (its lifetime
is the server's, not that worker's) and then runs the Supervisor, which forks every user
process of the App on request: a new user costs a fork (copy-on-write), not an interpreter
start. No event loop ever runs here: forking from a running loop is what we must not do.

A first start reads its configuration as one JSON line on stdin and reports readiness as one
JSON line on stdout; with ``--resume`` it is the new image of a renewal (see renewal.py).
"""

from __future__ import annotations

import dataclasses
import gc
import glob
import json
import logging
import os
import socket
import sys
import traceback
from typing import Any

from htagweb_asgi import appref, paths, system
from htagweb_asgi.proc import activity, applog, capacity, eventloop, osutil, renewal
from htagweb_asgi.proc.activity import ActivityBoard
from htagweb_asgi.proc.engine import engine
from htagweb_asgi.proc.limiter import Limiter
from htagweb_asgi.proc.portable import board_path
from htagweb_asgi.proc.supervisor import Supervisor
from htagweb_asgi.protocol import portable
from htagweb_asgi.protocol.config import SPARE_SLOTS, TemplateConfig

logger = logging.getLogger(__name__)


def _report(message: dict[str, Any]) -> None:
    """One JSON line to the worker that started us. Written to the descriptor, unbuffered:
    when that worker is gone (killed while we started, on a loaded machine) the line is
    lost, and nothing stays buffered to come out later in the log."""
    try:
        os.write(1, json.dumps(message).encode() + b"\n")
    except BrokenPipeError:  # the other workers find us by our control file, and lease us
        logger.info("the worker that started this template is gone; serving the others")


def _bind_control(config: TemplateConfig) -> tuple[socket.socket, bytes | None]:
    """The socket workers reach us on, and (portable path) the secret they must prove."""
    path = os.path.join(config.directory, config.control_name)
    if config.portable:
        control = socket.create_server((portable.LOOPBACK, 0), backlog=128)
        secret = portable.new_secret()
        for stale in glob.glob(os.path.join(glob.escape(config.directory), "*" + portable.SUFFIX)):
            paths.unlink_quietly(stale)  # a killed template's: we hold the start lock
        address = portable.Address(control.getsockname()[1], secret)
        portable.write_address(path, address)
        return control, secret
    if sys.platform == "win32":
        raise OSError("unix sockets need the POSIX path")
    if os.path.exists(path):
        os.unlink(path)  # a stale socket: the worker holds the start lock, nobody listens on it
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.bind(path)
    control.listen(128)
    return control, None


def _board(config: TemplateConfig) -> ActivityBoard:
    slots = board_slots(config)
    if not config.portable:
        return ActivityBoard(slots)  # anonymous memory, its fd inherited
    return ActivityBoard(slots, fd=activity.shared_file(board_path(config), slots, create=True))


def _detach_stdio() -> None:
    """stdin from /dev/null; stdout to the server's stderr so a user's print() is still seen."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)


def _with_loop(config: TemplateConfig) -> TemplateConfig:
    """The configuration with its user processes' event loop resolved ("auto": uvloop where
    installed; LoopUnavailable said now). Imported here, uvloop is shared by every fork."""
    return dataclasses.replace(config, event_loop=eventloop.resolve(config.event_loop))


def _load(config: TemplateConfig) -> type:
    sys.path[:] = config.sys_path
    app_class = appref.load(config.app)
    Limiter.check(config.memory_limit, config.limit_mechanism, config.cpu_limit)  # said now
    engine().preload()  # warm: every user process needs it
    applog.install()  # before forking: every user process inherits it
    return app_class


def start() -> None:
    """The first start of a template."""
    # Not every loop closes a parent's fds when spawning us (uvloop keeps inheritable ones):
    # holding a worker's listening socket would keep a killed server's port open.
    os.closerange(3, system.max_fd())
    config = TemplateConfig.from_json(sys.stdin.readline())
    osutil.configure_logging(config.log_level)
    try:
        config = _with_loop(config)
        app_class = _load(config)
    except Exception as exc:
        _report({"error": str(exc), "traceback": traceback.format_exc()})
        sys.exit(1)
    control, secret = _bind_control(config)
    board = _board(config)
    # Windows has no fork: there the worker leaves us running without waiting for us
    if sys.platform != "win32" and os.fork():
        os._exit(0)  # the worker reaps us; the template lives on, re-parented, in its session
    supervisor = Supervisor(config, app_class, control, board, secret=secret)
    _freeze()
    if not config.max_processes:
        supervisor.size_to_machine()  # forks the first spare: after the freeze
    _report({"ready": True})
    _detach_stdio()
    _serve(supervisor)


def board_slots(config: TemplateConfig) -> int:
    """Activity slots: room for the processes still ending beside the cap's live ones (an
    automatic cap is only known once a spare was measured, after the board exists)."""
    return SPARE_SLOTS * (config.max_processes or capacity.MAX_PROCESSES)


def resume(argv: list[str]) -> None:
    """The new image of a renewed template: same pid, descriptors handed over in argv."""
    config, state = renewal.take_over(argv)
    osutil.configure_logging(config.log_level)
    try:
        config = _with_loop(config)
        app_class: type | None = _load(config)
        error = ""
    except Exception as exc:  # keep supervising; new users see the error until it is fixed
        logger.error("the renewed App does not import: %s", exc)
        app_class, error = None, f"{exc}\n\n{traceback.format_exc()}"
    control = socket.socket(fileno=state.control)
    board = ActivityBoard(board_slots(config), fd=state.board_fd)
    supervisor = Supervisor(
        config, app_class, control, board, load_error=error, liveness=state.liveness
    )
    supervisor.restore(state)
    _freeze()
    _serve(supervisor)


def _freeze() -> None:
    gc.collect()
    gc.freeze()  # what the template holds now stays shared with every forked user process


def _serve(supervisor: Supervisor) -> None:
    code = 0
    try:
        supervisor.run()
    except BaseException:
        logger.exception("the template of %s failed", supervisor.config.app)
        code = 1
    finally:
        logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    if sys.argv[1:2] == [renewal.RESUME_FLAG]:
        resume(sys.argv[2:])
    else:
        start()
