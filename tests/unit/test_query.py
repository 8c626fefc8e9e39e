"""Query string → init arguments (htag's url2ak semantics)."""

from __future__ import annotations

import pytest

from htagweb_asgi.web.query import init_args


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", ((), {})),
        (b"a&b=1", (("a",), {"b": "1"})),
        (b"a&b=1&c=", (("a",), {"b": "1", "c": None})),
        (b"x=%C3%A9&y=a+b", ((), {"x": "é", "y": "a b"})),
        (b"a=b=c", ((), {"a": "b=c"})),
    ],
)
def test_url2ak_semantics(query: bytes, expected: object) -> None:
    assert init_args(query) == expected


def test_underscore_keywords_never_reach_the_app() -> None:
    """htag would make them attributes of <body>: ?_onload=... would inject script."""
    assert init_args(b"_onload=alert(1)&__class__=x&=y&ok=1") == ((), {"ok": "1"})
