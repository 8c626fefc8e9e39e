"""Sign in with OpenID Connect in headless Chromium: examples/fastapi/login.py (authlib's
Starlette client) against the local provider of tests/oidc_provider.py (authlib's server),
both real servers on loopback. The App greets the user from the session the login filled;
login rotates the session and logout ends it, each ending the user's process of before."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.servers import Server, log_path, our_processes, user_processes
from tests.support.waiting import eventually, pid_gone

pytestmark = pytest.mark.browser

EXAMPLE = "examples.fastapi.login:app"
PROVIDER = "tests.support.oidc_provider:asgi_app"
COOKIE = "htagweb_session"
STEP_TIMEOUT = 15_000  # ms: a sign-in is several requests between two servers


@dataclass
class Site:
    app: Server
    provider: Server
    runtime: str

    @property
    def ui(self) -> str:
        return self.app.url + "/ui/"


@pytest.fixture(scope="module", params=["uvicorn", "uvicorn-4"])
def site(request: pytest.FixtureRequest, logs: Path) -> Iterator[Site]:
    """The example (1 or 4 workers) and the provider, each told about the other."""
    runtime = tempfile.mkdtemp(prefix="hw-")
    provider = Server(
        "uvicorn",
        PROVIDER,
        runtime,
        log_path(logs, "provider", PROVIDER),
        ("--factory", "--lifespan", "off"),  # a WSGI app behind asgiref: no lifespan
    )
    app = Server(request.param, EXAMPLE, runtime, log_path(logs, request.param, EXAMPLE))
    client = {"OIDC_CLIENT_ID": "htag-site", "OIDC_CLIENT_SECRET": secrets.token_urlsafe(24)}
    # ports are taken when the servers are made: each knows the other's URL before starting
    provider.env.update(client, OIDC_ISSUER=provider.url, OIDC_REDIRECT_URI=app.url + "/auth")
    app.env.update(client, OIDC_METADATA_URL=provider.url + "/.well-known/openid-configuration")
    try:
        provider.start("/.well-known/openid-configuration")
        app.start("/")
        yield Site(app, provider, runtime)
    finally:
        app.close()
        provider.close()
        eventually(lambda: not our_processes(runtime), 10, message="processes left behind")
        shutil.rmtree(runtime, ignore_errors=True)


def shown_pid(page: Page) -> int:
    """The pid of the process that rendered the page (the App shows it)."""
    return int(page.locator(".pid").text_content() or "0")


def session_cookie(page: Page) -> str:
    values = [c["value"] for c in page.context.cookies() if c["name"] == COOKIE]
    assert len(values) == 1, page.context.cookies()
    return values[0]


def open_anonymously(page: Page, site: Site) -> int:
    page.goto(site.ui)
    expect(page.locator(".greeting")).to_have_text("Hello, anonymous visitor")
    pid = shown_pid(page)
    assert pid in {p.pid for p in user_processes(site.runtime)}  # really this user's process
    return pid


def test_sign_in_shows_the_user_and_sign_out_forgets_them(site: Site, page: Page) -> None:
    anonymous_pid = open_anonymously(page, site)
    cookie_before = session_cookie(page)

    page.click(".login")  # /login redirects to the provider's sign-in page
    expect(page.locator("h1")).to_have_text("Test provider")
    assert page.url.startswith(site.provider.url + "/authorize?")
    page.click(".signin-alice")  # back to /auth, which signs in and redirects to /ui/
    greeting = page.locator(".greeting")
    expect(greeting).to_have_text("Hello, Alice Liddell", timeout=STEP_TIMEOUT)
    assert page.url == site.ui
    expect(page.locator(".email")).to_have_text("alice@example.org")  # from userinfo

    alice_pid = shown_pid(page)
    assert alice_pid != anonymous_pid
    eventually(lambda: pid_gone(anonymous_pid), 10, message="the anonymous process outlived login")
    assert session_cookie(page) != cookie_before  # rotated: the old id is not the user's
    stale = httpx.get(site.ui, cookies={COOKIE: cookie_before}, timeout=10)
    assert "anonymous visitor" in stale.text and "Alice" not in stale.text
    page.reload()  # the same process, still signed in
    expect(greeting).to_have_text("Hello, Alice Liddell")
    assert shown_pid(page) == alice_pid

    page.click(".logout")  # POST /logout ends the session, then back to /ui/
    expect(greeting).to_have_text("Hello, anonymous visitor", timeout=STEP_TIMEOUT)
    eventually(lambda: pid_gone(alice_pid), 10, message="the signed-in process outlived logout")
    assert shown_pid(page) not in (alice_pid, anonymous_pid)
    page.reload()
    expect(greeting).to_have_text("Hello, anonymous visitor")


def test_a_denied_sign_in_changes_nothing(site: Site, page: Page) -> None:
    anonymous_pid = open_anonymously(page, site)
    cookie_before = session_cookie(page)
    page.click(".login")
    page.click(".deny")  # the provider sends error=access_denied to /auth
    expect(page.locator(".failure")).to_have_text("Sign-in failed: access_denied")
    page.goto(site.ui)
    expect(page.locator(".greeting")).to_have_text("Hello, anonymous visitor")
    assert shown_pid(page) == anonymous_pid and session_cookie(page) == cookie_before
