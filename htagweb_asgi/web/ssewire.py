"""Server-Sent Events framing (``text/event-stream``, WHATWG HTML §9.2), sans-IO.

An event is a few ``field: value`` lines and a blank line; its data may span several
``data:`` lines (the browser joins them with newlines). Our events:

- pushes: the default event type, ``id:`` the push number (the browser sends it back as
  ``Last-Event-ID`` when it reconnects by itself), data the page's message: JSON, or for a
  ``parano`` App the sealed envelope in base64;
- ``event: htagweb``: the host's control messages, the same JSON objects as the websocket's
  ``{"htagweb": ...}`` messages carry (``ready``, ``close``, ``reconnect``);
- comment lines (``: ...``) that keep an idle stream alive through proxies.
"""

from __future__ import annotations

import base64
import json
from typing import Any

CONTENT_TYPE = b"text/event-stream; charset=utf-8"
KEEPALIVE = b": keepalive\n\n"


def event(data: str, *, seq: int | None = None, name: str | None = None) -> bytes:
    """One event: `data` on as many ``data:`` lines as it has lines."""
    lines = []
    if name is not None:
        lines.append(f"event: {name}")
    if seq is not None:
        lines.append(f"id: {seq}")
    lines.extend(f"data: {line}" for line in data.replace("\r\n", "\n").split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def push(seq: int | None, message: bytes, *, sealed: bool) -> bytes:
    """A push to the page: its message as JSON text, or base64 when it is a sealed envelope."""
    text = base64.b64encode(message).decode() if sealed else message.decode()
    return event(text, seq=seq)


def control(message: dict[str, Any]) -> bytes:
    """A control message of the host (the websocket's ``{"htagweb": message}``)."""
    return event(json.dumps(message, separators=(",", ":")), name="htagweb")
