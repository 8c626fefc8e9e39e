"""A template's renewal: re-exec itself to import the App's new code, keeping its pid, its
control socket, its children, its workers' leases and its activity board.

``hand_over`` (old image) marks the descriptors to keep as inheritable and execs
``python -m htagweb_asgi.proc.template --resume CONFIG STATE``; ``take_over`` (new image)
reads them back. Connections that arrive meanwhile wait in the control socket's backlog.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

from htagweb_asgi.protocol.config import TEMPLATE_MODULE, TemplateConfig

RESUME_FLAG = "--resume"


@dataclass(frozen=True)
class State:
    """What the new image needs of the old one: descriptors, the pending request, the table."""

    control: int
    board_fd: int
    liveness: tuple[int, int]
    leases: list[int]
    requester: int  # the worker whose SPAWN found the change: the new image answers it
    request: dict[str, Any]
    processes: dict[str, Any]

    def descriptors(self) -> list[int]:
        return [self.control, self.board_fd, *self.liveness, *self.leases, self.requester]


def hand_over(config: TemplateConfig, state: State) -> NoReturn:
    """Exec the new image of this template (never returns)."""
    for fd in state.descriptors():
        os.set_inheritable(fd, True)
    logging.shutdown()
    argv = [sys.executable, "-m", TEMPLATE_MODULE, RESUME_FLAG, config.to_json()]
    os.execv(sys.executable, [*argv, json.dumps(asdict(state))])


def take_over(argv: list[str]) -> tuple[TemplateConfig, State]:
    """In the new image: the configuration and state from `argv` (after RESUME_FLAG); the
    descriptors stop being inheritable, so a spawned user process does not get them."""
    config = TemplateConfig.from_json(argv[0])
    data = json.loads(argv[1])
    data["liveness"] = tuple(data["liveness"])
    state = State(**data)
    for fd in state.descriptors():
        os.set_inheritable(fd, False)
    return config, state
