"""The page's transports in Chromium, through a TCP proxy that misbehaves (tests/support/
tcpproxy.py): websockets refused, every connection cut for 1.5 s, a reply dropped; two tabs of
one session; the reconnection policy (full jitter, the server's hint, the failsafe reload)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.apps.streaming import STREAM_LENGTH
from tests.support.browser import behind_proxy, proxied_context
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.browser

STREAM = [str(n) for n in range(1, STREAM_LENGTH + 1)]
STREAM_TIMEOUT = 30_000  # ms: 40 pushes 0.1 s apart, a cut, and a loaded machine


@pytest.fixture(scope="module")
def proxy(runtime: str, logs: Path) -> Iterator[TcpProxy]:
    with behind_proxy(
        "uvicorn", "tests.support.apps.transport_hosts:main", runtime, logs
    ) as running:
        yield running


@pytest.fixture
def context(browser: Browser, proxy: TcpProxy) -> Iterator[BrowserContext]:
    with proxied_context(browser, proxy) as fresh:
        yield fresh


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def connected(page: Page, url: str) -> None:
    """Open the page and make sure it talks to its App (a click answered)."""
    page.goto(url)
    value = int(page.locator(".value").text_content() or "0")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text(str(value + 1))


def stream_ends_complete(page: Page) -> None:
    expect(page.locator(".streamed")).to_have_text(str(STREAM_LENGTH), timeout=STREAM_TIMEOUT)
    expect(page.locator(".item")).to_have_text(STREAM)  # each once, in order


@pytest.mark.parametrize("path", ["/", "/parano/"])
def test_with_every_websocket_refused_clicks_work_and_pushes_arrive(
    proxy: TcpProxy, page: Page, path: str
) -> None:
    """The default transport falls back to Server-Sent Events and POST (sealed for parano)."""
    proxy.refuse_websockets = True
    refused = proxy.refused
    connected(page, proxy.url + path)
    page.click(".stream")
    stream_ends_complete(page)
    assert proxy.refused > refused
    expect(page.locator("#htagweb-error, #htagweb-offline")).to_have_count(0)


@pytest.mark.parametrize("path", ["/", "/sse/"])
def test_a_stream_of_40_pushes_across_a_cut_ends_exactly_1_to_40(
    proxy: TcpProxy, page: Page, path: str
) -> None:
    """Every connection is cut for 1.5 s in the middle of the stream: the page says it is
    reconnecting (not that it cannot connect), a click made meanwhile is delivered once,
    and the list ends 1..40, nothing missing, nothing twice."""
    connected(page, proxy.url + path)
    page.click(".stream")
    page.wait_for_function("document.querySelectorAll('.item').length >= 5")
    proxy.cut(1.5)
    expect(page.locator("body")).to_have_class("htagoff")
    page.click(".inc")  # queued while cut
    expect(page.locator("#htagweb-reconnecting")).to_have_text("Reconnecting\u2026")
    expect(page.locator("#htagweb-offline")).to_have_count(0)
    stream_ends_complete(page)
    expect(page.locator(".value")).to_have_text("2")
    expect(page.locator("#htagweb-reconnecting")).to_have_count(0)
    expect(page.locator("body")).not_to_have_class("htagoff")
    page.reload()
    expect(page.locator(".value")).to_have_text("2")


def test_a_click_during_a_cut_over_http_only_is_sent_again_and_applied_once(
    proxy: TcpProxy, page: Page
) -> None:
    """No push channel: the POST that fails is sent again after a back-off, while the page
    says it is reconnecting."""
    connected(page, proxy.url + "/http/")
    proxy.cut(1.5)
    page.click(".inc")
    expect(page.locator("#htagweb-reconnecting")).to_have_text("Reconnecting\u2026")
    expect(page.locator(".value")).to_have_text("2", timeout=STREAM_TIMEOUT)
    expect(page.locator("#htagweb-reconnecting")).to_have_count(0)
    page.reload()
    expect(page.locator(".value")).to_have_text("2")


@pytest.mark.parametrize("path", ["/", "/sse/", "/sse/ (cut in the body)"])
def test_a_click_whose_reply_is_dropped_is_applied_once(
    proxy: TcpProxy, page: Page, path: str
) -> None:
    app, _, how = path.partition(" ")
    connected(page, proxy.url + app)
    dropped = proxy.dropped
    if app == "/":
        proxy.drop_message(lambda payload: b'"reply"' in payload)
    else:
        proxy.drop_response(b"/_/post", head=bool(how))
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("2")
    assert proxy.dropped == dropped + 1
    page.reload()
    expect(page.locator(".value")).to_have_text("2")


def test_a_page_whose_process_expired_does_not_say_it_reconnects(
    proxy: TcpProxy, page: Page
) -> None:
    """Ended after inactivity (4003): the page marks itself offline, says nothing of
    reconnecting (it will not), and its next click reloads it with a fresh App."""
    page.clock.install()  # the page's timers, moved on by the test below
    connected(page, proxy.url + "/idle/")
    expect(page.locator("body")).to_have_class("htagoff", timeout=10_000)
    page.clock.fast_forward(5000)  # past the moment "Reconnecting…" would show
    expect(page.locator("#htagweb-reconnecting, #htagweb-offline")).to_have_count(0)
    with page.expect_navigation():
        page.click(".inc")
    expect(page.locator(".value")).to_have_text("0")


def test_two_tabs_stay_consistent(proxy: TcpProxy, context: BrowserContext) -> None:
    """Two tabs of one session show one App: each other's clicks and the App's pushes; a
    third (a duplicate) takes nothing from them. One talks by websocket, the other (its
    websocket refused) by SSE and POST."""
    first, second = context.new_page(), context.new_page()
    connected(first, proxy.url + "/")
    proxy.refuse_websockets = True
    connected(second, proxy.url + "/")
    proxy.refuse_websockets = False
    expect(first.locator(".value")).to_have_text("2")
    first.click(".inc")
    expect(second.locator(".value")).to_have_text("3")
    duplicate = context.new_page()
    duplicate.goto(proxy.url + "/")
    expect(duplicate.locator(".value")).to_have_text("3")
    second.click(".stream")
    for tab in (first, second, duplicate):
        stream_ends_complete(tab)
    duplicate.close()
    second.click(".inc")
    for tab in (first, second):
        expect(tab.locator(".value")).to_have_text("4")
        expect(tab.locator("#htagweb-error")).to_have_count(0)


def test_the_reconnection_delays_are_full_jitter_under_a_cap_and_honour_the_hint(
    proxy: TcpProxy, page: Page
) -> None:
    """client.js's policy, sampled in the page: each delay drawn between 0 and the ceiling of
    its attempt (250 ms doubling up to 8 s); after a hint of N ms, between N and 2N."""
    connected(page, proxy.url + "/")
    samples = page.evaluate(
        """() => {
            const core = window.htagweb.core;
            const draw = (attempt) => Array.from({length: 300}, () => core.delay(attempt));
            core.hint({after_ms: 3000});
            const hinted = core.delay(9);
            return {first: draw(0), third: draw(3), late: draw(12), hinted, after: core.delay(0)};
        }"""
    )
    for name, ceiling in (("first", 250), ("third", 2000), ("late", 8000)):
        drawn = samples[name]
        assert all(0 <= delay < ceiling for delay in drawn), name
        assert min(drawn) < ceiling * 0.1 and max(drawn) > ceiling * 0.9, name  # spread out
    assert 3000 <= samples["hinted"] <= 6000
    assert samples["after"] < 250  # a hint is for one reconnection


def test_a_draining_server_has_the_page_come_back_after_the_delay_it_asked(
    proxy: TcpProxy, page: Page
) -> None:
    connected(page, proxy.url + "/")
    page.evaluate(
        """() => {
            window.offline = [];
            new MutationObserver(() => window.offline.push(
                [performance.now(), document.body.classList.contains("htagoff")]
            )).observe(document.body, {attributes: true, attributeFilter: ["class"]});
        }"""
    )
    assert httpx.get(proxy.url + "/drain?after_ms=1500").status_code == 200
    expect(page.locator("body")).to_have_class("htagoff")
    expect(page.locator("body")).not_to_have_class("htagoff", timeout=10_000)
    changes = page.evaluate("window.offline")
    went, came = changes[0], changes[-1]
    assert went[1] and not came[1]
    assert 1500 <= came[0] - went[0] <= 3000 + 2000  # the hint, its jitter, a loaded machine
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("2")


def test_the_failsafe_reloads_a_page_that_never_connects_though_its_server_answers(
    proxy: TcpProxy, page: Page
) -> None:
    """Websockets refused and no other transport allowed: after 12 failed attempts the page
    reloads (its server answers); again after 12 more, with a growing pause, and after 6
    reloads in a row it says so and stops (the bound of every reload, reloadSoon()).
    Math.random is 0 in this page: every reconnection delay is 0, so a dozen attempts take
    seconds, not minutes."""
    proxy.refuse_websockets = True
    loads: list[float] = []
    page.on("load", lambda _: loads.append(time.monotonic()))
    page.add_init_script("Math.random = () => 0;")
    page.goto(proxy.url + "/ws/")
    expect(page.locator("#htagweb-offline")).to_contain_text("cannot reach its server")
    # Chromium itself spaces out failing handshakes (about 0.5 s apart here)
    page.wait_for_function("Number(sessionStorage.getItem('htagweb.reloads')) >= 1", timeout=30_000)
    expect(page.locator(".value")).to_have_text("0")  # reloaded: the page is there again
    assert len(loads) >= 2


def test_no_failsafe_reload_while_the_server_cannot_be_reached(proxy: TcpProxy, page: Page) -> None:
    """Cut off (every connection refused) for longer than a dozen attempts take: the page
    keeps trying instead of reloading into the browser's error page, and comes back."""
    page.add_init_script("Math.random = () => 0;")
    connected(page, proxy.url + "/ws/")
    page.evaluate("window.notReloaded = true")
    proxy.cut(4.0)
    expect(page.locator("#htagweb-offline")).to_contain_text("cannot reach its server")
    expect(page.locator("#htagweb-offline")).to_have_count(0, timeout=20_000)
    assert page.evaluate("window.notReloaded") is True
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("2")
