"""The page request a worker sends with PAGE, and what the worker adds to the page it gets."""

from __future__ import annotations

import re

from htagweb_asgi.options import AppOptions
from htagweb_asgi.proc.engine import htag_major
from htagweb_asgi.protocol.pagerequest import PageRequest
from htagweb_asgi.web.page import RenderedPage, inject_client
from htagweb_asgi.web.query import InitArgs
from htagweb_asgi.web.request import page_request
from htagweb_asgi.web.static import page_scripts

SCOPE = {
    "scheme": "https",
    "server": ("10.0.0.1", 8000),
    "client": ("192.0.2.7", 4567),
    "query_string": b"a=1&b",
    "headers": [
        (b"host", b"example.org"),
        (b"cookie", b"theme=dark; htagweb_session=SECRET; lang=fr"),
        (b"cookie", b"htagweb_session=SECRET"),
        (b"x-test", b"yes"),
    ],
}


def test_the_request_is_the_public_one_without_our_session_cookie() -> None:
    init: InitArgs = (("b",), {"a": "1"})
    request = page_request(SCOPE, init, prefix="/ui", sub="/", cookie_name="htagweb_session")
    assert request.url == "https://example.org/ui/?a=1&b"
    assert (request.path, request.root_path, request.query_string) == ("/ui/", "/ui", "a=1&b")
    assert request.headers == [
        ("host", "example.org"),
        ("cookie", "theme=dark; lang=fr"),
        ("x-test", "yes"),
    ]
    assert request.client == ("192.0.2.7", 4567) and request.init == init


def test_the_server_address_stands_in_for_a_missing_host() -> None:
    scope = {"scheme": "http", "server": ("127.0.0.1", 8000), "headers": []}
    request = page_request(scope, ((), {}), prefix="", sub="/x", cookie_name="c")
    assert request.url == "http://127.0.0.1:8000/x" and request.client is None


def test_json_round_trip_and_the_older_shape() -> None:
    request = page_request(SCOPE, (("b",), {"a": "1"}), prefix="", sub="/", cookie_name="c")
    assert PageRequest.from_json(request.to_json()) == request
    assert PageRequest.from_json({"init": [["x"], {}]}) == PageRequest((("x",), {}))


def test_only_htag_2_pages_link_the_bridge_after_the_client() -> None:
    html = "<!DOCTYPE html><html><head><title>t</title></head><body></body></html>"

    def scripts(htag: int) -> list[str]:
        page = RenderedPage(html, "0" * 32, htag)
        linked = page_scripts(AppOptions(transport="websocket"), page.htag)
        out = inject_client(page, prefix="/ui", sub="/", base="", config={}, scripts=linked)
        return re.findall(r'src="\./_/([a-z0-9-]+\.js)\?v=[0-9a-f]{16}"', out)

    assert scripts(1) == ["client-websocket.js"]  # one bundle: client.js, then websocket.js
    assert scripts(2) == ["client-websocket-htag2.js"]


def test_this_environment_has_htag_1() -> None:
    """The htag 1 environment; tests/htag2 runs in the other one."""
    assert htag_major() == 1
