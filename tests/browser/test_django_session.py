"""The Django session in the htag App, in Chromium (examples/django, plain and Channels): a
user logs in through Django's login view and the App at /ui/ greets them; what the App
writes in the session, a Django page shows; they log out from that page in another tab, and
the App's process of that session ends while its open page reloads by itself, anonymous."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.servers import ROOT, Server, log_path
from tests.support.waiting import eventually, pid_gone

pytestmark = pytest.mark.browser

CELLS = {
    "django-uvicorn": ("uvicorn", "examples.django.asgi:application"),
    "channels-daphne": ("daphne", "examples.django.asgi_channels:application"),
}
PASSWORD = "wonderland-7"
CREATE_DATABASE = f"""
import django
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
call_command("migrate", verbosity=0)
User.objects.create_user("alice", password={PASSWORD!r}, first_name="Alice", last_name="Liddell")
"""
EXPECT_TIMEOUT = 10_000  # ms


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example's tables and one user, in a fresh SQLite file; the servers' environment."""
    env = {
        "DJANGO_SETTINGS_MODULE": "examples.django.settings",
        "DJANGO_DB_PATH": str(tmp_path_factory.mktemp("django-db") / "db.sqlite3"),
    }
    run_env = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    subprocess.run([sys.executable, "-c", CREATE_DATABASE], env=run_env, cwd=ROOT, check=True)
    return env


@pytest.fixture(scope="module")
def servers(database: dict[str, str], runtime: str, logs: Path) -> Iterator[dict[str, Server]]:
    """Both cells' servers, started together; a server that does not start fails its test."""
    started = {
        name: Server(kind, app, runtime, log_path(logs, name, app), env=database)
        for name, (kind, app) in CELLS.items()
    }
    for server in started.values():
        server.spawn()
    try:
        for server in started.values():
            with suppress(AssertionError, TimeoutError):  # the test reports it, with the log
                server.wait_ready("/api/time", timeout=60)
        yield started
    finally:
        for server in started.values():  # all at once: stopping takes a moment each
            if server.process is not None and server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in started.values():
            server.close()


def app_pid(page: Page) -> int:
    return int(page.locator(".pid").text_content() or 0)


@pytest.mark.parametrize("cell", CELLS)
def test_the_app_shows_the_django_user_until_logout(
    cell: str, servers: dict[str, Server], browser: Browser
) -> None:
    server = servers[cell]
    context = browser.new_context()
    context.set_default_timeout(10_000)
    try:
        assert server.process is not None and server.process.poll() is None, server.log()
        app = context.new_page()
        app.goto(server.url + "/ui/")
        expect(app.locator(".user")).to_have_text("anonymous")
        anonymous = app_pid(app)

        app.goto(server.url + "/accounts/login/?next=/ui/")
        app.fill("input[name=username]", "alice")
        app.fill("input[name=password]", PASSWORD)
        app.click("button.login")
        expect(app.locator(".user")).to_have_text("Alice Liddell", timeout=EXPECT_TIMEOUT)
        assert app.url == server.url + "/ui/"
        alice = app_pid(app)
        assert alice != anonymous
        eventually(lambda: pid_gone(anonymous), 5, message="the anonymous process outlived login")

        app.click(".increment")  # the App writes the count into the Django session
        expect(app.locator(".count")).to_have_text("1")

        home = context.new_page()  # the App's page stays open meanwhile
        home.goto(server.url + "/")
        expect(home.locator(".user")).to_have_text("alice")
        expect(home.locator(".clicks")).to_have_text("1")
        home.click("button.logout")
        expect(home.locator("a.login")).to_be_visible()
        eventually(lambda: pid_gone(alice), 5, message="the logged-in process outlived logout")
        expect(app.locator(".user")).to_have_text("anonymous", timeout=EXPECT_TIMEOUT)
        assert app_pid(app) not in (alice, anonymous)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- {server.kind} log ---\n{server.log()[-6000:]}") from exc
    finally:
        context.close()
