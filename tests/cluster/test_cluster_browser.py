"""Chromium through nginx in front of two nodes: clicks, a login, and the node owning the
page's process SIGKILLed: the page comes back on the other node by itself, says once
that the App restarted, and the login is still there."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.cluster.conftest import balancer
from tests.support.browser import chromium
from tests.support.cluster import Node, RedisServer, owner_of


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context()
        context.set_default_timeout(15_000)
        yield context.new_page()


def test_a_browser_through_nginx_survives_the_loss_of_its_node(
    own_cluster: tuple[RedisServer, list[Node]], scratch: Path, page: Page
) -> None:
    _, nodes = own_cluster
    with balancer("nginx-affinity.conf", nodes, scratch) as url:
        assert page.request.post(url + "/login", data={"name": "ada"}).ok
        page.goto(url + "/ui/")
        for expected in ("1", "2"):
            page.click(".inc")
            page.wait_for_function(f"document.querySelector('.value').textContent === '{expected}'")
        pid = int(page.text_content(".pid").removeprefix("pid="))  # type: ignore[union-attr]
        owner_of(pid, nodes).stop(signal.SIGKILL)
        # the websocket drops; the page reconnects through nginx to the other node, which
        # has no process for it: the page reloads by itself into a fresh App
        page.wait_for_selector("#htagweb-restarted", timeout=30_000)
        assert "restarted" in page.text_content("#htagweb-restarted")  # type: ignore[operator]
        assert page.text_content(".value") == "0"
        page.click(".inc")
        page.wait_for_function("document.querySelector('.value').textContent === '1'")
        page.goto(url + "/ui/session/")
        assert page.text_content(".user") == "ada"
        assert page.locator("#htagweb-restarted").count() == 0  # said once
