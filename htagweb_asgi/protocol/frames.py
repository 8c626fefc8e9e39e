"""Length-prefixed, typed frames: the wire format between the host, the template and user processes.

A frame is a 4-byte big-endian length N, then N bytes: one type byte and N-1 payload bytes.
This module does no IO (sans-IO) so the anyio host, the synchronous template process and the
asyncio user process all share one tested implementation.
"""

from __future__ import annotations

import enum
import json
import struct
from typing import Any

from htagweb_asgi.errors import HtagwebError

HEADER = struct.Struct(">IB")
HEADER_SIZE = HEADER.size
DEFAULT_MAX_FRAME = 64 * 1024 * 1024
PUSH_NUMBER = struct.Struct(">Q")  # the number that starts an EVENT frame
PUSH_NUMBER_BYTES = PUSH_NUMBER.size


class FrameError(HtagwebError):
    """Raised by the decoder when the peer sends a frame that breaks the protocol."""


class Kind(bytes, enum.Enum):
    """Frame types. Host→process and process→host share one namespace so logs stay readable."""

    # host → user process
    PAGE = b"P"  # JSON {"init": [args, kwargs]}: render the page (create the renderer if needed)
    # JSON {"instance": str, "subscribe": bool, "parano": bool, "page": str, "resume": int}:
    # bind this channel to the instance (page, resume: a page that numbers what it gets)
    ATTACH = b"A"
    INTERACT = b"I"  # what the page sent: {"iid", "message"} (proc/pagewire.py), or htag's alone
    SESSION = b"Y"  # JSON {key: JSON text}: the session as stored (sent when it changed)
    # user process → host
    HELLO = b"h"  # JSON {"pid": int}: sent first on every connection
    HTML = b"H"  # JSON header line, "\n", then the page's HTML
    MISMATCH = b"M"  # JSON {"pid": int}: the live renderer was built with other init arguments
    OK = b"K"  # JSON {"pid": int}: attach accepted
    GONE = b"G"  # JSON {"reason": str}: no such instance here (replaced or never created)
    CHANGES = b"C"  # JSON {key: JSON text or null}: what the App changed in the session
    REPLY = b"R"  # actions JSON for the last INTERACT
    PUSH = b"U"  # actions JSON from tag.update(), for a bare client
    EVENT = b"V"  # push number (8 bytes, big-endian), then the page's message: a numbered push
    REJECT = b"E"  # JSON {"code": int, "reason": str}: the last INTERACT (or ATTACH) refused
    ROTATE = b"W"  # JSON {}: the App called session.rotate(): give the session a new id
    END = b"X"  # JSON {"code": int, "reason": str}: the process is ending (exit(), expiry)
    # host ↔ template (control channel)
    SPAWN = b"S"  # JSON {"key": str, "replace_pid": int | None} → SPAWNED {"pid": int}
    SPAWNED = b"s"
    KILL = b"k"  # JSON {"key": str, "pid": int} → DONE
    RENAME = b"n"  # JSON {"key", "pid", "new_key", "session"} → DONE {"renamed": bool}
    LEASE = b"L"  # keep this connection open while the worker uses the template
    BYE = b"B"  # the worker shuts down cleanly and drops its lease
    LIST = b"l"  # → LISTING [{...}, ...]
    LISTING = b"t"
    DONE = b"d"
    FAIL = b"f"  # JSON {"message": str}
    # node ↔ node (cluster/link.py): mutual authentication, then which process to reach
    AUTH = b"N"  # JSON {"node": str, "nonce": hex, "mac": hex}
    OPEN = b"O"  # JSON {"op": "connect" | "spawn" | "kill", "app": str, "key": str, ...}
    STATUS = b"q"  # → DONE {"loaded": bool, ...}: cheap, for /_/readyz
    METRICS = b"m"  # → DONE {...}: the template's counts and the workers' summed series
    ENDED = b"e"  # JSON {"pid": int} → DONE {"reason": str, "message": str} once it is reaped
    ROLL = b"o"  # JSON {"idle": float} → DONE {"ending": int}: end processes of older code
    # template ↔ user process, portable path (proc/portable.py): the link opens with LEASE
    # {"token": hex}; then the template sends ASSIGN and END {"why": str}, the process WARM
    ASSIGN = b"a"  # JSON {"slot": int}: you are a user's process now
    WARM = b"w"  # the spare has warmed up (see capacity.py)


_KINDS = {k.value: k for k in Kind}


def encode(kind: Kind, payload: bytes = b"") -> bytes:
    """Return the bytes of one frame."""
    return HEADER.pack(len(payload) + 1, kind.value[0]) + payload


def encode_json(kind: Kind, obj: Any) -> bytes:
    """Return one frame whose payload is compact JSON."""
    return encode(kind, json.dumps(obj, separators=(",", ":")).encode())


def parse_header(header: bytes, max_frame: int = DEFAULT_MAX_FRAME) -> tuple[Kind, int]:
    """Return (kind, payload length) from a HEADER_SIZE-byte header, or raise FrameError."""
    length, kind_byte = HEADER.unpack(header)
    if length < 1 or length > max_frame:
        raise FrameError(f"frame length {length} outside 1..{max_frame}")
    try:
        kind = _KINDS[bytes((kind_byte,))]
    except KeyError:
        raise FrameError(f"unknown frame type {kind_byte!r}") from None
    return kind, length - 1


def load_json(payload: bytes) -> Any:
    """Decode a JSON payload; malformed JSON from our own peers is a protocol error."""
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"bad JSON payload: {exc}") from None


class FrameDecoder:
    """Incremental decoder for callers that read whatever bytes are available (the template)."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame

    @property
    def buffered(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[Kind, bytes]]:
        """Add received bytes; return the frames they complete, in order."""
        self._buffer += data
        frames: list[tuple[Kind, bytes]] = []
        while len(self._buffer) >= HEADER_SIZE:
            kind, size = parse_header(bytes(self._buffer[:HEADER_SIZE]), self._max_frame)
            end = HEADER_SIZE + size
            if len(self._buffer) < end:
                break
            frames.append((kind, bytes(self._buffer[HEADER_SIZE:end])))
            del self._buffer[:end]
        return frames
