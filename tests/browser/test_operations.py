"""Operations as a person sees them, in headless Chromium: an App past its memory limit says
so (and the other users go on); a server SIGTERMed and started again within 5 s: the open
page keeps its count and its process, without a reload."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.servers import (
    Server,
    end_templates,
    our_processes,
    start_server,
    waiting_for_server,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser

METERED = "tests.support.apps.hosts:metered"


def test_an_app_past_its_memory_limit_tells_its_user_and_spares_the_others(
    browser: Browser, page: Page, runtime: str, logs: Path
) -> None:
    server = start_server("uvicorn", METERED, runtime, logs)
    other = browser.new_context().new_page()
    try:
        page.goto(server.url + "/hog")
        other.goto(server.url + "/hog")
        page.click(".inc")
        expect(page.locator(".value")).to_have_text("1")
        page.click(".hog")  # 2 GiB under memory_limit="256M"
        error = page.locator("#htagweb-error")
        expect(error).to_contain_text("This session reached its memory limit.", timeout=20_000)
        expect(error.locator("a")).to_have_text("Reload the page")
        other.click(".inc")  # another user, same App: untouched
        expect(other.locator(".value")).to_have_text("1")
        error.locator("a").click()  # the reload link: a fresh App
        expect(page.locator(".value")).to_have_text("0")
        page.click(".inc")
        expect(page.locator(".value")).to_have_text("1")
    finally:
        other.context.close()
        server.close()


def test_a_restart_within_5_s_keeps_the_open_page_its_count_and_process(
    page: Page, logs: Path
) -> None:
    runtime = tempfile.mkdtemp(prefix="hw-")
    env = {"HTAGWEB_RESTART_GRACE": "30"}
    app = "tests.support.apps.hosts:main"
    server = start_server("uvicorn", app, runtime, logs, env=env)
    try:
        page.goto(server.url + "/")
        pid = page.locator(".pid").text_content()
        for n in ("1", "2"):
            page.click(".inc")
            expect(page.locator(".value")).to_have_text(n)
        page.evaluate("window.notReloaded = true")
        server.stop(signal.SIGTERM)
        stopped = time.monotonic()
        expect(page.locator("body")).to_have_class("htagoff")  # the page knows it is offline
        # nothing listens on the address for a while, as in a real restart
        eventually(lambda: waiting_for_server(runtime), 5, message="the server is not gone")
        restarted = Server("uvicorn", app, runtime, server.log_path, env=env)
        restarted.sock.close()
        restarted.sock, restarted.port = server.sock, server.port
        server = restarted.start()
        assert time.monotonic() - stopped < 5.0 + 5.0  # 5 s, and room for a loaded machine
        expect(page.locator("body")).not_to_have_class("htagoff", timeout=15_000)
        page.click(".inc")
        expect(page.locator(".value")).to_have_text("3")  # the state kept
        assert page.locator(".pid").text_content() == pid  # the same process
        assert page.evaluate("window.notReloaded") is True  # and no reload
    finally:
        server.close()
        end_templates(runtime)
        eventually(lambda: not our_processes(runtime), 10, message="processes left behind")
        shutil.rmtree(runtime, ignore_errors=True)
