"""What a person does, in headless Chromium: load, click, see the update, lose the server."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.scenarios import counter_session
from tests.support.servers import Server, our_processes, start_server, user_processes
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=["hypercorn-trio", "uvicorn"])
def served(request: pytest.FixtureRequest, runtime: str, logs: Path) -> Iterator[Server]:
    running = start_server(request.param, "tests.support.apps.hosts:main", runtime, logs)
    yield running
    running.close()


def test_click_changes_the_counter_and_pushes_show_up(served: Server, page: Page) -> None:
    page.goto(served.url + "/")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("2")
    page.click(".push")
    expect(page.locator(".pushed")).to_have_text("3")
    page.reload()
    expect(page.locator(".value")).to_have_text("2")  # same process, same state


def test_http_only_app_in_the_browser(served: Server, page: Page) -> None:
    page.goto(served.url + "/http")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("2")


def test_a_timeout_is_explained_and_a_reload_starts_afresh(served: Server, page: Page) -> None:
    page.goto(served.url + "/")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")
    page.click(".slow")
    expect(page.locator("#htagweb-error")).to_contain_text("took more than 3 s", timeout=15_000)
    page.reload()
    expect(page.locator(".value")).to_have_text("0")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")


def test_debug_shows_the_traceback_and_the_app_goes_on(served: Server, page: Page) -> None:
    page.goto(served.url + "/debug")
    page.click(".fail")
    expect(page.locator("#htagweb-error")).to_contain_text("ValueError: deliberate failure")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")


def test_the_page_recovers_when_the_server_restarts(logs: Path, page: Page) -> None:
    """Stop the server: the page shows it is offline; start it again: the page reloads itself
    (its process ended with the server) and works."""
    runtime = tempfile.mkdtemp(prefix="hw-")  # its own, to count only this server's processes
    server = start_server("hypercorn", "tests.support.apps.hosts:main", runtime, logs)
    try:
        page.goto(server.url + "/")
        page.click(".inc")
        expect(page.locator(".value")).to_have_text("1")
        old_pid = page.locator(".pid").text_content()
        server.stop()
        expect(page.locator("body")).to_have_class("htagoff")
        offline = page.locator("#htagweb-offline")
        expect(offline).to_contain_text("cannot reach its server", timeout=20_000)
        eventually(
            lambda: not user_processes(runtime), 10, message="user processes outlived the server"
        )
        server.start()  # same listening socket, same port
        expect(page.locator(".pid")).not_to_have_text(old_pid or "", timeout=20_000)
        expect(page.locator("body")).not_to_have_class("htagoff")
        expect(offline).to_have_count(0)
        page.click(".inc")
        expect(page.locator(".value")).to_have_text("1")
    finally:
        server.close()
        eventually(lambda: not our_processes(runtime), 10, message="processes left behind")
        shutil.rmtree(runtime, ignore_errors=True)


def test_a_page_whose_websocket_is_refused_says_it_cannot_connect(
    runtime: str, logs: Path, page: Page
) -> None:
    """As behind a server without a websocket library: an App that may use nothing else
    says so, plainly; one with the default transport works without (SSE and POST)."""
    server = start_server("uvicorn", "tests.support.apps.hosts:without_websockets", runtime, logs)
    try:
        page.goto(server.url + "/ws/")
        expect(page.locator(".value")).to_have_text("0")  # the page itself was served
        notice = page.locator("#htagweb-offline")
        expect(notice).to_contain_text("cannot reach its server", timeout=20_000)
        expect(notice.locator("a")).to_have_text("reload the page")
        page.goto(server.url + "/")
        counter_session(page)
        expect(page.locator("#htagweb-offline")).to_have_count(0)
    finally:
        server.close()
