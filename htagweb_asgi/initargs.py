"""Query string → the App's init arguments, with htag's own ``url2ak`` semantics (sans-IO)."""

from __future__ import annotations

import logging

from htag.runners.commons import url2ak

logger = logging.getLogger(__name__)

InitArgs = tuple[tuple[str, ...], dict[str, "str | None"]]


def init_args(query_string: bytes) -> InitArgs:
    """Return ``(args, kwargs)`` for the App: ``?a&b=1&c=`` → ``(("a",), {"b": "1", "c": None})``.

    Keywords starting with ``_`` are dropped: htag turns them into HTML attributes of the page's
    ``<body>``, so ``?_onload=...`` would let any link inject script into the user's page.
    """
    args, kwargs = url2ak("?" + query_string.decode("latin-1"))
    unsafe = [key for key in kwargs if not key or key.startswith("_")]
    for key in unsafe:
        del kwargs[key]
    if unsafe:
        logger.info("ignored query keywords that htag would turn into attributes: %r", unsafe)
    return tuple(args), dict(kwargs)


def to_json(init: InitArgs) -> list[object]:
    """Return `init` in the shape sent to the user process (JSON has no tuples)."""
    args, kwargs = init
    return [list(args), kwargs]
