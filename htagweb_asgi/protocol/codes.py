"""Every code the page understands: websocket close codes, and the ``code`` of the HTTP
interaction endpoint's error replies (the same numbers, so the page has one table).

The page gets this table from its config (see web/page.py), never from a second copy.
"""

from __future__ import annotations

import enum

from htagweb_asgi.errors import HtagwebError


class Close(enum.IntEnum):
    """Why a connection to a user process ends, as told to the page."""

    # RFC 6455 §7.4.1: the message itself was wrong (a bug or a hostile client)
    UNSUPPORTED_DATA = 1003
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    # ours (4000-4999 are private use)
    EXITED = 4000  # the App called exit(): reload for a fresh one
    NO_PROCESS = 4001  # no process for this page (replaced, session ended): reload
    TIMED_OUT = 4002  # an interaction took too long: the process was killed
    EXPIRED = 4003  # ended after inactivity or to make room: the next action reloads
    CRASHED = 4004  # the process ended unexpectedly
    CHANNEL_BROKEN = 4005  # parano: the encrypted channel failed
    UNAVAILABLE = 4007  # the server cannot reach or start the App's processes now
    REPLACED = 4008  # another page of this session opened the App with other arguments
    TOO_MANY = 4009  # too many open connections for this page or session: refused
    LIMIT = 4010  # the process passed its memory or CPU limit and was ended: reload


REPLACED_REASON = (  # told by the replaced process itself, or by a worker that finds it gone
    "This application was opened with other arguments in another page of this "
    "session (another tab?): reload to continue here."
)


def page_table() -> dict[str, int]:
    """The codes by name, for the page's config."""
    return {code.name: int(code) for code in Close}


class Rejected(HtagwebError):
    """Raised in a user process for a message it refuses (malformed, not allowed, or failing
    parano's checks), with the close code that says why; the process goes on serving."""

    def __init__(self, code: Close, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
