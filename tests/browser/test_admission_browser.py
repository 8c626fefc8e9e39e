"""What a person sees of admission control and of the session's safety, in Chromium: a link
from another site asks before replacing their App, the tab whose App was replaced says why,
an HTTP page counts as attached, the App's own login changes the cookie and keeps the App."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from htagweb_asgi.protocol import control
from tests.support.servers import Server, start_server
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(runtime: str, logs: Path) -> Iterator[Server]:
    server = start_server("uvicorn", "tests.support.apps.hosts:admission_defaults", runtime, logs)
    yield server
    server.close()


@pytest.fixture(scope="module")
def sessions_served(runtime: str, logs: Path) -> Iterator[Server]:
    server = start_server("uvicorn", "tests.support.apps.session_host:app", runtime, logs)
    yield server
    server.close()


def test_a_link_from_another_site_asks_before_replacing_the_app(
    served: Server, browser: Browser
) -> None:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    try:
        mine = context.new_page()
        mine.goto(served.url + "/?a=1")
        mine.click(".inc")
        expect(mine.locator(".value")).to_have_text("1")
        other_site = context.new_page()  # localhost is another site than 127.0.0.1
        other_site.goto(served.url.replace("127.0.0.1", "localhost") + "/hello.txt")
        link = f"{served.url}/?evil=1"
        other_site.evaluate(
            "url => { const a = document.createElement('a'); a.href = url; a.id = 'go';"
            " a.textContent = 'a link elsewhere';"
            " document.body.appendChild(a); }",
            link,
        )
        other_site.click("#go")
        expect(other_site.locator("h1")).to_have_text("Open this page here?")
        mine.click(".inc")  # nothing was replaced
        expect(mine.locator(".value")).to_have_text("2")
        other_site.click("text=Open the link")  # the user's choice: a same-origin navigation
        expect(other_site.locator(".init")).to_contain_text("evil")
        box = mine.locator("#htagweb-error")  # the replaced tab says why, not "crashed"
        expect(box).to_contain_text("opened with other arguments in another page")
        expect(box.locator("a")).to_have_text("Reload the page")
    finally:
        context.close()


def test_an_http_page_counts_as_attached(served: Server, runtime: str, page: Page) -> None:
    page.goto(served.url + "/http")
    pid = int(page.locator(".pid").inner_text().removeprefix("pid="))

    def attached() -> bool:
        listed = [p for t in control.listings(runtime, memory=False) for p in t["processes"]]
        return any(p["pid"] == pid and p["attached"] for p in listed)

    eventually(attached, 10, message="the HTTP page never announced itself")


def test_the_apps_own_login_changes_the_cookie_and_keeps_the_app(
    sessions_served: Server, page: Page
) -> None:
    page.goto(sessions_served.url + "/ui/")
    pid = page.locator(".pid").inner_text()
    before = {c["name"]: c["value"] for c in page.context.cookies()}["htagweb_session"]
    page.click(".login")
    expect(page.locator(".session")).to_contain_text("app-user")

    def new_cookie() -> bool:
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        return cookies.get("htagweb_session") not in (None, before)

    eventually(new_cookie, 10, message="the page did not get the rotated session's cookie")
    page.reload()  # the new cookie reaches the same App, with its state
    expect(page.locator(".pid")).to_have_text(pid)
    assert json.loads(page.locator(".session").inner_text())["user"] == {"name": "app-user"}
