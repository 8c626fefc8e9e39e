"""The template process of an App: ``python -m htagweb_asgi.template``, configured on stdin.

It imports htag and the App once, freezes that memory (``gc.freeze()``), detaches from the
worker that started it and then forks every user process of that App on request, so a new
user costs a fork (copy-on-write) instead of an interpreter start. No event loop ever runs
here: forking from a running loop is what we must not do.
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

from . import appref
from .activity import ActivityBoard
from .supervisor import CONTROL_SOCKET, Supervisor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TemplateConfig:
    """Everything the template needs, sent as one JSON line on its stdin."""

    app: appref.AppRef
    directory: str
    sys_path: list[str]
    debug: bool
    timeout_inactivity: float
    max_processes: int
    max_frame: int
    lease_grace: float
    stop_grace: float
    log_level: int

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> TemplateConfig:
        data: dict[str, Any] = json.loads(line)
        data["app"] = appref.AppRef(**data["app"])
        return cls(**data)


def _report(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _configure_logging(level: int) -> None:
    """This process is our own program, so it owns its logging (to the server's stderr)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s htagweb-asgi[%(process)d] %(levelname)s %(name)s: %(message)s"
        )
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    if level > logging.DEBUG:
        logging.getLogger("htag").setLevel(max(level, logging.WARNING))


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


def main() -> None:
    config = TemplateConfig.from_json(sys.stdin.readline())
    sys.path[:] = config.sys_path
    _configure_logging(config.log_level)
    try:
        app_class = appref.load(config.app)
        import htag.render  # noqa: F401  (warm: every user process needs it)
    except Exception as exc:
        _report({"error": str(exc), "traceback": traceback.format_exc()})
        sys.exit(1)
    control = _bind_control(config.directory)
    board = ActivityBoard(config.max_processes)
    pid = os.fork()
    if pid:
        _report({"ready": True, "pid": pid})
        os._exit(0)  # the worker reaps us; the template lives on, re-parented, in its session
    _detach_stdio()
    gc.collect()
    gc.freeze()
    code = 0
    try:
        Supervisor(config, app_class, control, board).run()
    except BaseException:
        logger.exception("the template of %s failed", config.app)
        code = 1
    finally:
        logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    main()
