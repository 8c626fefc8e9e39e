"""Query string → the App's init arguments, with htag's ``url2ak`` semantics (sans-IO).

``?a&b=1&c=`` → ``App("a", b="1", c=None)``, as htagweb always did. The rules are written
here rather than imported from htag so that the workers never import htag (it costs ~0.3 s
and ten modules, and an htag 2 environment has no ``url2ak``); tests pin them.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

logger = logging.getLogger(__name__)

InitArgs = tuple[tuple[str, ...], dict[str, "str | None"]]


def init_args(query_string: bytes) -> InitArgs:
    """Return ``(args, kwargs)`` for the App: ``?a&b=1&c=`` → ``(("a",), {"b": "1", "c": None})``.

    An item without ``=`` is a positional argument; ``key=value`` a keyword; ``key=`` a
    keyword set to None; the last of repeated keywords wins. Bytes that are not UTF-8 become
    U+FFFD, so no text the App gets can fail to encode later.

    Keywords starting with ``_`` are dropped: htag turns them into HTML attributes of the page's
    ``<body>``, so ``?_onload=...`` would let any link inject script into the user's page.
    """
    text = query_string.decode("utf-8", "replace").partition("#")[0]
    args: list[str] = []
    kwargs: dict[str, str | None] = {}
    for item in text.split("&"):
        if not item:
            continue
        key, equals, value = item.partition("=")
        if not equals:
            args.append(_decode(item))
        else:  # htag: "a=b=" is a=None, like "a="
            kwargs[_decode(key)] = None if item.endswith("=") else _decode(value)
    unsafe = [key for key in kwargs if not key or key.startswith("_")]
    for key in unsafe:
        del kwargs[key]
    if unsafe:
        logger.info("ignored query keywords that htag would turn into attributes: %r", unsafe)
    return tuple(args), kwargs


def _decode(text: str) -> str:
    return unquote_plus(text, errors="replace")
