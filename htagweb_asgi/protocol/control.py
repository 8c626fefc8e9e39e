"""Blocking requests to the templates of this machine: ``ps``, ``kill``, ``roll`` and logouts.

Every live template of this user answers on its control socket under the runtime directory;
we ask each one for its processes (LIST) or to end one user's (KILL by session hash prefix
or pid), or to end a session's (logout). Plain blocking sockets: the callers are a
command, Django's signal receivers, or a worker thread.
"""

from __future__ import annotations

import glob
import os
import socket
from collections.abc import Iterator
from typing import Any

from htagweb_asgi.protocol.config import CONTROL_SOCKET
from htagweb_asgi.protocol.frames import FrameDecoder, Kind, encode_json, load_json

_TIMEOUT = 5.0
MIN_MATCH = 6  # characters of a session hash an operator must give to `kill`


def _ask(path: str, kind: Kind, request: dict[str, Any]) -> Any:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(_TIMEOUT)
        sock.connect(path)
        sock.sendall(encode_json(kind, request))
        decoder = FrameDecoder()
        while True:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the template closed the connection")
            frames = decoder.feed(data)
            if frames:
                return load_json(frames[0][1])


def templates(base: str) -> Iterator[str]:
    """Control sockets of the live templates under `base` (stale ones are skipped later)."""
    yield from sorted(glob.glob(os.path.join(glob.escape(base), "*", CONTROL_SOCKET)))


def _ask_every_template(base: str, kind: Kind, request: dict[str, Any]) -> list[Any]:
    answers = []
    for path in templates(base):
        try:
            answers.append(_ask(path, kind, request))
        except OSError:
            continue  # a template that just stopped
    return answers


def listings(base: str, memory: bool = True) -> list[dict[str, Any]]:
    """Every template's processes (`memory`: with their RSS, PSS and USS, read from /proc:
    a cost to the template for each process, skip it to watch often)."""
    return _ask_every_template(base, Kind.LIST, {"memory": memory})


def kill(base: str, match: str) -> int:
    """End the processes whose session hash starts with `match` (or whose pid it is)."""
    return sum(int(a["killed"]) for a in _ask_every_template(base, Kind.KILL, {"match": match}))


def roll(base: str, idle: float = 0.0) -> int:
    """End, in every template under `base`, the processes that run App code older than its
    files (their pages reload at their next action, onto the new code); only those idle
    for `idle` seconds. Return how many are ending."""
    return sum(int(a["ending"]) for a in _ask_every_template(base, Kind.ROLL, {"idle": idle}))


def end_session(base: str, tag: str) -> int:
    """End, in every template under `base`, the processes of the session named `tag`."""
    return sum(int(a["killed"]) for a in _ask_every_template(base, Kind.KILL, {"session": tag}))
