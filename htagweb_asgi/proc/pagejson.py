"""A page's message as JSON, with the refusals both engines share (htag1.py, htag2_messages.py).

Malformed JSON is refused (1007), so is JSON nested past NESTING_LIMIT levels (1008): an
error for that message, never for the App; the limit keeps anything recursive (the scrub
below, htag, the App's handler) far from Python's recursion limit. JSON may also escape a lone
UTF-16 surrogate ("\\ud800"), and a browser's JSON.stringify sends one for a broken string;
Python decodes it to a str that cannot be encoded, which would break the App's next page or
reply. Only payloads that contain such an escape are scrubbed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from htagweb_asgi.protocol.codes import Close, Rejected

_LONE_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
# Levels of lists and objects a message may nest (a page's clicks use three or four).
NESTING_LIMIT = 100


def load(payload: bytes, what: str) -> Any:
    """The JSON value of `payload` (a page's `what`), or Rejected."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise Rejected(Close.INVALID_PAYLOAD, f"{what} is not valid JSON") from None
    except RecursionError:  # thousands of nested brackets: refused, the process goes on
        raise Rejected(Close.POLICY_VIOLATION, f"{what} nested too deeply") from None
    if not nested_within(data, NESTING_LIMIT):  # hundreds: the parser copes, the rest may not
        raise Rejected(Close.POLICY_VIOLATION, f"{what} nested too deeply")
    if _LONE_SURROGATE_ESCAPE.search(payload):
        data = without_lone_surrogates(data)
    return data


def without_lone_surrogates(value: Any) -> Any:
    """`value` with every lone surrogate in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {
            without_lone_surrogates(key): without_lone_surrogates(item)
            for key, item in value.items()
        }
    return value


def nested_within(value: Any, limit: int) -> bool:
    """Whether `value` (decoded JSON) nests at most `limit` lists and objects; iterative,
    so it works at any depth."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        pending.extend((child, depth + 1) for child in children)
    return True
