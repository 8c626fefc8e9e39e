"""The operator's view: ``python -m htagweb_asgi ps`` and ``python -m htagweb_asgi kill``.

Every live template of this user answers on its control socket under the runtime directory;
we ask each one for its processes (LIST) or to end one user's (KILL by session hash prefix
or pid). Plain blocking sockets: this is a command, not a server.
"""

from __future__ import annotations

import glob
import os
import socket
from collections.abc import Iterator
from typing import Any

from .framing import FrameDecoder, Kind, encode_json, load_json
from .supervisor import CONTROL_SOCKET

_TIMEOUT = 5.0


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


def listings(base: str) -> list[dict[str, Any]]:
    return _ask_every_template(base, Kind.LIST, {})


def kill(base: str, match: str) -> int:
    """End the processes whose session hash starts with `match` (or whose pid it is)."""
    return sum(int(a["killed"]) for a in _ask_every_template(base, Kind.KILL, {"match": match}))


def end_session(base: str, tag: str) -> int:
    """End, in every template under `base`, the processes of the session named `tag`."""
    return sum(int(a["killed"]) for a in _ask_every_template(base, Kind.KILL, {"session": tag}))


def _megabytes(value: int | None) -> str:
    return f"{value / 1048576:.1f}M" if value is not None else "-"


def format_listings(found: list[dict[str, Any]]) -> str:
    header = ("APP", "WHERE", "TEMPLATE", "WORKERS", "SESSION", "PID", "AGE", "IDLE", "RSS", "USS")
    rows: list[tuple[str, ...]] = [header]
    for template in found:
        common = (
            template["app"],
            template["label"],
            str(template["pid"]),
            str(template["workers"]),
        )
        for proc in template["processes"] or [None]:
            if proc is None:
                rows.append((*common, "-", "-", "-", "-", "-", "-"))
                continue
            rows.append(
                (
                    *common,
                    proc["key"],
                    str(proc["pid"]),
                    f"{proc['age']:.0f}s",
                    f"{proc['idle']:.0f}s",
                    _megabytes(proc.get("rss")),
                    _megabytes(proc.get("uss")),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
