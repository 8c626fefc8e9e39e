"""htag 2 in headless Chromium, beyond the unchanged checks of tests/browser: the process id
a reload keeps, a query change (same App, new query), ``?n`` (a fresh App), and a session
value written by a FastAPI route, read by the App."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import chromium
from tests.support.servers import Server, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="module")
def served(runtime: str, logs: Path) -> Iterator[Server]:
    running = start_server("uvicorn", "tests.support.apps.hosts:main", runtime, logs)
    yield running
    running.close()


@pytest.fixture(scope="module")
def fastapi(runtime: str, logs: Path) -> Iterator[Server]:
    host = "tests.support.apps.session_host:app"
    running = start_server("hypercorn", host, runtime, logs, ready="/hello.txt")
    yield running
    running.close()


def test_reload_keeps_count_and_process_a_query_change_too(served: Server, page: Page) -> None:
    page.goto(served.url + "/")
    pid = page.locator(".pid").text_content()
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")
    page.reload()
    expect(page.locator(".value")).to_have_text("1")
    expect(page.locator(".pid")).to_have_text(pid or "")
    page.goto(served.url + "/?x=2")  # htag 2: the same App, which reads the new query
    expect(page.locator(".init")).to_have_text("query=[('x', '2')]")
    expect(page.locator(".pid")).to_have_text(pid or "")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("2")


def test_n_gives_a_fresh_app(served: Server, page: Page) -> None:
    page.goto(served.url + "/")
    pid = page.locator(".pid").text_content()
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")
    page.goto(served.url + "/?n")
    expect(page.locator(".value")).to_have_text("0")
    expect(page.locator(".pid")).not_to_have_text(pid or "")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")


def test_the_app_reads_what_a_fastapi_route_wrote_in_the_session(
    fastapi: Server, page: Page
) -> None:
    page.goto(fastapi.url + "/ui/")  # the session starts here: its cookie is the browser's
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=fastapi.url, cookies=cookies) as client:
        assert client.post("/api/session/color", json="teal").status_code == 200
    page.click(".show")
    expect(page.locator(".session")).to_contain_text('"color": "teal"')
    page.click(".write")
    expect(page.locator(".session")).to_contain_text('"from_app": 1')
    with httpx.Client(base_url=fastapi.url, cookies=cookies) as client:
        assert client.get("/api/session").json()["from_app"] == 1
