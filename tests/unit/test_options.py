"""The transport option, and how http_only keeps its meaning (options.AppOptions)."""

from __future__ import annotations

import pytest

from htagweb_asgi.options import AppOptions
from htagweb_asgi.web.static import page_scripts


@pytest.mark.parametrize(
    ("options", "websocket", "event_stream", "posts", "scripts"),
    [
        (AppOptions(), True, True, True, ["client.js", "websocket.js", "http.js"]),
        (AppOptions(transport="websocket"), True, False, False, ["client.js", "websocket.js"]),
        (AppOptions(transport="sse"), False, True, True, ["client.js", "http.js"]),
        (AppOptions(transport="http"), False, False, True, ["client.js", "http.js"]),
        (AppOptions(http_only=True, transport="websocket"), False, False, True, None),
        (AppOptions(parano=True), True, True, True, None),
    ],
)
def test_what_each_transport_allows(
    options: AppOptions, websocket: bool, event_stream: bool, posts: bool, scripts: list[str] | None
) -> None:
    assert (options.websocket, options.event_stream, options.posts) == (
        websocket,
        event_stream,
        posts,
    )
    if scripts is not None:
        assert page_scripts(options) == scripts
    if options.parano:
        assert page_scripts(options)[:2] == ["client.js", "parano.js"]


def test_an_unknown_transport_is_refused_when_the_host_is_built() -> None:
    with pytest.raises(ValueError, match="transport"):
        AppOptions(transport="pigeon")
    with pytest.raises(ValueError, match="transport"):
        AppOptions().with_overrides(transport="ws")
