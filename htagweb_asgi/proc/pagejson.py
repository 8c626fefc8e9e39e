"""A page's message as JSON, with the refusals both engines share (htag1.py, htag2_messages.py).

Malformed JSON is refused (1007), so is JSON nested deeply enough to exhaust the parser's
recursion (1008): an error for that message, never for the App. JSON may also escape a lone
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


def load(payload: bytes, what: str) -> Any:
    """The JSON value of `payload` (a page's `what`), or Rejected."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise Rejected(Close.INVALID_PAYLOAD, f"{what} is not valid JSON") from None
    except RecursionError:  # thousands of nested brackets: refused, the process goes on
        raise Rejected(Close.POLICY_VIOLATION, f"{what} nested too deeply") from None
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
