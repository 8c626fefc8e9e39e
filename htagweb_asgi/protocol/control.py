"""Blocking requests to the templates of this machine: ``ps``, ``kill``, ``roll`` and logouts.

Every live template of this user answers on its control socket under the runtime directory
(or, on the portable path, on the loopback port its ``template.port`` names);
we ask each one for its processes (LIST) or to end one user's (KILL by session hash prefix
or pid), or to end a session's (logout). Plain blocking sockets: the callers are a
command, Django's signal receivers, or a worker thread.
"""

from __future__ import annotations

import glob
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any

from htagweb_asgi.protocol import portable
from htagweb_asgi.protocol.config import CONTROL_SOCKET
from htagweb_asgi.protocol.frames import FrameDecoder, Kind, encode_json, load_json
from htagweb_asgi.protocol.handshake import HANDSHAKE_FRAME, ClientHandshake

_TIMEOUT = 5.0
MIN_MATCH = 6  # characters of a session hash an operator must give to `kill`


def _connect(path: str) -> socket.socket:
    """A connection to the template at `path`: its unix socket, or (portable path) the
    loopback port its file names, once both sides proved the template's secret."""
    if not path.endswith(portable.SUFFIX):
        if sys.platform == "win32":
            raise OSError("unix sockets need the POSIX path")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(_TIMEOUT)
        sock.connect(path)
        return sock
    address = portable.read_address(path)
    sock = socket.create_connection((portable.LOOPBACK, address.port), _TIMEOUT)
    try:
        handshake = ClientHandshake(
            address.secret or b"", portable.WORKER_NAME, portable.TEMPLATE_NAME
        )
        decoder = FrameDecoder(HANDSHAKE_FRAME)
        sock.sendall(handshake.respond(*_next_frame(sock, decoder)))
        handshake.verify(*_next_frame(sock, decoder))
    except BaseException:
        sock.close()
        raise
    return sock


def _next_frame(sock: socket.socket, decoder: FrameDecoder) -> tuple[Kind, bytes]:
    while True:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the template closed the connection")
        frames = decoder.feed(data)
        if frames:
            return frames[0]


def _ask(path: str, kind: Kind, request: dict[str, Any]) -> Any:
    with _connect(path) as sock:
        sock.sendall(encode_json(kind, request))
        return load_json(_next_frame(sock, FrameDecoder())[1])


def templates(base: str) -> Iterator[str]:
    """Control files of the live templates under `base`: sockets, and the port files of
    the portable path (stale ones are skipped later)."""
    root = glob.escape(base)
    found = glob.glob(os.path.join(root, "*", CONTROL_SOCKET))
    found += glob.glob(os.path.join(root, "*", portable.CONTROL_FILE))
    yield from sorted(found)


def _ask_every_template(base: str, kind: Kind, request: dict[str, Any]) -> list[Any]:
    answers = []
    for path in templates(base):
        try:
            answers.append(_ask(path, kind, request))
        except (OSError, ValueError):
            continue  # a template that just stopped (or a file that is not ours)
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
