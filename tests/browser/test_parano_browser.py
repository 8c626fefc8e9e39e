"""parano in headless Chromium: clicks and pushes work, and every frame and POST body the
browser exchanges is ciphertext; where the browser cannot encrypt, it says so and sends nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, Response, WebSocket, expect

from tests.support.browser import chromium
from tests.support.servers import Server, start_server

pytestmark = pytest.mark.browser

# what must never show in what goes over the wire: htag's method names, the word of its
# update action, rendered HTML, the counter App's names
CLEAR_WORDS = (b"__on__", b"onclick", b"increment", b"update", b"<span", b"class=", b"pushed")
INSECURE_HOST = "insecure.test"  # resolved to 127.0.0.1: plain http there is not secure


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium that also reaches our server as http://insecure.test (an insecure context)."""
    with chromium(f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1") as launched:
        yield launched


@pytest.fixture(scope="module", params=["hypercorn-trio", "uvicorn"])
def served(request: pytest.FixtureRequest, runtime: str, logs: Path) -> Iterator[Server]:
    running = start_server(request.param, "tests.support.apps.parano_hosts:main", runtime, logs)
    yield running
    running.close()


class Wire:
    """Everything the page sends and receives, as a recording proxy would see it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.sent: list[str | bytes] = []
        self.received: list[str | bytes] = []
        self.posts: list[Request] = []
        self.replies: list[Response] = []
        page.on("websocket", self._websocket)
        page.on("request", lambda r: self.posts.append(r) if r.method == "POST" else None)
        page.on("response", lambda r: self.replies.append(r) if "/_/post" in r.url else None)

    def _websocket(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self.sent.append(payload))
        ws.on("framereceived", lambda payload: self.received.append(payload))

    def wait_for(self, sent: int, received: int, timeout: float = 10.0) -> None:
        """Wait (bounded) until that many frames went each way; Playwright reports them
        while the page is being waited on."""
        deadline = time.monotonic() + timeout
        while len(self.sent) < sent or len(self.received) < received:
            assert time.monotonic() < deadline, (self.sent, self.received)
            self.page.wait_for_timeout(50)

    def assert_ciphertext(self) -> None:
        for frame in self.sent + self.received:
            if isinstance(frame, str):  # only the host's control messages are text
                assert set(json.loads(frame)) == {"htagweb"}, frame
            else:
                assert not any(word in frame for word in CLEAR_WORDS), frame
        bodies = [request.post_data_buffer or b"" for request in self.posts]
        bodies += [reply.body() for reply in self.replies]
        for body in bodies:
            assert not any(word in body for word in CLEAR_WORDS), body


def test_websocket_clicks_and_pushes_are_ciphertext(served: Server, page: Page) -> None:
    wire = Wire(page)
    page.goto(served.url + "/")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("2")
    page.click(".push")
    expect(page.locator(".pushed")).to_have_text("3")
    # sent: HELLO, three clicks; received: ready, WELCOME, three replies, three pushes
    wire.wait_for(sent=4, received=8)
    assert isinstance(wire.received[0], str) and all(isinstance(f, bytes) for f in wire.sent)
    wire.assert_ciphertext()
    assert not wire.posts
    page.reload()
    expect(page.locator(".value")).to_have_text("2")  # same process, a new key agreement
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("3")


def test_http_only_clicks_are_ciphertext(served: Server, page: Page) -> None:
    wire = Wire(page)
    page.goto(served.url + "/http")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("2")
    announce, *exchanges = wire.posts  # the page says it loaded (empty: nothing to seal)
    assert not announce.post_data_buffer
    assert len(exchanges) == 3  # the key agreement, two clicks
    for request in exchanges:
        assert request.headers["content-type"] == "application/octet-stream"
    wire.assert_ciphertext()
    assert not wire.sent and not wire.received


def test_a_tampered_push_is_refused_by_the_page(served: Server, page: Page) -> None:
    """A proxy that alters a sealed message: the page says the channel failed, applies
    nothing of it (nor what follows), and closes with 4005."""
    altered: list[bytes] = []
    closes: list[int | None] = []

    def proxy(route: Any) -> None:
        server = route.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if isinstance(message, bytes) and message[0] == 3 and message[24] == 2:
                message = message[:-1] + bytes([message[-1] ^ 1])  # the second push
                altered.append(message)
            route.send(message)

        def page_closed(code: int | None, reason: str | None) -> None:
            closes.append(code)
            server.close(code=code, reason=reason)

        server.on_message(to_page)
        route.on_message(server.send)
        route.on_close(page_closed)

    page.route_web_socket("**/_/ws*", proxy)
    page.goto(served.url + "/")
    page.click(".push")
    expect(page.locator("#htagweb-error")).to_contain_text("encrypted channel")
    deadline = time.monotonic() + 10
    while not closes:
        assert time.monotonic() < deadline, "the page did not close its websocket"
        page.wait_for_timeout(50)
    assert altered and closes[0] == 4005
    expect(page.locator(".pushed")).to_have_text("1")  # the first push only


def test_an_insecure_context_gets_a_message_and_sends_nothing(served: Server, page: Page) -> None:
    """Plain http on another host name: no WebCrypto there; the page says so."""
    wire = Wire(page)
    page.goto(served.url.replace("127.0.0.1", INSECURE_HOST) + "/")
    expect(page.locator("#htagweb-error")).to_contain_text("not in a secure context")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("0")
    assert not wire.sent and not wire.posts


def test_a_browser_without_x25519_gets_a_message_and_sends_nothing(
    served: Server, page: Page
) -> None:
    wire = Wire(page)
    page.add_init_script(
        """
        const generateKey = crypto.subtle.generateKey.bind(crypto.subtle);
        crypto.subtle.generateKey = (algorithm, ...rest) =>
            (algorithm && algorithm.name === "X25519")
                ? Promise.reject(new DOMException("Unrecognized name", "NotSupportedError"))
                : generateKey(algorithm, ...rest);
        """
    )
    for path in ("/", "/http"):
        page.goto(served.url + path)
        expect(page.locator("#htagweb-error")).to_contain_text("lacks X25519")
        page.click(".inc")
        expect(page.locator(".value")).to_have_text("0")
    assert not wire.sent and not wire.posts
