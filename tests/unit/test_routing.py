"""Sub-path → handler."""

from __future__ import annotations

import pytest

from htagweb_asgi.appref import AppRef
from htagweb_asgi.options import AppOptions
from htagweb_asgi.web.routing import MountedApp, Route, RouteKind, Router

ROOT = MountedApp("", AppRef("m", "App"), AppOptions())
ADMIN = MountedApp("/admin", AppRef("m", "Admin"), AppOptions())
ROUTER = Router({"": ROOT, "/admin": ADMIN}, {"/my.css": "css"})


@pytest.mark.parametrize(
    ("sub", "kind", "app"),
    [
        ("", RouteKind.REDIRECT, None),
        ("/", RouteKind.PAGE, ROOT),
        ("/admin", RouteKind.PAGE, ADMIN),
        ("/admin/", RouteKind.PAGE, ADMIN),
        ("/_/ws", RouteKind.WEBSOCKET, ROOT),
        ("/_/ws/", RouteKind.WEBSOCKET, ROOT),
        ("/admin/_/ws", RouteKind.WEBSOCKET, ADMIN),
        ("/admin/_/post", RouteKind.POST, ADMIN),
        ("/_/client.js", RouteKind.CLIENT, None),
        ("/_/htag2.js", RouteKind.CLIENT, None),
        ("/_/other.js", RouteKind.NOT_FOUND, None),
        ("/_/healthz", RouteKind.HEALTH, ROOT),
        ("/admin/_/healthz", RouteKind.HEALTH, ADMIN),
        ("/admin/_/readyz", RouteKind.READY, ADMIN),
        ("/_/readyz", RouteKind.READY, ROOT),
        ("/_/metrics", RouteKind.METRICS, None),
        ("/nope/_/healthz", RouteKind.NOT_FOUND, None),
        ("/admin/_/session", RouteKind.SESSION, ADMIN),
        ("/my.css", RouteKind.EXTRA, None),
        ("/nope", RouteKind.NOT_FOUND, None),
        ("/nope/_/ws", RouteKind.NOT_FOUND, None),
        ("/admin/x", RouteKind.NOT_FOUND, None),
        ("/../etc/passwd", RouteKind.NOT_FOUND, None),
    ],
)
def test_match(sub: str, kind: RouteKind, app: MountedApp | None) -> None:
    route = ROUTER.match(sub)
    assert route.kind is kind and route.app is app


@pytest.mark.parametrize(
    ("path", "base"), [("/", ""), ("", ""), ("/admin/", "/admin"), ("a/b", "/a/b")]
)
def test_app_paths_are_normalized(path: str, base: str) -> None:
    assert Router.normalize(path) == base


@pytest.mark.parametrize("path", ["/_", "/_/x", "/a/../b", "/a b", "/é"])
def test_reserved_or_odd_app_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueError):
        Router.normalize(path)


def test_the_event_stream_and_every_script_have_a_route() -> None:
    router = Router(apps={"": ROOT, "/admin": ADMIN})
    assert router.match("/admin/_/sse") == Route(RouteKind.EVENTS, ADMIN)
    for name in ("client.js", "websocket.js", "http.js", "parano.js"):
        assert router.match(f"/_/{name}") == Route(RouteKind.CLIENT, script=name)
    assert router.match("/_/nope.js").kind is RouteKind.NOT_FOUND
    bundle = "client-parano-websocket-http-htag2.js"
    assert router.match(f"/_/{bundle}") == Route(RouteKind.CLIENT, script=bundle)


@pytest.mark.parametrize(
    "name",
    [
        "websocket-client.js",  # out of order
        "client-client.js",  # twice
        "client-nope.js",
        "client-.js",
        "-client.js",
        "client-websocket",
        "client-../client.js",
        "client.js-websocket.js",
    ],
)
def test_only_bundles_of_known_scripts_in_page_order_have_a_route(name: str) -> None:
    assert Router(apps={"": ROOT}).match(f"/_/{name}").kind is RouteKind.NOT_FOUND
