"""The template process of an App, started by a worker as a fresh interpreter.

It imports htag and the App once, freezes that memory (``gc.freeze()``), detaches from the
worker that started it (its lifetime is the server's, not that worker's) and then runs the
Supervisor, which forks every user process of the App on request: a new user costs a fork
(copy-on-write), not an interpreter start. No event loop ever runs here: forking from a
running loop is what we must not do.

``main()`` is the first start (configuration as one JSON line on stdin, readiness reported
as one JSON line on stdout); ``resume()`` is the re-exec of a renewal (see supervisor.py).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import sys
import traceback
from dataclasses import asdict, dataclass
from typing import Any

from . import appref, logsetup, osutil
from .activity import ActivityBoard
from .supervisor import CONTROL_SOCKET, Supervisor

logger = logging.getLogger(__name__)

SPARE_SLOTS = 2  # activity slots per allowed process: room for those still ending


@dataclass(frozen=True)
class TemplateConfig:
    """Everything the template needs; JSON-serializable."""

    app: appref.AppRef
    directory: str
    label: str  # what `python -m htagweb_asgi ps` shows: server and App path
    server_address: list[Any] | None  # where the server listens: [host, port] or [path, None]
    sys_path: list[str]
    debug: bool
    timeout_inactivity: float
    max_processes: int
    max_frame: int
    max_session: int
    lease_grace: float
    stop_grace: float
    evict_after: float
    start_method: str  # "fork" or "spawn"
    spare_processes: int  # started processes kept ready for the next new users
    log_level: int

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TemplateConfig:
        data: dict[str, Any] = json.loads(text)
        data["app"] = appref.AppRef(**data["app"])
        return cls(**data)


def _report(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _bind_control(directory: str) -> socket.socket:
    path = os.path.join(directory, CONTROL_SOCKET)
    if os.path.exists(path):
        os.unlink(path)  # a stale socket: the worker holds the start lock, nobody listens on it
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.bind(path)
    control.listen(128)
    return control


def _detach_stdio() -> None:
    """stdin from /dev/null; stdout to the server's stderr so a user's print() is still seen."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)


def _load(config: TemplateConfig) -> type:
    sys.path[:] = config.sys_path
    app_class = appref.load(config.app)
    import htag.render  # noqa: F401  (warm: every user process needs it)

    return app_class


def main() -> None:
    # Not every loop closes a parent's fds when spawning us (uvloop keeps inheritable ones):
    # holding a worker's listening socket would keep a killed server's port open.
    os.closerange(3, osutil.max_fd())
    config = TemplateConfig.from_json(sys.stdin.readline())
    logsetup.configure(config.log_level)
    try:
        app_class = _load(config)
    except Exception as exc:
        _report({"error": str(exc), "traceback": traceback.format_exc()})
        sys.exit(1)
    control = _bind_control(config.directory)
    board = ActivityBoard(config.max_processes * SPARE_SLOTS)
    if os.fork():
        _report({"ready": True})
        os._exit(0)  # the worker reaps us; the template lives on, re-parented, in its session
    _detach_stdio()
    _serve(Supervisor(config, app_class, control, board))


def resume() -> None:
    """The new image of a renewed template: same pid, fds handed over in argv."""
    config = TemplateConfig.from_json(sys.argv[1])
    state = json.loads(sys.argv[2])
    logsetup.configure(config.log_level)
    try:
        app_class: type | None = _load(config)
        error = ""
    except Exception as exc:  # keep supervising; new users see the error until it is fixed
        logger.error("the renewed App does not import: %s", exc)
        app_class, error = None, f"{exc}\n\n{traceback.format_exc()}"
    control = socket.socket(fileno=state["control"])
    board = ActivityBoard(config.max_processes * SPARE_SLOTS, fd=state["board_fd"])
    liveness = (state["liveness"][0], state["liveness"][1])
    for fd in (control.fileno(), board.fd, *liveness):
        os.set_inheritable(fd, False)
    supervisor = Supervisor(config, app_class, control, board, load_error=error, liveness=liveness)
    supervisor.restore(state)
    _serve(supervisor)


def _serve(supervisor: Supervisor) -> None:
    gc.collect()
    gc.freeze()  # what the template holds now stays shared with every forked user process
    code = 0
    try:
        supervisor.run()
    except BaseException:
        logger.exception("the template of %s failed", supervisor.config.app)
        code = 1
    finally:
        logging.shutdown()
    os._exit(code)
