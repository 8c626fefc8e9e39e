"""Dispatcher: prefixes to mounted apps with the right root_path, the rest to the main app."""

from __future__ import annotations

from typing import Any

import pytest

from htagweb_asgi import Dispatcher
from tests.support.asgi_driver import call_http, call_websocket, http_scope

pytestmark = pytest.mark.anyio


class Recorder:
    """An ASGI app that answers with its name and remembers the scopes it got."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": self.name})
            await send({"type": "websocket.close", "code": 1000})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": self.name.encode()})


@pytest.fixture
def apps() -> tuple[Recorder, Recorder, Recorder, Dispatcher]:
    ui, admin, main = Recorder("ui"), Recorder("admin"), Recorder("main")
    return ui, admin, main, Dispatcher({"/ui": ui, "/ui/admin/": admin}, default=main)


@pytest.mark.parametrize(
    ("path", "root_path", "served_by", "expected_root"),
    [
        ("/ui/", "", "ui", "/ui"),
        ("/ui", "", "ui", "/ui"),  # the mount point itself: the app redirects to /ui/
        ("/ui/_/ws", "", "ui", "/ui"),
        ("/ui/admin", "", "admin", "/ui/admin"),  # the longest prefix wins
        ("/ui/administrator", "", "ui", "/ui"),  # whole segments only
        ("/uix", "", "main", ""),
        ("/", "", "main", ""),
        ("/px/ui/a", "/px", "ui", "/px/ui"),  # under a server --root-path (spec style)
        ("/ui/a", "/px", "ui", "/px/ui"),  # root_path not in path (the proxy stripped it)
        ("/px/uix", "/px", "main", "/px"),
    ],
)
async def test_routes_by_whole_segment_prefix(
    apps: tuple[Recorder, Recorder, Recorder, Dispatcher],
    path: str,
    root_path: str,
    served_by: str,
    expected_root: str,
) -> None:
    ui, admin, main, dispatcher = apps
    result = await call_http(dispatcher, http_scope(path, root_path=root_path))
    assert result.body.decode() == served_by
    app = {"ui": ui, "admin": admin, "main": main}[served_by]
    assert app.scopes[-1]["root_path"] == expected_root
    assert app.scopes[-1]["path"] == path  # never rewritten


async def test_websockets_are_routed_too(
    apps: tuple[Recorder, Recorder, Recorder, Dispatcher],
) -> None:
    _, _, _, dispatcher = apps
    for path, name in (("/ui/_/ws", "ui"), ("/chat", "main")):
        scope = dict(http_scope(path), type="websocket", scheme="ws")
        sent = await call_websocket(dispatcher, scope, [])
        assert [m.get("text") for m in sent if m["type"] == "websocket.send"] == [name]


async def test_without_a_default_the_rest_is_404() -> None:
    dispatcher = Dispatcher({"/ui": Recorder("ui")})
    assert (await call_http(dispatcher, http_scope("/elsewhere"))).status == 404
    scope = dict(http_scope("/elsewhere"), type="websocket", scheme="ws")
    sent = await call_websocket(dispatcher, scope, [])
    assert sent[0]["type"] == "websocket.close"  # no denial extension: close before accept


@pytest.mark.parametrize("prefix", ["", "/", "ui", "/a//b", "/a/../b", "/./a"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="bad prefix"):
        Dispatcher({prefix: Recorder("x")})


def test_a_prefix_given_twice_or_no_mount_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        Dispatcher({"/ui": Recorder("a"), "/ui/": Recorder("b")})
    with pytest.raises(ValueError, match="at least one"):
        Dispatcher({})
