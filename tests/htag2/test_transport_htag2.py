"""htag 2 Apps over every transport, in Chromium through the TCP proxy of the transport tests
(tests/support/tcpproxy.py): two tabs agree (an htag 2 click's effect reaches the other tab
as a full rendering), a dropped reply and a click made during a cut are applied once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.browser import behind_proxy, chromium, proxied_context
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def proxy(runtime: str, logs: Path) -> Iterator[TcpProxy]:
    with behind_proxy("hypercorn", "tests.support.apps.hosts:main", runtime, logs) as running:
        yield running


@pytest.fixture
def context(browser: Browser, proxy: TcpProxy) -> Iterator[BrowserContext]:
    with proxied_context(browser, proxy) as fresh:
        yield fresh


AFTER_CUT_MS = 20_000  # the page comes back after a full-jitter back-off (up to 8 s a try)


def clicked(page: Page, value: str, timeout: float = 5_000) -> None:
    page.click(".inc")
    expect(page.locator(".value")).to_have_text(value, timeout=timeout)


def test_two_tabs_of_an_htag_2_app_agree(proxy: TcpProxy, context: BrowserContext) -> None:
    """One tab by websocket, the other (its websocket refused) by SSE and POST."""
    first, second = context.new_page(), context.new_page()
    first.goto(proxy.url + "/")
    clicked(first, "1")
    proxy.refuse_websockets = True
    second.goto(proxy.url + "/")
    clicked(second, "2")
    proxy.refuse_websockets = False
    expect(first.locator(".value")).to_have_text("2")
    clicked(first, "3")
    expect(second.locator(".value")).to_have_text("3")
    first.click(".push")
    for tab in (first, second):
        expect(tab.locator(".pushed")).to_have_text("3")


@pytest.mark.parametrize("path", ["/", "/sse/"])
def test_an_htag_2_click_is_applied_once_whatever_the_network(
    proxy: TcpProxy, context: BrowserContext, path: str
) -> None:
    """Its reply dropped, then made during a cut of every connection."""
    page = context.new_page()
    page.goto(proxy.url + path)
    clicked(page, "1")
    if path == "/":
        proxy.drop_message(lambda payload: b'"reply"' in payload)
    else:
        proxy.drop_response(b"/_/post")
    clicked(page, "2")
    proxy.cut(1.5)
    clicked(page, "3", AFTER_CUT_MS)  # on a loaded machine, 5 s was not always enough
    page.reload()
    expect(page.locator(".value")).to_have_text("3")
