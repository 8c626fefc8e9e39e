"""Validation of an interaction sent by a page (sans-IO).

The page's ``interact({id, method, args, kargs, event})`` reaches the user process as JSON from
the network. htag would ``getattr`` whatever method name it is given, so names are checked here
before htag sees them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# websocket close codes (RFC 6455 §7.4.1), reused as the HTTP endpoint's error kinds
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009

_DISPATCHERS = frozenset({"__on__", "__on_event__"})  # htag's own event entry points


class Rejected(Exception):
    """An interaction the process refuses, with the websocket close code that says why."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Interaction:
    """A well-formed call for ``HRenderer.interact``."""

    oid: int
    method: str | None
    args: list[Any]
    kargs: dict[str, Any]
    event: dict[str, Any] | None


def parse(payload: bytes) -> Interaction:
    """Return the interaction in `payload`, or raise Rejected (1007 bad JSON, 1008 bad shape)."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise Rejected(INVALID_PAYLOAD, "interaction is not valid JSON") from None
    if not isinstance(data, dict):
        raise Rejected(POLICY_VIOLATION, "interaction must be a JSON object")
    oid = data.get("id")
    if not isinstance(oid, int) or isinstance(oid, bool):
        raise Rejected(POLICY_VIOLATION, "interaction 'id' must be an integer")
    method = data.get("method")
    if method is not None and not _callable_name(method):
        raise Rejected(POLICY_VIOLATION, "interaction 'method' is not a public method name")
    args = data.get("args")
    args = [] if args is None else args
    kargs = data.get("kargs")
    kargs = {} if kargs is None else kargs
    event = data.get("event")
    if not isinstance(args, list) or not isinstance(kargs, dict):
        raise Rejected(POLICY_VIOLATION, "interaction 'args' must be a list, 'kargs' an object")
    if event is not None and not isinstance(event, dict):
        raise Rejected(POLICY_VIOLATION, "interaction 'event' must be an object")
    return Interaction(oid, method, args, kargs, event)


def _callable_name(method: object) -> bool:
    """Private names (``_hr``, ``__class__``...) are never reachable from the page."""
    if not isinstance(method, str) or not method.isidentifier():
        return False
    return not method.startswith("_") or method in _DISPATCHERS
