"""What the page and its user process say to each other around htag's own messages (sans-IO).

The page (static/client.js) wraps each interaction with an id it chose::

    {"iid": "<page>:<n>", "message": <htag's interaction>}

``<page>`` is 16 hex digits the page drew at load, ``<n>`` counts its interactions from 1.
The process answers, and numbers its pushes, with::

    {"reply": "<iid>", "after": <push seq>, "message": <htag's actions>}
    {"push": <seq>, "message": <htag's actions>}

``after`` is the last push made before the reply: a page whose pushes travel apart from its
replies (Server-Sent Events) applies the reply once it has those pushes, as a websocket
delivers them. With ``parano`` these are the plaintexts that are sealed. A bare client (raw
tests, the benchmark) may send htag's message alone: it is run as it comes, with no id to
recognise a resend, and answered and pushed to without wrappers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from htagweb_asgi.protocol.codes import Close, Rejected

_IID_RE = re.compile(r"([0-9a-f]{16}):([1-9][0-9]{0,15})")
PAGE_RE = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class InteractionId:
    """One interaction of one page: the page's token and its number there (from 1)."""

    page: str
    n: int

    @property
    def text(self) -> str:
        return f"{self.page}:{self.n}"

    @classmethod
    def parse(cls, value: object) -> InteractionId:
        """The id in `value`; Rejected (1008) for anything else."""
        match = _IID_RE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise Rejected(Close.POLICY_VIOLATION, "interaction 'iid' must be '<16 hex>:<n>'")
        return cls(match.group(1), int(match.group(2)))


def unwrap(payload: bytes) -> tuple[InteractionId | None, bytes]:
    """The interaction id and htag's message in a page's `payload`.

    A payload that is not our wrapper (a bare client's, or malformed JSON) is returned as it
    is, with no id: htag's engine then runs it, or refuses it with the right code.
    """
    if b'"iid"' not in payload:
        return None, payload
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None, payload  # the engine refuses it (1007, or 1008 when nested too deeply)
    if not isinstance(data, dict) or "iid" not in data:
        return None, payload
    if set(data) != {"iid", "message"}:
        raise Rejected(Close.POLICY_VIOLATION, "an interaction holds 'iid' and 'message' only")
    iid = InteractionId.parse(data["iid"])
    return iid, json.dumps(data["message"], separators=(",", ":")).encode()


def reply_message(iid: InteractionId, after: int, data: bytes) -> bytes:
    """The page's reply to `iid` (`data`: htag's actions, JSON)."""
    return b'{"reply":"%s","after":%d,"message":%s}' % (iid.text.encode(), after, data)


def push_message(seq: int, data: bytes) -> bytes:
    """Push number `seq` for a page (`data`: htag's actions, JSON)."""
    return b'{"push":%d,"message":%s}' % (seq, data)


def page_token(value: object) -> str | None:
    """A page's token as an ATTACH names it, or None when it names none (a bare client)."""
    return value if isinstance(value, str) and PAGE_RE.fullmatch(value) else None
