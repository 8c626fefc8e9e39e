"""What an htag 2 page may send, checked before htag sees it.

htag 2's ``handle_event`` trusts its message: every key of ``data`` is ``setattr`` on the
Event the callback gets, so ``data: {"target": "forged"}`` makes ``e.target`` a string and
``{"name": ...}`` changes ``e.name`` (and ``__dict__`` would replace the Event's whole state).
Those keys are dropped here: ``e.target`` is always the tag, ``e.name`` the event. htag 2
dispatches only events registered on the tag (no ``getattr`` by name, unlike htag 1), so the
tag id and event name need a shape check only.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from htagweb_asgi.proc import pagejson
from htagweb_asgi.protocol.codes import Close, Rejected

logger = logging.getLogger(__name__)

MAX_ID = 256
MAX_EVENT = 64
MAX_CALLBACK_ID = 64
MAX_LOGGED_ERROR = 4000
RESERVED_DATA_KEYS = frozenset({"target", "id", "name"})  # the Event's own attributes


def parse_message(payload: bytes) -> dict[str, Any]:
    """Return a clean copy of the page's message for ``handle_event``; Rejected (1007 bad
    JSON, 1008 bad shape) otherwise.

    Accepted: ``{"id": str, "event": str, "data": object}`` (htag's ``fallback`` flag is
    dropped: we own the transport) and ``{"action": "log_error", "error": str}``.
    """
    message = pagejson.load(payload, "message")
    if not isinstance(message, dict):
        raise Rejected(Close.POLICY_VIOLATION, "message must be a JSON object")
    if "action" in message:
        if message["action"] == "log_error" and isinstance(message.get("error"), str):
            return {"action": "log_error", "error": message["error"][:MAX_LOGGED_ERROR]}
        raise Rejected(Close.POLICY_VIOLATION, "unknown message action")
    tag_id, event = message.get("id"), message.get("event")
    if not isinstance(tag_id, str) or not 0 < len(tag_id) <= MAX_ID:
        raise Rejected(Close.POLICY_VIOLATION, "message 'id' must be a tag id")
    if not isinstance(event, str) or not 0 < len(event) <= MAX_EVENT:
        raise Rejected(Close.POLICY_VIOLATION, "message 'event' must be an event name")
    data = message.get("data")
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise Rejected(Close.POLICY_VIOLATION, "message 'data' must be an object")
    callback_id = data.get("callback_id")
    if callback_id is not None and (
        not isinstance(callback_id, str) or not 0 < len(callback_id) <= MAX_CALLBACK_ID
    ):
        raise Rejected(Close.POLICY_VIOLATION, "message 'callback_id' must be a short string")
    clean = {k: v for k, v in data.items() if k not in RESERVED_DATA_KEYS and k[:1] != "_"}
    if len(clean) != len(data):
        logger.info("dropped event data keys: %r", sorted(set(data) - set(clean))[:10])
    return {"id": tag_id, "event": event, "data": clean}


def error_payload(text: str, callback_id: str | None = None) -> str:
    """An htag 2 error payload (the page shows `text` and resolves `callback_id`)."""
    return json.dumps(
        {"action": "error", "traceback": text, "callback_id": callback_id, "result": None}
    )
